"""Post-training int8 quantization of an exported ONNX file, calibrated on images, for OpenVINO's precision="int8".

Recipe (the only one of those tried that kept >= 99.5 % top-1 agreement with fp32 on the quick start's test
split, see docs/deploy.md): ONNX Runtime's static quantizer, QDQ format, int8 weights per output channel,
uint8 activations with ranges from the 99.999th percentile of the calibration activations, convolutions
and matmuls only, the first convolution and the classifier left in fp32. OpenVINO runs the QDQ file on its
int8 kernels; ONNX Runtime's CPU provider runs it no faster than fp32 here, so it is not offered there.
"""

import contextlib
import os
import sys
import tempfile

import numpy as np

from paddle_attn.errors import InferenceError
from paddle_attn.inference.backend_options import import_backend

INT8_SUFFIX = "_int8.onnx"
MIN_CALIBRATION_IMAGES = 16
_CALIBRATION_BATCH = 20


def int8_path(onnx_path):
    """Where `quantize_int8` writes the int8 model of `onnx_path`: model.onnx -> model_int8.onnx."""
    root, _ = os.path.splitext(onnx_path)
    return root + INT8_SUFFIX


def quantize_int8(onnx_path, calibration_images, out_path=None):
    """Write the int8 model of `onnx_path` (default: `int8_path(onnx_path)`) and return its path.

    calibration_images: float32 [N, 3, H, W], preprocessed as for inference (the evaluation pipeline),
    from the training distribution, N >= 16 (300 were used for the measured figures).
    """
    images = np.asarray(calibration_images)
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.float32:
        raise InferenceError(
            f"calibration images must be float32 [N, 3, H, W], got {images.dtype} {list(images.shape)}"
        )
    if len(images) < MIN_CALIBRATION_IMAGES:
        raise InferenceError(f"int8 calibration needs at least {MIN_CALIBRATION_IMAGES} images, got {len(images)}")
    if not os.path.isfile(onnx_path):
        raise InferenceError(f"no ONNX model {onnx_path!r}; write one with tools/export.py --format onnx")
    import_backend("onnxruntime", "onnx")
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self, name):
            starts = range(0, len(images), _CALIBRATION_BATCH)
            self.batches = iter([{name: images[i : i + _CALIBRATION_BATCH]} for i in starts])

        def get_next(self):
            return next(self.batches, None)

    out_path = out_path or int8_path(onnx_path)
    with tempfile.TemporaryDirectory(prefix="int8_") as tmp, contextlib.redirect_stdout(sys.stderr):
        prepared = os.path.join(tmp, "prepared.onnx")
        quant_pre_process(onnx_path, prepared)
        graph = onnx.load(prepared).graph
        convs = [node.name for node in graph.node if node.op_type == "Conv"]  # nodes are in topological order
        classifier = [node.name for node in graph.node if node.op_type in ("MatMul", "Gemm")]
        directory, name = os.path.split(os.path.abspath(out_path))
        staged = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
        try:
            quantize_static(
                prepared,
                staged,
                Batches(graph.input[0].name),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["Conv", "MatMul"],
                nodes_to_exclude=convs[:1] + classifier,
                calibrate_method=CalibrationMethod.Percentile,
            )
            os.replace(staged, out_path)  # the int8 model is complete or absent
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(staged)
    return out_path
