"""Reading what `paddle.save` writes (.pdparams, .pdopt) without running code from the file.

A pickle names the functions it calls; this unpickler resolves only the few that rebuild NumPy arrays,
and refuses any other before calling it. So a stranger's weights file can hold arrays, numbers, strings,
None and containers of those (optimizer and LR-scheduler state included), never an object that acts.
"""

import _compat_pickle
import collections
import pickle

import numpy as np

from paddle_attn.errors import CheckpointError

TRUST_HINT = (
    "if you trust this file, pass trusted=True / --trusted (-o run.trusted=true to train from it): "
    "that runs any code it holds"
)
NAME_TABLE, BIG_PARAMS = "StructuredToParameterName@@", "UnpackBigParamInfor@@"  # keys paddle.save adds
PLAIN = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic)


class Refused(pickle.UnpicklingError):
    """A global outside the allow-list, named `module.name`."""


def _array(_subtype, shape, dtype_code):
    # what ndarray.__reduce__ names; always a plain ndarray, whatever subclass the file asks for
    return np.ndarray.__new__(np.ndarray, shape, dtype_code)


def _dtype(code, align=False, copy=False):
    # a type code string ("f4", "i8", "O"...), never an object numpy would ask for a dtype
    if not isinstance(code, str) or np.dtype(code).hasobject:
        raise Refused(f"numpy.dtype({code!r})")
    return np.dtype(code, align, copy)


def _latin1(text, encoding="latin1"):
    # protocol 2 pickles bytes as _codecs.encode(text, "latin1"): that codec only
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise Refused(f"_codecs.encode with {encoding!r}")
    return text.encode("latin1")


def _tensor_data(name_and_array):
    # paddle.save writes a tensor nested below the top level as tuple((name, array)): its array
    name, array = name_and_array
    if not isinstance(name, str) or not isinstance(array, np.ndarray):
        raise Refused("builtins.tuple of anything but (name, array)")
    return array


def _scalar(dtype, data):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise Refused("numpy.scalar of an object")
    return np.frombuffer(data, dtype, count=1)[0]


ALLOWED = {
    **{(module, "_reconstruct"): _array for module in ("numpy._core.multiarray", "numpy.core.multiarray")},
    **{(module, "scalar"): _scalar for module in ("numpy._core.multiarray", "numpy.core.multiarray")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _latin1,
    ("builtins", "tuple"): _tensor_data,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        # protocol 2 names Python 2's modules (__builtin__.tuple): mapped as pickle's own find_class does
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise Refused(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise Refused(f"persistent id {pid!r}")


def load(path, trusted=False):
    """The object `paddle.save` wrote to `path`, with NumPy arrays for tensors (as paddle.load with return_numpy=True).

    Raises CheckpointError naming the file and the refused global before anything outside the allow-list is
    called; `trusted` unpickles anything (old files holding other objects), which runs whatever code the file holds.
    """
    try:
        with open(path, "rb") as f:
            loaded = (pickle.Unpickler if trusted else AllowListUnpickler)(f, encoding="latin1").load()
        if not trusted:
            _check_plain(loaded, path)
        return _join_big_params(loaded)
    except CheckpointError:
        raise
    except Refused as err:
        raise CheckpointError(
            f"refused to load {err} from {path!r}: weights files hold only arrays; {TRUST_HINT}"
        ) from None
    except OSError as err:
        raise CheckpointError(f"cannot read {path!r}: {err.strerror or err}") from err
    except Exception as err:  # unpickling raises many types on truncated or foreign files
        raise CheckpointError(f"weights file {path!r} is truncated or corrupt ({type(err).__name__}: {err})") from err


def _check_plain(value, path):
    """Refuse a result holding anything but arrays, numbers, strings, None and containers of those."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, path)
            _check_plain(item, path)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, path)
    elif not isinstance(value, PLAIN) or (isinstance(value, np.ndarray) and value.dtype.hasobject):
        raise CheckpointError(
            f"refused to load a {type(value).__name__} from {path!r}: weights files hold only arrays; {TRUST_HINT}"
        )


def _join_big_params(loaded):
    """What paddle.load does to a dict: drop the name table, join arrays split for pickle protocols 2 and 3."""
    if not isinstance(loaded, dict):
        return loaded
    loaded = dict(loaded)
    loaded.pop(NAME_TABLE, None)
    for key, info in (loaded.pop(BIG_PARAMS, None) or {}).items():
        loaded[key] = np.concatenate([loaded.pop(part) for part in info["slices"]]).reshape(info["OriginShape"])
    return loaded
