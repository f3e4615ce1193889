"""Read weights files with `safe_pickle.load` in this process, under a memory limit, one JSON line per file.

    python tests/load_in_child.py EXTRA_MIB FILE...

The address space is limited to what the process holds after its imports plus EXTRA_MIB, so a file that makes
the reader allocate more fails with a MemoryError instead of taking the machine; a crash or hang ends this
process, which the test running it sees (tests/test_pickle_interpreter.py). Only the reader is imported, not
Paddle (whose start takes seconds): the two packages above it get empty stand-ins.
"""

import json
import os
import resource
import sys
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for package in ("paddle_attn", "paddle_attn.checkpoint"):  # their __init__ import Paddle; the reader does not
    stand_in = types.ModuleType(package)
    stand_in.__path__ = [os.path.join(ROOT, *package.split("."))]
    sys.modules[package] = stand_in

import numpy as np  # noqa: E402

from paddle_attn.checkpoint import safe_pickle  # noqa: E402
from paddle_attn.errors import CheckpointError  # noqa: E402


def not_plain(value):
    """What in `value` is not a numeric or bool array, number, text or None in dicts (text keys), lists and
    tuples, or None: checked here independently of the reader's own walk (each container once)."""
    seen, todo = set(), [value]
    while todo:
        item = todo.pop()
        if type(item) in (dict, list, tuple):
            if id(item) not in seen:
                seen.add(id(item))
                if type(item) is dict and any(type(key) is not str for key in item):
                    return "a non-text key"
                todo.extend(item.values() if type(item) is dict else item)
        elif type(item) not in (str, int, float, bool, type(None)):
            if not (type(item) is np.ndarray or isinstance(item, np.generic)) or item.dtype.kind not in "biufc":
                return f"a {type(item).__name__}"
    return None


def main():
    extra = int(sys.argv[1]) * 2**20
    with open("/proc/self/statm") as f:
        held = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (held + extra, held + extra))
    for path in sys.argv[2:]:
        start = time.perf_counter()
        try:
            loaded = safe_pickle.load(path)
        except CheckpointError as err:
            outcome = {"error": str(err)}
        else:
            outcome = {"loaded": not_plain(loaded) or "plain"}
        outcome.update(file=path, seconds=time.perf_counter() - start)
        print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
