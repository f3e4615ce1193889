"""Reading what `paddle.save` writes (.pdparams, .pdopt) without running code from the file.

The file is read by `pickle_machine`, an interpreter of the few pickle opcodes and globals paddle.save uses,
which rebuilds NumPy arrays itself from their type code, shape and bytes. So a stranger's weights file can
hold numeric and bool arrays, numbers, text, None and dicts (text keys), lists and tuples of those
(optimizer and LR-scheduler state included), never an object that acts; the result is then walked once,
refusing cycles and sharing or nesting that would make a small file a huge or deep tree.
"""

import pickle

import numpy as np

from paddle_attn.checkpoint.pickle_machine import Corrupt, describe, interpret
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
MAX_VALUES = 1 << 24  # values counted along every path, so containers shared many times over count each time


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
            check_plain(loaded)
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


def check_plain(root):
    """Raise Refused unless `root` is arrays, numbers, text and None in dicts, lists and tuples, with no cycle,
    at most MAX_DEPTH deep and MAX_VALUES values as a tree. Each container is walked once (a shared one's
    count and depth are remembered), so the walk takes the time of the file, not of the tree it makes."""
    done = {}  # id of a container walked: (values below it counted as a tree, its depth)
    frames = [[root, _children(root), 1, 1]]  # container, its children left, values so far, depth so far
    walking = {id(root)}
    while frames:
        frame = frames[-1]
        child = next(frame[1], frames)
        if child is frames:  # this container is done
            frames.pop()
            walking.discard(id(frame[0]))
            done[id(frame[0])] = (frame[2], frame[3])
            if frames:
                _add(frames[-1], frame[2], frame[3], len(frames))
        elif type(child) not in (dict, list, tuple):
            _check_leaf(child)
            _add(frame, 1, 0, len(frames))
        elif id(child) in walking:
            raise Refused(f"a {type(child).__name__} holding itself")
        elif id(child) in done:
            _add(frame, *done[id(child)], len(frames))
        else:
            walking.add(id(child))
            frames.append([child, _children(child), 1, 1])  # depth checked as it returns: see _add


def _children(value):
    if type(value) is dict:
        return iter(value.values())  # keys are text: checked as the interpreter set them
    return iter(value) if type(value) in (list, tuple) else _check_leaf(value) or iter(())


def _add(frame, values, depth, level):
    frame[2] += values
    frame[3] = max(frame[3], depth + 1)
    if frame[2] > MAX_VALUES:
        raise Refused(f"more than {MAX_VALUES} values (containers shared many times over)")
    if frame[3] + level - 1 > MAX_DEPTH:
        raise Refused(f"containers nested more than {MAX_DEPTH} deep")


def _check_leaf(value):
    if type(value) in LEAVES:
        return
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in ARRAY_KINDS:
        return
    raise Refused(f"a {describe(value)}")


def _join_big_params(loaded):
    """What paddle.load does to a dict: drop the name table, join arrays split for pickle protocols 2 and 3."""
    if not isinstance(loaded, dict):
        return loaded
    loaded = dict(loaded)
    loaded.pop(NAME_TABLE, None)
    for key, info in (loaded.pop(BIG_PARAMS, None) or {}).items():
        loaded[key] = np.concatenate([loaded.pop(part) for part in info["slices"]]).reshape(info["OriginShape"])
    return loaded
