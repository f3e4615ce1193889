"""paddle_attn: CNN attention blocks (SE, ECA, CBAM, NAM, PSA) and the ResNets built on them."""

import warnings

# Paddle 3.3 warns on import that it has no compiler cache for custom C++ ops, which this package never builds
warnings.filterwarnings("ignore", message="No ccache found")

try:
    import paddle  # noqa: F401
except ImportError as err:  # one clear sentence instead of a traceback deep inside a layer
    raise ImportError(
        "paddle_attn needs PaddlePaddle 3.x: run `pip install paddlepaddle` "
        "(or `pip install -e \".[cpu]\"`), or install `paddlepaddle-gpu` by Paddle's guide on a GPU machine."
    ) from err

from paddle_attn.acceleration import enable_fast_blas, speed_up_cpu
from paddle_attn.models import create_model, list_models, register_model
from paddle_attn.runtime import set_cpu_threads

# MKL reads its CPU type once, at its first call: on AMD CPUs point it at its AVX2 path before any conv runs
enable_fast_blas()

__version__ = "0.1.0"
__all__ = ["create_model", "list_models", "register_model", "set_cpu_threads", "speed_up_cpu", "__version__"]
