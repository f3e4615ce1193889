"""An ONNX file (see onnx_conversion.py) run by OpenVINO on the CPU: `logits = OpenVINORunner(path)(images)`."""

from __future__ import annotations

import os

import numpy as np

from paddle_attn.inference.backend_options import BackendUnavailable, check_options, import_backend
from paddle_attn.inference.int8 import int8_path

PRECISIONS = ("fp32", "bf16", "int8")
_PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}  # int8: the quantized layers, the rest in fp32
# OpenVINO CPU properties per mode (the same won both, see OpenVINORunner); `settings=` overrides them
SETTINGS = {
    "throughput": {"PERFORMANCE_HINT": "LATENCY"},
    "latency": {"PERFORMANCE_HINT": "LATENCY"},
}


def bf16_supported(core=None):
    """True where OpenVINO's CPU plugin computes bf16 natively (AVX-512 BF16 or AMX)."""
    ov = import_backend("openvino", "openvino")
    return "BF16" in (core or ov.Core()).get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVINORunner:
    """OpenVINO's CPU plugin on `threads` threads (default: every core); float32 NCHW images in, logits out.

    `SETTINGS` are the fastest measured here for both modes ("throughput": batch 64, "latency": batch 1):
    the LATENCY hint, one stream on every core. With one request at a time, more streams split the cores
    between requests that never run together. benchmarks/backend_settings.py, AMD EPYC 2 cores AVX2,
    OpenVINO 2026.4, best of 8-10 rounds (the machine was shared), batch-64 img/s / batch-1 ms:

        setting                        resnet50_nam (CIFAR stem, 32 px)   resnet18_nam (quick start)
        LATENCY hint (1 stream)         34.7 / 40.8                         1544 / 0.79
        THROUGHPUT hint, 1 stream       35.6 / 22.8                         2207 / 0.81
        THROUGHPUT hint (2 streams)     28.2 / 47.9                         1256 / 1.50
        LATENCY hint, 2 streams         28.6 / 33.2                         1205 / 1.25

    The THROUGHPUT hint with one stream compiles to the same properties as the LATENCY hint (every
    property read back equal but the hint), so its lead is the machine's noise.

    The model is compiled for each input shape it meets (on first use, ~1 s for resnet50_nam, then kept):
    OpenVINO's CPU plugin plans memory and picks kernels once for a static shape, where the exported
    file's dynamic batch makes it do so on every call. Measured here on a quiet machine (same settings,
    resnet50_nam 32 px, batch-64 img/s, best of 4 rounds): fp32 47.9 dynamic / 63.5 static, int8 100.0 /
    107.2; batch-1 median ms over 5 rounds: fp32 21-25 / 20-23, int8 13-17 / 10-14. precision "bf16" sets
    INFERENCE_PRECISION_HINT where `bf16_supported()`, and is refused elsewhere; "int8" runs the model that
    `int8.quantize_int8` calibrated beside `model_file` (model_int8.onnx).
    """

    def __init__(self, model_file, threads=None, precision="fp32", mode="throughput", settings=None):
        threads = check_options("openvino", model_file, threads, precision, mode, PRECISIONS)
        ov = import_backend("openvino", "openvino")
        core = ov.Core()
        if precision == "bf16" and not bf16_supported(core):
            raise BackendUnavailable(
                "openvino: bf16 needs a CPU with AVX-512 BF16 or AMX; this one computes "
                f"{', '.join(core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))}"
            )
        if precision == "int8":
            model_file = int8_path(model_file)
            if not os.path.isfile(model_file):
                raise BackendUnavailable(
                    f"openvino: no int8 model {model_file!r}; calibrate one first with "
                    "paddle_attn.inference.int8.quantize_int8(onnx file, calibration images)"
                )
        self.config = {
            **SETTINGS[mode],
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": _PRECISION_HINTS[precision],
            **(settings or {}),
        }
        self.core, self.model = core, core.read_model(model_file)
        self.requests = {}  # input shape -> infer request of the model compiled for that shape
        self.threads, self.precision, self.mode = threads, precision, mode

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.float32)
        # the request reuses its output buffer: copy before the next call overwrites it
        return self.request_for(images.shape).infer({0: images})[0].copy()

    def request_for(self, shape):
        """The infer request of the model compiled for input `shape`, compiling it on first use."""
        shape = tuple(shape)
        if shape not in self.requests:
            model = self.model.clone()
            model.reshape(list(shape))
            self.requests[shape] = self.core.compile_model(model, "CPU", self.config).create_infer_request()
        return self.requests[shape]
