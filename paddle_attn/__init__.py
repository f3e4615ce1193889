"""paddle_attn: CNN attention blocks (SE, ECA, CBAM, NAM, PSA) and the ResNets built on them.

Importing it changes nothing outside the package: CPU settings are applied by the entry points
(`tools/*.py`) or by calling `paddle_attn.cpu.apply_cpu_settings()` yourself.
"""

import warnings

try:
    with (
        warnings.catch_warnings()
    ):  # Paddle warns on import that it has no compiler cache for C++ ops, never built here
        warnings.filterwarnings("ignore", message="No ccache found")
        import paddle  # noqa: F401
except ImportError as err:  # one clear sentence instead of a traceback deep inside a layer
    raise ImportError(
        "paddle_attn needs PaddlePaddle 3.x: run `pip install paddlepaddle` "
        '(or `pip install -e ".[cpu]"`), or install `paddlepaddle-gpu` by Paddle\'s guide on a GPU machine.'
    ) from err

from paddle_attn.cpu import apply_cpu_settings, set_cpu_threads
from paddle_attn.models import list_models, register_model
from paddle_attn.weights import create_model, create_model_from_spec, load_model

__version__ = "0.1.0"
__all__ = [
    "apply_cpu_settings",
    "create_model",
    "create_model_from_spec",
    "list_models",
    "load_model",
    "register_model",
    "set_cpu_threads",
    "__version__",
]
