"""An ONNX file (see onnx_export.py) run by ONNX Runtime on the CPU: `logits = OnnxRuntimeRunner(path)(images)`."""

import numpy as np

from paddle_attn.inference.backend_options import BackendUnavailable, check_options, import_backend

PRECISIONS = ("fp32", "bf16")
# session settings per mode; `settings=` overrides them (benchmarks/backend_settings.py measures the choices)
SETTINGS = {
    "throughput": {"optimization": "all", "execution": "sequential", "inter_op_threads": 1, "spinning": True},
    "latency": {"optimization": "all", "execution": "sequential", "inter_op_threads": 1, "spinning": True},
}


class OnnxRuntimeRunner:
    """ONNX Runtime's CPU provider on `threads` threads (default: every core); float32 NCHW images in, logits out.

    Session settings (measured with benchmarks/backend_settings.py, see its docstring): intra-op threads =
    cores, one inter-op thread (sequential execution), every graph optimization, spinning worker threads.
    `mode` ("throughput" for large batches, "latency" for batch 1) is accepted for the common interface.
    bf16: ONNX Runtime's CPU provider has no bf16 kernels, so it is refused.
    """

    def __init__(self, model_file, threads=None, precision="fp32", mode="throughput", settings=None):
        threads = check_options("onnxruntime", model_file, threads, precision, mode, PRECISIONS)
        if precision == "bf16":
            raise BackendUnavailable("onnxruntime: its CPU provider computes no bf16; use the openvino backend "
                                     "on a CPU with AVX-512 BF16 or AMX")
        ort = import_backend("onnxruntime", "onnx")
        chosen = {**SETTINGS[mode], **(settings or {})}
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = chosen["inter_op_threads"]
        options.execution_mode = getattr(ort.ExecutionMode, f"ORT_{chosen['execution'].upper()}")
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_ENABLE_{chosen['optimization'].upper()}")
        options.log_severity_level = 3  # errors only
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if chosen["spinning"] else "0")
        self.session = ort.InferenceSession(model_file, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.threads, self.precision, self.mode = threads, precision, mode

    def __call__(self, images):
        return self.session.run(None, {self.input_name: np.ascontiguousarray(images, dtype=np.float32)})[0]
