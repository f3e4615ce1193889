"""Tensor values: PyTorch or numpy in, float32 numpy out, reshaped where Paddle lays a weight out differently."""

import numpy as np

from paddle_attn.convert.errors import ConversionError


def as_float_array(value, key):
    """`value` (a torch tensor, numpy array or nested list) as a float32 numpy array; `key` names it in errors."""
    if hasattr(value, "detach"):  # a torch tensor, recognised without importing torch
        value = value.detach().cpu()
        value = (value.float() if value.is_floating_point() else value).numpy()
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ConversionError(f"tensor {key!r} is not numeric ({type(value).__name__}): {err}") from err


def transpose_linear(weight):
    """torch.nn.Linear stores [out, in]; paddle.nn.Linear stores [in, out]."""
    return weight.T if weight.ndim == 2 else weight


def linear_to_conv1x1(weight):
    """A Linear weight [out, in] as the weight [out, in, 1, 1] of the 1x1 conv that computes the same map."""
    return weight.reshape(*weight.shape, 1, 1) if weight.ndim == 2 else weight
