"""Which backends can run an export on this machine, how fast each is, and how far each is from Paddle fp32."""

from __future__ import annotations

import importlib.util
import os
import statistics
import time

import numpy as np

from paddle_attn.cpu import bf16_supported
from paddle_attn.inference.int8 import int8_path
from paddle_attn.inference.onnx_conversion import ONNX_FILE
from paddle_attn.inference.predict import backend_runner


def runnable_backends(export_dir):
    """The (backend, precision) pairs that can run the export in `export_dir` here, Paddle fp32 first: the ONNX
    backends need model.onnx and their package, bf16 a CPU with native bf16, OpenVINO int8 model_int8.onnx."""
    onnx_file = os.path.join(export_dir, ONNX_FILE)
    has_onnx = os.path.isfile(onnx_file)
    installed = {name for name in ("onnxruntime", "openvino") if has_onnx and importlib.util.find_spec(name)}
    pairs = [("paddle", "fp32")] + [(name, "fp32") for name in ("onnxruntime", "openvino") if name in installed]
    if bf16_supported():  # onnxruntime has no bf16 path on the CPU (see onnxruntime_backend)
        pairs += [(name, "bf16") for name in ("paddle", "openvino") if name == "paddle" or name in installed]
    if "openvino" in installed and os.path.isfile(int8_path(onnx_file)):
        pairs.append(("openvino", "int8"))
    return pairs


def time_backends(export_dir, images, repeats=5, pairs=None):
    """One row per pair of `runnable_backends` (or `pairs`), fastest first: backend, precision, images_per_s (the
    median of `repeats` timed calls on `images`, after one warm-up call that plans and allocates) and difference
    (max |logits - Paddle fp32's| / max |Paddle fp32's|)."""
    images = np.ascontiguousarray(images, dtype="float32")
    reference = backend_runner(export_dir, "paddle")(images)
    rows = []
    for backend, precision in pairs or runnable_backends(export_dir):
        runner = backend_runner(export_dir, backend, precision=precision)
        logits = runner(images)
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            runner(images)
            seconds.append(time.perf_counter() - start)
        rows.append(
            {
                "backend": backend,
                "precision": precision,
                "images_per_s": len(images) / statistics.median(seconds),
                "difference": float(np.abs(logits - reference).max() / np.abs(reference).max()),
            }
        )
    return sorted(rows, key=lambda row: -row["images_per_s"])


def speed_table(rows):
    """`time_backends`' rows as a Markdown table, fastest first."""
    lines = ["| backend | precision | images/s | max \\|Δ logits\\| / max \\|fp32\\| |", "| --- | --- | ---: | ---: |"]
    for row in sorted(rows, key=lambda row: -row["images_per_s"]):
        lines.append(f"| {row['backend']} | {row['precision']} | {row['images_per_s']:.1f} | {row['difference']:.1e} |")
    return "\n".join(lines)
