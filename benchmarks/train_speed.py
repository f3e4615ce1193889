"""Training speed on the CPU: paddle_attn in each of its modes against the PyTorch reference, interleaved.

    python benchmarks/train_speed.py                                  # resnet50_nam and resnet50, batch 64, 32x32
    python benchmarks/train_speed.py --models resnet50,resnet50_se,resnet50_eca,resnet50_cbam,resnet50_nam,epsanet50
    python benchmarks/train_speed.py --no-tuning --paddle-modes dygraph   # Paddle as it is out of the box
    python benchmarks/train_speed.py --models epsanet50 --kernels paddle,onednn_grouped,onednn  # oneDNN convs

Each model's runners (one framework and mode each) are built in processes of their own (PyTorch and
Paddle in one process slow each other down), warmed up, then timed for --steps optimizer steps per
repeat, taking turns in each repeat so that a change of load on the machine touches them all; one
model's runners at a time (each holds GBs at batch 64), so step/plain compares models timed in turn. Prints images/s (best repeat and median), ms per step, the peak extra memory of a step, and
the ratios paddle_attn / PyTorch: against PyTorch fp32 (NCHW) and against PyTorch's best mode measured
(channels_last, and bf16 autocast where the CPU has native bf16). The inputs are random images already
in memory, so the figures are the network's and the framework's, not the data loader's.

Paddle modes (benchmarks/train_step.py's TrainStep): dygraph, static (paddle.jit.to_static); and train_batch,
the step tools/train.py runs:
`paddle.Model.train_batch` of `training.evaluation.prepare` (loss, top-1/top-5 Accuracy metrics), dygraph.
--end-to-end adds, per model, a real `training.trainer.train` run (what tools/train.py calls) of one epoch on
the generated data set with the data loader (workers, augmentation), callbacks, checkpoint and evaluation:
its images/s over the epoch's steps after the first two (data loading and callbacks included). Unless --no-tuning, the process first applies
paddle_attn.cpu.apply_cpu_settings(): all cores, MKL's AVX2 path on AMD CPUs, freed memory kept for
reuse (the PyTorch runners get the same allocator setting, through GLIBC_TUNABLES).
"""

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
from common import (
    KEEP_FREED_MEMORY,
    Isolated,
    PeakMemory,
    glibc_tunables,
    load,
    machine,
    mib,
    torch_reference,
    versions,
)

DEFAULT_MODELS = "resnet50_nam,resnet50"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", default=DEFAULT_MODELS, help=f"comma-separated paddle_attn model names (default {DEFAULT_MODELS})"
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--num-classes", type=int, default=100)
    parser.add_argument("--stem", default="cifar", choices=("cifar", "imagenet"))
    parser.add_argument("--steps", type=int, default=3, help="timed steps per runner per repeat (default 3)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per runner first (default 2)")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds, runners interleaved (default 2)")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for both frameworks (default: all cores)"
    )
    parser.add_argument(
        "--paddle-modes",
        default="auto",
        help="comma-separated: dygraph, static, train_batch; auto: dygraph,train_batch",
    )
    parser.add_argument(
        "--torch-modes",
        default="auto",
        help="comma-separated: fp32, fp32_cl (channels_last), bf16_cl (autocast + channels_last); "
        "auto: fp32,fp32_cl (+ bf16_cl where the CPU has native bf16); none: no PyTorch",
    )
    parser.add_argument(
        "--no-tuning", action="store_true", help="skip apply_cpu_settings(): Paddle's defaults except --threads"
    )
    parser.add_argument(
        "--kernels",
        default="paddle",
        help="comma-separated CPU kernels of the Paddle runners (train_step.py's KERNELS): paddle (Paddle's own), "
        "onednn (as cpu.kernels=auto: every conv, ReLU and sigmoid on paddle_attn's operators, batch norms as "
        "cpu_kernels.BATCH_NORM_LAYOUT says), onednn_bf16 (the same, bf16 products in the convs; CPUs with AVX-512 "
        "BF16 or AMX), onednn_activations (onednn with Paddle's batch norms), onednn_conv (every conv only), "
        "onednn_grouped (grouped convs only), onednn_bn_nchw / onednn_bn_blocked / onednn_bn_channel_loops "
        "(onednn_activations and the operator's batch norm in that layout); default paddle",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the untimed step that samples each runner's peak memory"
    )
    parser.add_argument("--json", help="also write every figure to this JSON file")
    parser.add_argument(
        "--end-to-end",
        type=int,
        default=0,
        metavar="STEPS",
        help="also time a real training run of STEPS batches (2 more untimed) per model (default: none)",
    )
    return parser.parse_args()


