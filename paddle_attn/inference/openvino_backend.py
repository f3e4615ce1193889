"""An ONNX file (see onnx_export.py) run by OpenVINO on the CPU: `logits = OpenVINORunner(path)(images)`."""

import numpy as np

from paddle_attn.inference.backend_options import BackendUnavailable, check_options, import_backend

PRECISIONS = ("fp32", "bf16")
_PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}
# OpenVINO CPU properties per mode; `settings=` overrides them (benchmarks/backend_settings.py measures the choices)
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

    mode "latency" or "throughput" picks OpenVINO's performance hint and streams (measured with
    benchmarks/backend_settings.py, see its docstring). precision "bf16" sets INFERENCE_PRECISION_HINT
    where `bf16_supported()`, and is refused elsewhere.
    """

    def __init__(self, model_file, threads=None, precision="fp32", mode="throughput", settings=None):
        threads = check_options("openvino", model_file, threads, precision, mode, PRECISIONS)
        ov = import_backend("openvino", "openvino")
        core = ov.Core()
        if precision == "bf16" and not bf16_supported(core):
            raise BackendUnavailable("openvino: bf16 needs a CPU with AVX-512 BF16 or AMX; this one computes "
                                     f"{', '.join(core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))}")
        config = {**SETTINGS[mode], "INFERENCE_NUM_THREADS": threads,
                  "INFERENCE_PRECISION_HINT": _PRECISION_HINTS[precision], **(settings or {})}
        self.compiled = core.compile_model(core.read_model(model_file), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.threads, self.precision, self.mode = threads, precision, mode

    def __call__(self, images):
        # the request reuses its output buffer: copy before the next call overwrites it
        return self.request.infer({0: np.ascontiguousarray(images, dtype=np.float32)})[0].copy()
