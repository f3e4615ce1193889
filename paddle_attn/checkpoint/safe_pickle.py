"""Reading what `paddle.save` writes (.pdparams, .pdopt) without running code from the file.

The file is read by `pickle_machine`, an interpreter of the few pickle opcodes and globals paddle.save uses,
which rebuilds NumPy arrays itself from their type code, shape and bytes. So a stranger's weights file can
hold numeric and bool arrays, numbers, text, None and dicts (text keys), lists and tuples of those
(optimizer and LR-scheduler state included), never an object that acts; the result is then walked once,
refusing cycles and sharing or nesting that would make a small file a huge or deep tree.
"""

import math
import os
import pickle

import numpy as np

from paddle_attn.checkpoint.pickle_machine import SPARE_BYTES, Corrupt, describe, interpret
from paddle_attn.checkpoint.pickled_arrays import Refused
from paddle_attn.errors import CheckpointError

TRUST_HINT = (
    "if you trust this file, pass trusted=True / --trusted (-o run.trusted=true to train from it): "
    "that runs any code it holds"
)
NAME_TABLE, BIG_PARAMS = "StructuredToParameterName@@", "UnpackBigParamInfor@@"  # keys paddle.save adds
LEAVES = (str, int, float, bool, type(None))
ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: what pickled_arrays builds
MAX_DEPTH = 32  # paddle.save's deepest: optimizer state > LR_Scheduler > a wrapped scheduler's state
MAX_VALUES = 1 << 22  # values counted along every path: ~4 million, paddle.save writes ~3 per tensor


def load(path, trusted=False):
    """The object `paddle.save` wrote to `path`, with NumPy arrays for tensors (as paddle.load with return_numpy=True).

    Raises CheckpointError naming the file and what was refused (a global, opcode, dtype, BUILD, key type,
    shape) before anything is built from it; `trusted` unpickles anything (old files holding other objects),
    which runs whatever code the file holds.
    """
    try:
        with open(path, "rb") as f:
            loaded = pickle.Unpickler(f, encoding="latin1").load() if trusted else interpret(f)
        if not trusted:
            check_plain(loaded, 2 * os.path.getsize(path) + SPARE_BYTES)  # what the interpreter may make of the file
        return _join_big_params(loaded)
    except Refused as err:
        raise CheckpointError(
            f"refused to load {err} from {path!r}: weights files hold only arrays; {TRUST_HINT}"
        ) from None
    except Corrupt as err:
        raise CheckpointError(f"weights file {path!r} is truncated or corrupt ({err})") from None
    except OSError as err:
        raise CheckpointError(f"cannot read {path!r}: {err.strerror or err}") from err
    except Exception as err:  # unpickling raises many types on truncated or foreign files
        raise CheckpointError(f"weights file {path!r} is truncated or corrupt ({type(err).__name__}: {err})") from err


def check_plain(root, max_bytes):
    """Raise Refused unless `root` is arrays, numbers, text and None in dicts, lists and tuples, with no cycle, and,
    counted as the tree a consumer walks (a shared container each time it is met), at most MAX_DEPTH deep,
    MAX_VALUES values and `max_bytes` of arrays. Each container is walked once (a shared one's figures are
    remembered), so the walk takes the time of the file, not of the tree it makes."""
    done = {}  # id of a container walked: its (values, depth, array bytes) as a tree
    frames = [[root, _children(root), 1, 1, 0]]  # container, its children left, then its figures so far
    walking = {id(root)}
    while frames:
        frame = frames[-1]
        child = next(frame[1], frames)
        if child is frames:  # this container is done
            frames.pop()
            walking.discard(id(frame[0]))
            done[id(frame[0])] = frame[2:]
            if frames:
                _add(frames[-1], frame[2:], len(frames), max_bytes)
        elif type(child) not in (dict, list, tuple):
            _add(frame, (1, 0, _leaf_bytes(child)), len(frames), max_bytes)
        elif id(child) in walking:
            raise Refused(f"a {type(child).__name__} holding itself")
        elif id(child) in done:
            _add(frame, done[id(child)], len(frames), max_bytes)
        elif len(frames) >= MAX_DEPTH:  # refused on the way down: a frame per level of a 2-million-deep nest is 0.5 GB
            raise Refused(f"containers nested more than {MAX_DEPTH} deep")
        else:
            walking.add(id(child))
            frames.append([child, _children(child), 1, 1, 0])  # a shared container's depth is checked in _add


def _children(value):
    if type(value) is dict:
        return iter(value.values())  # keys are text: checked as the interpreter set them
    if type(value) in (list, tuple):
        return iter(value)
    _leaf_bytes(value)  # a value at the top that is no container: checked, nothing below it
    return iter(())


def _add(frame, tree, level, max_bytes):
    values, depth, nbytes = tree
    frame[2], frame[3], frame[4] = frame[2] + values, max(frame[3], depth + 1), frame[4] + nbytes
    if frame[2] > MAX_VALUES:
        raise Refused(f"more than {MAX_VALUES} values (containers shared many times over)")
    if frame[3] + level - 1 > MAX_DEPTH:
        raise Refused(f"containers nested more than {MAX_DEPTH} deep")
    if frame[4] > max_bytes:
        raise Refused(f"more than {max_bytes} bytes of arrays (arrays shared many times over)")


def _leaf_bytes(value):
    """The bytes of an array leaf, 0 for a number, text or None; Refused for anything else."""
    if type(value) in LEAVES:
        return 0
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in ARRAY_KINDS:
        return value.nbytes
    raise Refused(f"a {describe(value)}")


def _join_big_params(loaded):
    """What paddle.load does to a dict: drop the name table, join arrays split for pickle protocols 2 and 3."""
    if not isinstance(loaded, dict):
        return loaded
    loaded = dict(loaded)
    loaded.pop(NAME_TABLE, None)
    for key, info in (loaded.pop(BIG_PARAMS, None) or {}).items():
        loaded[key] = _joined(info, loaded)
    return loaded


def _joined(info, loaded):
    """The array split as `info` says ({"OriginShape": shape, "slices": keys} in paddle's io_utils), its parts popped
    from `loaded`: only flat arrays of one dtype, joined to the shape of their size (np.concatenate would make
    string or object arrays of lists, as big as their shared items, which the walk counted once)."""
    slices, shape = (info.get("slices"), info.get("OriginShape")) if type(info) is dict else (None, None)
    if type(slices) is not list or type(shape) not in (list, tuple) or any(type(n) is not int or n < 0 for n in shape):
        raise Refused(f"{BIG_PARAMS} other than {{'OriginShape': shape, 'slices': keys}}")
    parts = [loaded.pop(part, None) if type(part) is str else None for part in slices]
    if not all(type(p) is np.ndarray and p.ndim == 1 and p.dtype == parts[0].dtype for p in parts) or (
        sum(p.size for p in parts) != math.prod(shape)
    ):
        raise Refused(f"{BIG_PARAMS} joining other than flat arrays of one dtype and of the shape's size")
    return np.concatenate(parts).reshape(shape)
