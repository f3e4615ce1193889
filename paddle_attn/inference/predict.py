"""Top-k classes of image files, through an export or a checkpoint, on one of three backends: Paddle Inference
(oneDNN), ONNX Runtime or OpenVINO (both on the export's `model.onnx`).

Images get the evaluation pipeline, `build_transform(preset, train=False, image_size)`, after
conversion to RGB. Precision is fp32 unless bf16 (or OpenVINO's int8) is asked for, so every CPU gives
the same numbers.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import paddle

from paddle_attn.data.images import read_through
from paddle_attn.data.preprocessing import inference_info
from paddle_attn.data.transforms import build_transform
from paddle_attn.errors import DataError, InferenceError
from paddle_attn.inference.onnx_conversion import ONNX_FILE, export_onnx
from paddle_attn.inference.onnxruntime_backend import OnnxRuntimeRunner
from paddle_attn.inference.openvino_backend import OpenVINORunner
from paddle_attn.inference.paddle_inference import PaddleInferenceRunner, runner_for_network
from paddle_attn.inference.read_export import export_files, read_info
from paddle_attn.inference.write_export import write_export
from paddle_attn.weights import load_model

BACKENDS = ("paddle", "onnxruntime", "openvino")


def backend_runner(model_dir, backend="paddle", threads=None, precision="fp32"):
    """`logits = runner(images)` for the export in `model_dir` on `backend` (see the backends' modules for
    their settings and precisions)."""
    if backend == "paddle":
        return PaddleInferenceRunner(*export_files(model_dir), threads=threads, precision=precision)
    onnx_file = os.path.join(model_dir, ONNX_FILE)
    if not os.path.isfile(onnx_file):
        raise InferenceError(
            f"{model_dir!r} has no {ONNX_FILE}: the {backend} backend runs the ONNX export "
            f"(tools/export.py --format onnx)"
        )
    if backend == "onnxruntime":
        return OnnxRuntimeRunner(onnx_file, threads=threads, precision=precision)
    if backend == "openvino":
        return OpenVINORunner(onnx_file, threads=threads, precision=precision)
    raise InferenceError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


class ExportedModel:
    """An export directory run on `backend` (Paddle Inference with oneDNN by default)."""

    def __init__(self, model_dir, threads=None, precision="fp32", backend="paddle"):
        self.info = read_info(model_dir)
        self.runner = backend_runner(model_dir, backend, threads, precision)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.runner(images)


class CheckpointModel:
    """A checkpoint's network, eval mode, for inputs of `image_size` (default: the training size): exported
    on the fly to `backend` (a few seconds, then ~2.4x faster than dygraph), or in dygraph if `dygraph`."""

    def __init__(
        self,
        checkpoint,
        image_size=None,
        threads=None,
        precision="fp32",
        dygraph=False,
        backend="paddle",
        trusted=False,
    ):
        self.net, state = load_model(checkpoint, trusted)
        self.info = inference_info(state, image_size)
        self._export_dir = None
        if dygraph and (precision != "fp32" or backend != "paddle"):
            raise InferenceError(f"--dygraph runs Paddle's network in fp32 only, not {backend} {precision}")
        if dygraph:
            self.runner = None
        elif backend == "paddle":
            self.runner = runner_for_network(self.net, self.info["image_size"], threads=threads, precision=precision)
        else:  # the ONNX backends read an export's model.onnx: write one for the session's life
            self._export_dir = tempfile.TemporaryDirectory()
            write_export(self.net, self.info, self._export_dir.name)  # the network already loaded, not read again
            export_onnx(self._export_dir.name)
            self.runner = backend_runner(self._export_dir.name, backend, threads, precision)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if self.runner is not None:
            return self.runner(images)
        with paddle.no_grad():
            return self.net(paddle.to_tensor(images)).numpy()


def open_model(
    model_dir: str | None = None,
    checkpoint: str | None = None,
    image_size: int | None = None,
    threads: int | None = None,
    precision: str = "fp32",
    dygraph: bool = False,
    backend: str = "paddle",
    trusted: bool = False,
) -> ExportedModel | CheckpointModel:
    """An `ExportedModel` (`model_dir`) or a `CheckpointModel` (`checkpoint`); logits = model(N x 3 x H x W).

    precision: "fp32" (default), "bf16" (CPUs with AVX-512 BF16 or AMX; Paddle Inference and OpenVINO) or
    "int8" (OpenVINO, after `int8.quantize_int8`); backend: one of BACKENDS; trusted: see `checkpoint.load_params`.
    """
    if (model_dir is None) == (checkpoint is None):
        raise InferenceError("give an exported model directory or a checkpoint, not both or neither")
    if backend not in BACKENDS:
        raise InferenceError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if checkpoint is not None:
        return CheckpointModel(checkpoint, image_size, threads, precision, dygraph, backend, trusted)
    if dygraph:
        raise InferenceError("an exported model runs through Paddle Inference only; --dygraph needs a checkpoint")
    exported = read_info(model_dir)["image_size"]
    if image_size is not None and image_size != exported:
        raise InferenceError(
            f"{model_dir!r} was exported for {exported}x{exported} inputs, not {image_size}x{image_size}: "
            f"export it again with tools/export.py --input-size {image_size}, or predict from the checkpoint"
        )
    return ExportedModel(model_dir, threads, precision, backend)


def predict(model, paths, top_k=5, batch_size=16, class_names=None, progress=None):
    """`(predictions, errors)`: for each readable image {"image", "top_k": [{"class", "index",
    "probability"}]}, highest first; for each unreadable one the reason, naming the file.
    `progress(done, total)` is called after each batch."""
    info = model.info
    num_classes = info["model"]["num_classes"]
    names = class_names or info.get("class_names") or [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise DataError(f"{len(names)} class name(s) given for a model of {num_classes} classes")
    predictions, errors = [], []
    for start in range(0, len(paths), batch_size):
        images, batch, unreadable = preprocess(info, paths[start : start + batch_size])
        errors += unreadable
        if batch:
            probabilities = softmax(model(images))
            for path, row in zip(batch, probabilities, strict=True):
                best = np.argsort(-row)[:top_k]
                predictions.append(
                    {
                        "image": path,
                        "top_k": [{"class": names[i], "index": int(i), "probability": float(row[i])} for i in best],
                    }
                )
        if progress:
            progress(min(start + batch_size, len(paths)), len(paths))
    return predictions, errors


def preprocess(info, paths):
    """`(images N x 3 x H x W float32, the paths read, the reasons of those that could not be)`, through the
    evaluation pipeline `info` (a model_info) names."""
    transform = build_transform(info["transform"], False, info["image_size"], info.get("mean"), info.get("std"))
    images, read, errors = [], [], []
    for path in paths:
        try:
            images.append(read_through(transform, path))
            read.append(path)
        except DataError as err:
            errors.append(str(err))
    return (
        np.stack(images) if images else np.zeros((0, 3, info["image_size"], info["image_size"]), "float32"),
        read,
        errors,
    )


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
