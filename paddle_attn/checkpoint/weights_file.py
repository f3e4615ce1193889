"""One file of weights, `{name: array}`: safetensors (tensors and a JSON header, nothing to run) or Paddle's
pickle (`paddle.save`), read by a restricted interpreter (`safe_pickle`). The suffix picks the format."""

import numpy as np
import paddle
import safetensors.numpy
from safetensors import safe_open

from paddle_attn.checkpoint.safe_pickle import load as safe_unpickle
from paddle_attn.errors import CheckpointError

SAFETENSORS = ".safetensors"
# the safetensors dtypes Paddle tensors take from NumPy; BF16 loads only where another package has taught NumPy
# bfloat16 (ml_dtypes), and paddle.to_tensor refuses unsigned 16-64-bit and complex arrays
SAFETENSORS_DTYPES = ("F64", "F32", "F16", "I64", "I32", "I16", "I8", "U8", "BOOL")


def read_weights_file(path, trusted=False):
    """The dict of arrays saved at `path`; CheckpointError naming the file if it is not one (see `safe_pickle.load`)."""
    if str(path).endswith(SAFETENSORS):
        try:
            with safe_open(path, framework="np") as tensors:
                dtypes = {name: tensors.get_slice(name).get_dtype() for name in tensors.keys()}
            other = {name: dtype for name, dtype in dtypes.items() if dtype not in SAFETENSORS_DTYPES}
            if not other:
                return safetensors.numpy.load_file(path)
        except Exception as err:  # safetensors raises its own and OS errors on foreign or truncated files
            raise CheckpointError(
                f"weights file {str(path)!r} is truncated or corrupt ({type(err).__name__}: {err})"
            ) from err
        name, dtype = sorted(other.items())[0]
        raise CheckpointError(
            f"weights file {str(path)!r} holds {name!r} as {dtype}; paddle_attn reads {', '.join(SAFETENSORS_DTYPES)}"
            " (save it as F32)"
        )
    loaded = safe_unpickle(path, trusted)
    if not isinstance(loaded, dict):  # a pickle of something else loads without complaint
        raise CheckpointError(f"weights file {str(path)!r} holds a {type(loaded).__name__}, not a dict of tensors")
    return loaded


def write_weights_file(params, path):
    """Save the tensors (or arrays) of `params` to `path`: safetensors if it ends in .safetensors, else `paddle.save`."""
    if str(path).endswith(SAFETENSORS):
        safetensors.numpy.save_file(
            {key: np.ascontiguousarray(np.asarray(value)) for key, value in params.items()}, path
        )
    else:
        paddle.save(params, path)


def as_tensors(params):
    """`params` with every array a Paddle tensor, nested dicts included, as `paddle.load` returns them."""
    if isinstance(params, dict):
        return {key: as_tensors(value) for key, value in params.items()}
    return paddle.to_tensor(params) if isinstance(params, np.ndarray) else params
