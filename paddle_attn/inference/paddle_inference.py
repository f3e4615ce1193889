"""Paddle Inference on the CPU: a config with oneDNN kernels (bf16 where asked and supported) and a runner for it.

Paddle's dygraph never reaches oneDNN's fused kernels; an exported program through Paddle Inference
does (conv+BatchNorm folded, conv+ReLU fused): resnet50_nam evaluates 2.4x faster than dygraph on
2 AVX2 cores (README, speed table).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile

import numpy as np
import paddle

from paddle_attn.cpu import available_cores, bf16_supported
from paddle_attn.errors import InferenceError
from paddle_attn.inference.write_export import save_program

PRECISIONS = ("fp32", "bf16")


def check_precision(precision, onednn=True):
    """Raise InferenceError unless `precision` is one of PRECISIONS and this CPU (with oneDNN) computes it."""
    if precision not in PRECISIONS:
        raise InferenceError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bf16" and not (onednn and bf16_supported()):
        raise InferenceError(
            "bf16 inference needs oneDNN and a CPU with AVX-512 BF16 or AMX; this CPU has neither: use --precision fp32"
        )


def inference_config(program_file, params_file, threads=None, onednn=True, precision="fp32", cache_capacity=10):
    """A `paddle.inference.Config` for the CPU: oneDNN kernels on `threads` threads (default: every core).

    `precision`: "fp32" (the default: the same numbers on every CPU) or "bf16" (CPUs with AVX-512 BF16
    or AMX only). `cache_capacity` bounds oneDNN's primitive cache per input shape (0: unbounded).
    """
    check_precision(precision, onednn)
    config = paddle.inference.Config(program_file, params_file)
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(int(threads or available_cores()))
    config.disable_glog_info()
    if onednn:
        config.enable_onednn()
        if cache_capacity:
            config.set_onednn_cache_capacity(cache_capacity)
        if precision == "bf16":
            config.enable_onednn_bfloat16()
    else:
        config.disable_onednn()
    return config


class PaddleInferenceRunner:
    """A Paddle Inference predictor with one input and one output: `logits = runner(images)` on numpy NCHW float32.

    Keyword arguments as `inference_config`.
    """

    def __init__(self, program_file, params_file, **kwargs):
        self.predictor = paddle.inference.create_predictor(inference_config(program_file, params_file, **kwargs))
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])
        self._ran = False

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.input.reshape(list(images.shape))
        self.input.copy_from_cpu(images)
        if self._ran:
            self.predictor.run()
        else:
            with _stdout_to_stderr():  # the first run's oneDNN kernel checks print debug lines on stdout
                self.predictor.run()
            self._ran = True
        return self.output.copy_to_cpu()


def runner_for_network(net, image_size, **kwargs):
    """`net` exported to a temporary directory and loaded into a `PaddleInferenceRunner` (kwargs as
    `inference_config`). The export costs a few seconds (resnet50: ~3 s); the runner keeps no link to
    `net`, so build a new one after its weights change. The network keeps its train/eval mode."""
    with tempfile.TemporaryDirectory() as tmp:
        return PaddleInferenceRunner(*save_program(net, os.path.join(tmp, "inference"), image_size), **kwargs)


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what C++ code writes to file descriptor 1 to descriptor 2 meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers what it writes to a pipe
        os.dup2(saved, 1)
        os.close(saved)
