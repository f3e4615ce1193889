"""What every ONNX backend checks before it builds a session: the model file, the thread count, precision and mode."""

import os

from paddle_attn.cpu import available_cores
from paddle_attn.errors import InferenceError

MODES = ("throughput", "latency")


class BackendUnavailable(InferenceError):
    """A backend or precision that cannot run here: its package is missing, or the CPU lacks the feature."""


def check_options(backend, model_file, threads, precision, mode, precisions):
    """The thread count to use (default: every core this process may run on), after checking every argument."""
    if not os.path.isfile(model_file):
        raise InferenceError(f"{backend}: no ONNX model {model_file!r}; write one with tools/export.py --format onnx")
    if mode not in MODES:
        raise InferenceError(f"{backend}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if precision not in precisions:
        raise InferenceError(f"{backend}: precision must be one of {', '.join(precisions)}, got {precision!r}")
    threads = available_cores() if threads is None else threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InferenceError(f"{backend}: threads must be a positive integer, got {threads!r}")
    return threads


def import_backend(module, extra):
    """The backend's package, or BackendUnavailable naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise BackendUnavailable(f'the {module} backend needs {module}: pip install -e ".[{extra}]" ({err})') from None
