"""How long reading a ResNet-50 weights file takes: the restricted reader (`safe_pickle.load`) against plain
pickle (`trusted=True`), `paddle.load` and, given `--old`, another safe_pickle.py (the allow-list unpickler).

    python benchmarks/weights_load.py                       # protocols 4 and 2, 15 loads each, median
    git show a8df584:paddle_attn/checkpoint/safe_pickle.py > /tmp/old_safe_pickle.py
    python benchmarks/weights_load.py --old /tmp/old_safe_pickle.py

Each reader loads the same file in turn (page cache warm); the figure is the median of `--repeats` loads.
"""

import argparse
import importlib.util
import os
import statistics
import tempfile
import time

from common import machine


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--protocols", default="4,2", help="pickle protocols paddle.save writes the file with")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--old", help="path of another safe_pickle.py to time beside this one")
    return parser.parse_args()


def main():
    args = parse_args()
    import paddle

    import paddle_attn
    from paddle_attn.checkpoint import safe_pickle

    readers = {
        "restricted": safe_pickle.load,
        "plain pickle": lambda path: safe_pickle.load(path, trusted=True),
        "paddle.load": lambda path: paddle.load(path, return_numpy=True),
    }
    if args.old:
        spec = importlib.util.spec_from_file_location("old_safe_pickle", args.old)
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)
        readers["old"] = old.load
    net = paddle_attn.create_model(args.model, num_classes=1000)
    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        for protocol in map(int, args.protocols.split(",")):
            path = os.path.join(folder, f"{args.model}.pdparams")
            paddle.save(net.state_dict(), path, protocol=protocol)
            seconds = {name: [] for name in readers}
            for _ in range(args.repeats):
                for name, read in readers.items():  # interleaved, so load changes hit every reader alike
                    start = time.perf_counter()
                    read(path)
                    seconds[name].append(time.perf_counter() - start)
            size = os.path.getsize(path) / 2**20
            figures = ", ".join(f"{name} {statistics.median(s) * 1e3:.1f} ms" for name, s in seconds.items())
            print(f"{args.model} protocol {protocol} ({size:.1f} MiB): {figures}")


if __name__ == "__main__":
    main()
