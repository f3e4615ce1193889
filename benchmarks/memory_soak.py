"""Resident memory over a long training run: the trainer's and each data loader worker's RSS every epoch, and
its slope over the last half of the epochs (MiB per epoch), for each evaluation backend and worker count.

    python benchmarks/memory_soak.py                        # 20 epochs of the quick start on 300 + 100 images, 4 modes
    python benchmarks/memory_soak.py --epochs 100 --train-per-class 200 --test-per-class 50 --modes inference:2
                                                            # the quick start as it is (configs/quickstart.yaml), 100 epochs

Each mode is a `training.trainer.train` run (what tools/train.py calls, with its process settings, every
callback, a checkpoint every epoch) in a fresh Python, so the loader forks its workers as in a real run.
The trainer's RSS is read after each epoch's evaluation; the workers' (they live one epoch) halfway through
the epoch's training steps. A leak shows as a steady slope; a flat run's slope is within a few 0.1 MiB of 0.
Each epoch's figures are printed as they come, so a long run's log shows how far it got.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from common import PeakMemory, load, machine, versions

MODES = "inference:0,inference:2,dygraph:0,dygraph:2"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--modes", default=MODES, help=f"comma-separated eval_backend:num_workers (default {MODES})")
    parser.add_argument("--model", default="resnet18_nam")
    parser.add_argument(
        "--train-per-class", type=int, default=30, help="generated training images per class (10 classes)"
    )
    parser.add_argument("--test-per-class", type=int, default=10, help="generated test images per class")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one mode's run, in the process it needs
    return parser.parse_args()


def soak(backend, workers, args):
    """One mode's training run; prints one JSON line per epoch: {"epoch", "trainer", "heap", "workers"} in MiB
    (heap: the trainer's bytes in use by malloc, which tells a leak from glibc's arenas growing in steps)."""
    import paddle
    import psutil

    from paddle_attn.cli import set_up_process_for
    from paddle_attn.config import load_config
    from paddle_attn.training.trainer import train

    me, heap = psutil.Process(), PeakMemory()

    def mib(process):
        return process.memory_info().rss / 2**20

    class EpochMemory(paddle.callbacks.Callback):
        workers = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.workers = epoch + 1, []

        def on_train_batch_end(self, step, logs=None):
            if step == self.params["steps"] // 2:  # the epoch's workers are all up by now
                self.workers = [round(mib(child), 1) for child in me.children()]

        def on_eval_end(self, logs=None):  # last in the callback list: the evaluation has released what it built
            record = {"epoch": self.epoch, "trainer": round(mib(me), 1), "heap": round(heap.in_use() / 2**20, 1)}
            print(json.dumps({**record, "workers": self.workers}), flush=True)

    with tempfile.TemporaryDirectory(prefix="memory_soak_") as tmp:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        config = load_config(
            os.path.join(root, "configs", "quickstart.yaml"),
            [
                f"model.name={args['model']}",
                f"data.data_file={tmp}/synthetic.tar.gz",
                f"data.synthetic_train_per_class={args['train_per_class']}",
                f"data.synthetic_test_per_class={args['test_per_class']}",
                f"data.num_workers={workers}",
                f"device.eval_backend={backend}",
                f"train.epochs={args['epochs']}",
                f"run.output_dir={tmp}/run",
                "train.verbose=0",
            ],
        )
        set_up_process_for(config)  # tools/train.py's process-wide settings, glibc's kept freed memory among them
        train(config, callbacks=[EpochMemory()])


def slope(values):
    """Least-squares MiB per epoch over the last half of `values` (one per epoch)."""
    tail = values[len(values) // 2 :]
    return float(np.polyfit(np.arange(len(tail)), tail, 1)[0]) if len(tail) > 1 else float("nan")


def run_mode(mode, args):
    """Runs one mode in a child Python, echoing its epochs; returns its per-epoch records."""
    backend, workers = mode.split(":")
    child = json.dumps(
        {
            "backend": backend,
            "workers": int(workers),
            **{k: getattr(args, k) for k in ("epochs", "model", "train_per_class", "test_per_class")},
        }
    )
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--child", child],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.abspath(__file__)),
    )
    records = []
    for line in process.stdout:
        if line.startswith("{"):
            records.append(json.loads(line))
            print(f"  {mode} {line.strip()}", flush=True)
    if process.wait() != 0:
        raise RuntimeError(f"the {mode} run failed (exit status {process.returncode})")
    return records


def report(mode, records):
    backend, workers = mode.split(":")
    trainer = [r["trainer"] for r in records]
    half = len(records) // 2 + 1
    line = (
        f"{backend:9s} {workers} workers: trainer {trainer[0]:.0f} -> {trainer[-1]:.0f} MiB over {len(records)} epochs, "
        f"slope over epochs {half}-{len(records)}: {slope(trainer):+.2f} MiB/epoch (malloc in use "
        f"{slope([r['heap'] for r in records]):+.2f})"
    )
    if int(workers):
        per_worker = list(zip(*[r["workers"] for r in records if len(r["workers"]) == int(workers)], strict=True))
        if per_worker:
            line += "; workers " + ", ".join(
                f"{w[0]:.0f} -> {w[-1]:.0f} ({slope(list(w)):+.2f}/epoch)" for w in per_worker
            )
    print(line, flush=True)


def main():
    args = parse_args()
    if args.child:
        options = json.loads(args.child)
        soak(options.pop("backend"), options.pop("workers"), options)
        return
    print(f"{machine()}; {versions()}")
    print(
        f"{args.model}, quick start config, {args.epochs} epochs of {10 * args.train_per_class} training and "
        f"{10 * args.test_per_class} test images; RSS in MiB",
        flush=True,
    )
    results = {mode: run_mode(mode, args) for mode in args.modes.split(",")}
    print(f"load {load()}")
    for mode, records in results.items():
        report(mode, records)


if __name__ == "__main__":
    main()
