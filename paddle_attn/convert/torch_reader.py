"""Reading a PyTorch `.pth` file into a plain {name: tensor} state dict. The only place torch is imported."""

import inspect
import os
import pickle
from collections.abc import Mapping

from paddle_attn.convert.errors import ConversionError

INSTALL_TORCH = "install torch (pip install torch==2.13.0 on CPU) to read .pth files"
WEIGHTS_ONLY_SINCE = "1.13"  # the first torch whose torch.load has weights_only (tensors and plain containers)
WRAPPER_KEYS = ("state_dict", "model")  # training scripts save {"state_dict": ..., "epoch": ...} and the like
DATA_PARALLEL_PREFIX = "module."


def read_torch_state_dict(path, trusted=False):
    """The state dict saved in the PyTorch file `path`, unwrapped (see `unwrap_state_dict`).

    Only tensors and plain containers are unpickled unless `trusted`: older training scripts also saved
    numpy scalars and the like, which unpickling runs code for.
    """
    if not os.path.isfile(path):
        raise ConversionError(f"PyTorch checkpoint {path!r} does not exist or is not a file")
    try:
        import torch  # optional dependency: only reading .pth files needs it
    except ImportError as err:
        raise ConversionError(f"cannot read {path!r}: {INSTALL_TORCH}") from err
    has_weights_only = "weights_only" in inspect.signature(torch.load).parameters
    if not trusted and not has_weights_only:
        raise ConversionError(
            f"cannot read {path!r} without running code from it: torch {torch.__version__} has no "
            f"torch.load(weights_only=True) (torch >= {WEIGHTS_ONLY_SINCE} has); upgrade torch, or if the file "
            "comes from a source you trust, read it with trusted=True (convert_torch.py --trusted)"
        )
    try:
        # torch >= 2.6 reads weights only by default: trusted says so, older torch has no such argument
        saved = torch.load(path, map_location="cpu", **({"weights_only": not trusted} if has_weights_only else {}))
    except Exception as err:  # torch.load raises many types on corrupt or foreign files
        hint = ""
        if isinstance(err, pickle.UnpicklingError) and not trusted:
            hint = "; if the file comes from a source you trust, read it with trusted=True (convert_torch.py --trusted)"
        raise ConversionError(f"cannot read {path!r} as a PyTorch checkpoint ({_one_line(err)}){hint}") from err
    return unwrap_state_dict(saved, path)


def unwrap_state_dict(saved, source="checkpoint"):
    """The {name: tensor} dict in `saved`: looks inside {"state_dict": ...} or {"model": ...} wrappers
    and strips the "module." prefix DataParallel puts on every name."""
    if callable(getattr(saved, "state_dict", None)):  # a whole pickled model (readable only when trusted)
        saved = saved.state_dict()
    while isinstance(saved, Mapping):
        inner = next((saved[k] for k in WRAPPER_KEYS if isinstance(saved.get(k), Mapping)), None)
        if inner is None:
            break
        saved = inner
    if not isinstance(saved, Mapping) or not saved:
        raise ConversionError(
            f"{source!r} holds no state dict: expected a non-empty dict of tensors (possibly under "
            f"'state_dict' or 'model'), found {type(saved).__name__}"
        )
    return {_strip_data_parallel(str(key)): value for key, value in saved.items()}


def _one_line(err):
    """torch.load's reason in one line: the weights-only unpickler's own if it gave one (older torch), else the
    line naming the refused global (torch 2.13), else the first line."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].strip()
    lines = [line for line in text.splitlines() if line.strip()]
    reason = next((line for line in lines if "GLOBAL" in line), lines[0] if lines else "")
    return f"{type(err).__name__}: {reason}"


def _strip_data_parallel(key):
    return key[len(DATA_PARALLEL_PREFIX) :] if key.startswith(DATA_PARALLEL_PREFIX) else key