class PaddleTrainer:
    """paddle_attn's network stepping in one `TrainStep` mode, in its own process (see common.Isolated)."""

    def __init__(self, name, mode, args, kernels="paddle"):
        if not args["no_tuning"]:
            from paddle_attn.cpu import apply_cpu_settings

            apply_cpu_settings(args["threads"])  # before the first conv: MKL reads its CPU type once
        import paddle
        from train_step import TrainStep, with_kernels

        import paddle_attn

        paddle_attn.set_cpu_threads(args["threads"])
        net = with_kernels(paddle_attn.create_model(name, num_classes=args["num_classes"], stem=args["stem"]), kernels)
        optimizer = paddle.optimizer.Momentum(0.01, 0.9, net.parameters(), weight_decay=5e-4)
        self.step = TrainStep(net, paddle.nn.CrossEntropyLoss(), optimizer, mode)
        images, labels = batch(args)
        self.images, self.labels = paddle.to_tensor(images), paddle.to_tensor(labels)

    def __call__(self):
        return float(self.step(self.images, self.labels))

    def run(self, steps, sample_memory=False):
        return run_steps(self, steps, sample_memory)


class ModelTrainer:
    """tools/train.py's step: `paddle.Model.train_batch` (loss, backward, optimizer, Accuracy top-1/top-5) in dygraph."""

    def __init__(self, name, args, kernels="paddle"):
        if not args["no_tuning"]:
            from paddle_attn.cpu import apply_cpu_settings

            apply_cpu_settings(args["threads"])
        import paddle
        from train_step import with_kernels

        import paddle_attn
        from paddle_attn.config import defaults
        from paddle_attn.training.evaluation import prepare

        paddle_attn.set_cpu_threads(args["threads"])
        net = with_kernels(paddle_attn.create_model(name, num_classes=args["num_classes"], stem=args["stem"]), kernels)
        optimizer = paddle.optimizer.Momentum(0.01, 0.9, net.parameters(), weight_decay=5e-4)
        config = defaults()
        config["data"]["image_size"] = args["image_size"]
        self.model = prepare(net, config, optimizer)
        images, labels = batch(args)
        self.images, self.labels = paddle.to_tensor(images), paddle.to_tensor(labels)

    def __call__(self):
        losses, _ = self.model.train_batch([self.images], [self.labels])
        return float(losses[0])

    def run(self, steps, sample_memory=False):
        return run_steps(self, steps, sample_memory)


def end_to_end(name, args, steps):
    """images/s of `training.trainer.train` (tools/train.py's run) over `steps` batches after 2 untimed ones:
    one epoch on the generated data set, batch --batch, data loader with 2 workers, every callback."""
    import tempfile

    import paddle

    from paddle_attn.cli import set_up_process_for
    from paddle_attn.config import load_config
    from paddle_attn.training.trainer import train

    class StepClock(paddle.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, step, logs=None):
            self.ends.append(time.perf_counter())

    total = (steps + 2) * args["batch"]
    with tempfile.TemporaryDirectory(prefix="train_speed_") as tmp:
        config = load_config(
            os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "quickstart.yaml"),
            [
                f"model.name={name}",
                f"model.stem={args['stem']}",
                "model.num_classes=10",
                f"data.image_size={args['image_size']}",
                f"data.data_file={tmp}/synthetic.tar.gz",
                f"data.synthetic_train_per_class={-(-total // 10)}",
                "data.synthetic_test_per_class=10",
                "train.epochs=1",
                f"train.batch_size={args['batch']}",
                f"run.output_dir={tmp}/run",
                "train.verbose=0",
                f"cpu.threads={args['threads']}",
            ],
        )
        set_up_process_for(config)  # tools/train.py's process-wide settings (mallopt is not inherited)
        clock = StepClock()
        train(config, callbacks=[clock])
    timed = clock.ends[2 : 2 + steps]
    return args["batch"] * (len(timed) - 1) / (timed[-1] - timed[0])


