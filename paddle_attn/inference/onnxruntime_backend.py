"""An ONNX file (see onnx_conversion.py) run by ONNX Runtime on the CPU: `logits = OnnxRuntimeRunner(path)(images)`."""

from __future__ import annotations

import numpy as np

from paddle_attn.inference.backend_options import BackendUnavailable, check_options, import_backend

PRECISIONS = ("fp32", "bf16")
# session settings per mode (the same won both, see OnnxRuntimeRunner); `settings=` overrides them
SETTINGS = {
    "throughput": {"optimization": "all", "execution": "sequential", "inter_op_threads": 1, "spinning": True},
    "latency": {"optimization": "all", "execution": "sequential", "inter_op_threads": 1, "spinning": True},
}


class OnnxRuntimeRunner:
    """ONNX Runtime's CPU provider on `threads` threads (default: every core); float32 NCHW images in, logits out.

    `SETTINGS` are the fastest measured here for both modes ("throughput": batch 64, "latency": batch 1):
    intra-op threads = cores, one inter-op thread (sequential), every graph optimization, spinning workers.
    benchmarks/backend_settings.py, AMD EPYC 2 cores AVX2, ONNX Runtime 1.32, best of 8-10 rounds (the
    machine was shared), batch-64 img/s / batch-1 ms:

        setting                 resnet50_nam (CIFAR stem, 32 px)   resnet18_nam (quick start)
        these SETTINGS          55.1 / 18.3                         1925 / 0.81
        no spinning             45.5 / 20.6                         1446 / 1.14
        extended optimizations  44.9 / 20.8                          567 / 2.13
        basic optimizations     43.6 / 20.5                          501 / 1.99
        parallel, 2 inter-op    24.6 / 66.9                          777 / 2.40

    On a busy machine spinning workers lose time to the other processes (median batch-1 latency of
    resnet50_nam 69 ms spinning, 45 ms not): `settings={"spinning": False}` there.
    bf16: ONNX Runtime's CPU provider has no bf16 kernels, so it is refused.
    """

    def __init__(self, model_file, threads=None, precision="fp32", mode="throughput", settings=None):
        threads = check_options("onnxruntime", model_file, threads, precision, mode, PRECISIONS)
        if precision == "bf16":
            raise BackendUnavailable(
                "onnxruntime: its CPU provider computes no bf16; use the openvino backend "
                "on a CPU with AVX-512 BF16 or AMX"
            )
        ort = import_backend("onnxruntime", "onnx")
        chosen = {**SETTINGS[mode], **(settings or {})}
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = chosen["inter_op_threads"]
        options.execution_mode = getattr(ort.ExecutionMode, f"ORT_{chosen['execution'].upper()}")
        optimization = f"ORT_ENABLE_{chosen['optimization'].upper()}"
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, optimization)
        options.log_severity_level = 3  # errors only
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if chosen["spinning"] else "0")
        self.session = ort.InferenceSession(model_file, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.threads, self.precision, self.mode = threads, precision, mode

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(images, dtype=np.float32)})[0]