def end_to_end_in_child(name, args, steps):
    """`end_to_end` in a fresh Python, as tools/train.py runs: the data loader forks its workers from it
    (common.Isolated's processes are daemonic and spawned, which the loader's workers cannot start from)."""
    code = "import json, sys; import train_speed; print(json.dumps(train_speed.end_to_end(*json.loads(sys.argv[1]))))"
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps([name, args, steps])],
        capture_output=True,
        text=True,
        check=False,
        cwd=os.path.dirname(os.path.abspath(__file__)),
    )
    if result.returncode != 0:
        raise RuntimeError(f"the training run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class TorchTrainer:
    """The PyTorch reference of the same network, fp32 / channels_last / bf16 autocast, in its own process."""

    def __init__(self, name, mode, args):
        import torch

        torch.set_num_threads(args["threads"])
        net = torch_reference(name, args["num_classes"], args["stem"])
        self.channels_last, self.bf16 = mode.endswith("_cl"), mode.startswith("bf16")
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        net.train()
        self.net, self.torch = net, torch
        self.optimizer = torch.optim.SGD(net.parameters(), 0.01, momentum=0.9, weight_decay=5e-4)
        images, labels = batch(args)
        self.images, self.labels = torch.from_numpy(images), torch.from_numpy(labels)
        if self.channels_last:
            self.images = self.images.contiguous(memory_format=torch.channels_last)

    def __call__(self):
        torch = self.torch
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.net(self.images)
        loss = torch.nn.functional.cross_entropy(logits.float(), self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def run(self, steps, sample_memory=False):
        return run_steps(self, steps, sample_memory)


def batch(args):
    rng = np.random.default_rng(0)
    size = args["image_size"]
    return (
        rng.standard_normal((args["batch"], 3, size, size), dtype=np.float32),
        rng.integers(0, args["num_classes"], args["batch"]),
    )


def run_steps(step, steps, sample_memory=False):
    """(seconds, peak extra malloc bytes or None, last loss) of `steps` calls.

    Memory is sampled only when asked, in untimed calls: the sampling thread wakes every 2 ms and each
    wake stalls a 2-thread parallel kernel at its barrier (OpenVINO int8 timed 75 instead of 100 img/s).
    """
    with PeakMemory() if sample_memory else contextlib.nullcontext() as memory:
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        seconds = time.perf_counter() - start
    return seconds, memory.peak if sample_memory else None, loss


def resolve_modes(args):

    paddle_modes = args.paddle_modes
    if paddle_modes == "auto":
        paddle_modes = "dygraph,train_batch"
    torch_modes = args.torch_modes
    if torch_modes == "auto":
        torch_modes = "fp32,fp32_cl"
        try:
            import torch

            if torch.ops.mkldnn._is_mkldnn_bf16_supported():
                torch_modes += ",bf16_cl"
        except (ImportError, AttributeError, RuntimeError):
            torch_modes = "none"
    torch_modes = [] if torch_modes == "none" else torch_modes.split(",")
    return paddle_modes.split(","), torch_modes


def main():
    args = parse_args()
    if args.no_tuning:
        os.environ.setdefault("PADDLE_ATTN_FAST_BLAS", "0")  # before paddle_attn's import sets MKL's CPU type
    from paddle_attn.cpu import apply_cpu_settings, bf16_supported, set_cpu_threads

    # before anything runs a conv: MKL reads its CPU type once
    tuning = {"threads": set_cpu_threads(args.threads)} if args.no_tuning else apply_cpu_settings(args.threads)
    threads = tuning["threads"]
    import warnings

    warnings.filterwarnings("ignore")
    paddle_modes, torch_modes = resolve_modes(args)
    print(f"machine: {machine()}")
    print(f"{versions()}; settings: {tuning}; bf16 native: {bf16_supported()}")
    print(
        f"batch {args.batch}, {args.image_size}x{args.image_size}, {args.stem} stem, {args.num_classes} classes; "
        f"{args.warmup} warm-up + {args.repeats} x {args.steps} timed steps per runner, interleaved",
        flush=True,
    )

    settings = vars(args)
    settings["threads"] = threads
    results = {}
    for name in args.models.split(","):  # one model's runners alive at a time: each holds GBs at batch 64
        runners = []  # (framework, mode, Isolated runner)
        for mode in paddle_modes:
            for kernels in args.kernels.split(","):
                label = mode if kernels == "paddle" else f"{mode}+{kernels}"
                if mode == "train_batch":
                    runners.append(("paddle_attn", label, Isolated(ModelTrainer, name, settings, kernels)))
                else:
                    runners.append(("paddle_attn", label, Isolated(PaddleTrainer, name, mode, settings, kernels)))
        for mode in torch_modes:
            if torch_reference(name, args.num_classes, args.stem) is None:
                print(f"  (no PyTorch reference for {name} with the {args.stem} stem)")
                continue
            with glibc_tunables(None if args.no_tuning else KEEP_FREED_MEMORY):
                runners.append(("pytorch", mode, Isolated(TorchTrainer, name, mode, settings)))
        try:
            for framework, mode, runner in runners:
                _, _, loss = runner.call("run", args.warmup)
                if not np.isfinite(loss):
                    raise RuntimeError(f"{framework} {name} {mode}: loss {loss} after warm-up")
            print(f"  {name}: built and warmed up", flush=True)
            for rep in range(args.repeats):
                for framework, mode, runner in runners:
                    seconds, _, _ = runner.call("run", args.steps)
                    record = results.setdefault((name, framework, mode), {"img_s": []})
                    record["img_s"].append(args.batch * args.steps / seconds)
                    print(f"    {framework:11s} {name} {mode}: {record['img_s'][-1]:.1f} img/s", flush=True)
                print(f"  {name}: repeat {rep + 1}/{args.repeats} done, load {load()}", flush=True)
            for framework, mode, runner in runners:  # untimed: the memory sampler slows what it watches
                sampled = None if args.no_memory else runner.call("run", 1, True)[1] or 0
                results[(name, framework, mode)]["peak"] = sampled
        finally:
            for *_, runner in runners:
                runner.close()
        if args.end_to_end:
            img_s = end_to_end_in_child(name, settings, args.end_to_end)
            results[(name, "paddle_attn", "tools/train.py")] = {"img_s": [img_s], "peak": None}
            print(f"    paddle_attn {name} tools/train.py end to end: {img_s:.1f} img/s", flush=True)

    rows = report(args, results)
    print(f"load after: {load()}; process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine(), "versions": versions(), "settings": tuning, "args": vars(args), "rows": rows},
                f,
                indent=2,
            )


def report(args, results):
    rows = []
    for (name, framework, mode), record in results.items():
        best = max(record["img_s"])
        rows.append(
            {
                "model": name,
                "framework": framework,
                "mode": mode,
                "img_s": best,
                "img_s_median": statistics.median(record["img_s"]),
                "ms_step": 1000 * args.batch / best,
                "peak_mib": None if record["peak"] is None else record["peak"] / 2**20,
            }
        )
    by_key = {(r["model"], r["framework"], r["mode"]): r for r in rows}
    for row in rows:
        torch_rows = [r for r in rows if r["model"] == row["model"] and r["framework"] == "pytorch"]
        fp32 = by_key.get((row["model"], "pytorch", "fp32"))
        row["vs_torch_fp32"] = row["img_s"] / fp32["img_s"] if fp32 else None
        row["vs_torch_best"] = row["img_s"] / max(r["img_s"] for r in torch_rows) if torch_rows else None
        plain = by_key.get(
            (
                "resnet50" if row["model"].startswith(("resnet50", "epsanet50")) else row["model"].split("_")[0],
                row["framework"],
                row["mode"],
            )
        )
        row["vs_plain_step_time"] = plain["img_s"] / row["img_s"] if plain and plain is not row else None

    def ratio(value):
        return "-" if value is None else f"{value:.2f}x"

    print()
    print(
        f"{'model':14s} {'framework':11s} {'mode':19s} {'img/s':>7s} {'median':>7s} {'ms/step':>8s} {'peak MiB':>8s} "
        f"{'/torch fp32':>11s} {'/torch best':>11s} {'step/plain':>10s}"
    )
    for r in rows:
        print(
            f"{r['model']:14s} {r['framework']:11s} {r['mode']:19s} {r['img_s']:7.1f} {r['img_s_median']:7.1f} "
            f"{r['ms_step']:8.0f} {mib(None if r['peak_mib'] is None else r['peak_mib'] * 2**20):>8s} {ratio(r['vs_torch_fp32']):>11s} "
            f"{ratio(r['vs_torch_best']):>11s} {ratio(r['vs_plain_step_time']):>10s}"
        )
    print(
        "\nimg/s: best repeat; /torch: paddle_attn's img/s over PyTorch's (same model, same run); "
        "step/plain: step time over plain resnet50's in the same framework and mode"
    )
    return rows


if __name__ == "__main__":
    main()
