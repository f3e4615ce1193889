"""Inference speed on the CPU: paddle_attn's dygraph and exported model (Paddle Inference) against PyTorch eval.

    python benchmarks/infer_speed.py                               # resnet50_nam, 32x32, batch 1 and 64
    python benchmarks/infer_speed.py --models resnet50 --checkpoint output/run   # a trained network's weights

For each model: batch-64 throughput (best of --repeats rounds of --steps batches, img/s) and batch-1
latency (lowest over the rounds of the median of --latency-runs calls, ms), every runner taking turns in
each round after SETTLE_S idle; peak memory from one more, untimed batch. Runners:

    paddle_attn dygraph      net(x) under paddle.no_grad()
    paddle_attn pi_native    the exported model (paddle.jit.save) through Paddle Inference, oneDNN off
    paddle_attn pi_onednn    the same, oneDNN on (fp32): what tools/infer.py and evaluation use
    (the former static_onednn runner, dy2static through Paddle's private pass manager, is gone with issue 11)
                             on oneDNN kernels, no export (evaluation during training)
    paddle_attn pi_onednn_bf16   oneDNN bf16, only where the CPU has AVX-512 BF16 or AMX
    onnxruntime fp32         the same export as ONNX (paddle2onnx), ONNX Runtime's CPU provider
    openvino    fp32, bf16   the same ONNX file in OpenVINO (bf16 only where the CPU has AVX-512 BF16 or AMX)
    openvino    int8         paddle_attn.inference.int8.quantize_int8 of that file, calibrated on --calibration-images
                             images of the training split (--checkpoint) or generated ones and checked on
                             --holdout-images other ones, run by OpenVINO; the recipe kept and the hold-out's
                             figures are printed
    pytorch     fp32, fp32_cl (channels_last), bf16_cl (autocast + channels_last, native bf16 CPUs only)

Agreement: every runner's top-1 class against dygraph fp32's on --agreement-images test images (the
synthetic CIFAR stand-in of paddle_attn.data.synthetic; the PyTorch runners carry different random
weights unless converted, so their agreement is not computed). With random weights the logits are close
together and the agreement is a harsh test; --checkpoint gives a trained network, and then the images are
the test split its run evaluated on (the run's config.yaml, evaluation preprocessing), and each runner's
top-1 accuracy on it is shown too.
"""

import argparse
import os
import statistics
import tempfile
import time
import warnings

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
    training_split_images,
    versions,
)

DEFAULT_MODELS = "resnet50_nam"
# idle time before each timed call: the previous runner's threads stop spinning (Intel OpenMP's KMP_BLOCKTIME
# is 200 ms; ONNX Runtime's workers spin too), so no runner starts on cores another process still holds
SETTLE_S = 0.3


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--checkpoint", help="a paddle_attn checkpoint (then --models is ignored)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--num-classes", type=int, default=100)
    parser.add_argument("--stem", default="cifar", choices=("cifar", "imagenet"))
    parser.add_argument("--steps", type=int, default=3, help="timed batches per runner per repeat (default 3)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=20, help="batch-1 calls timed per runner (default 20)")
    parser.add_argument("--agreement-images", type=int, default=500)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--torch-modes", default="auto", help="fp32,fp32_cl,bf16_cl; auto; none")
    parser.add_argument("--no-tuning", action="store_true")
    parser.add_argument(
        "--onnx", default="auto", help="ONNX backends: onnxruntime,openvino; auto (those installed); none"
    )
    parser.add_argument("--calibration-images", type=int, default=300, help="int8 calibration images; 0: no int8")
    parser.add_argument(
        "--holdout-images", type=int, default=1000, help="other images that int8 is checked on against fp32"
    )
    return parser.parse_args()


def test_images(count, size, seed=7):
    """`count` normalized CHW float32 images of the synthetic CIFAR stand-in, resized to `size`."""
    from paddle_attn.data.synthetic import make_images

    per_class = -(-count // 10)
    images, _ = make_images(per_class, seed=seed)
    images = images[:count].astype(np.float32) / 255.0
    images = (images - 0.5) / 0.25
    images = images.transpose(0, 3, 1, 2)
    if size != images.shape[-1]:
        reps = -(-size // images.shape[-1])
        images = np.tile(images, (1, 1, reps, reps))[:, :, :size, :size]
    return np.ascontiguousarray(images)


def checkpoint_test_set(checkpoint, count):
    """(images, labels): the first `count` images of the test split the checkpoint's run evaluated on (the run's
    config.yaml), with its evaluation preprocessing."""
    from paddle_attn.checkpoint import resolve
    from paddle_attn.config import load_config
    from paddle_attn.data.datasets import build_dataset

    run_dir = os.path.dirname(os.path.dirname(resolve(checkpoint)))  # <run>/checkpoints/<epoch>
    dataset = build_dataset(load_config(os.path.join(run_dir, "config.yaml"), saved_run=True)["data"], "test")
    samples = [dataset[i] for i in range(min(count, len(dataset)))]
    return np.stack([image for image, _ in samples]).astype(np.float32), np.array([int(label) for _, label in samples])


class Runners:
    """Named inference callables (numpy images -> numpy logits) of one framework, in one process of their own."""

    def __init__(self, runners, args):
        self.runners, self.args = dict(runners), args
        rng = np.random.default_rng(0)
        size = args["image_size"]
        self.batch = rng.standard_normal((args["batch"], 3, size, size), dtype=np.float32)
        self.single = self.batch[:1].copy()

    def modes(self):
        return list(self.runners)

    def int8(self):
        """The int8 report `paddle_side` read after calibrating, or None."""
        return getattr(self, "int8_report", None)

    def exported_onnx(self):
        """The ONNX file `paddle_side` wrote for the ONNX backends' processes."""
        return self.onnx_file

    def warm_up(self):
        for fn in self.runners.values():  # twice each: oneDNN builds its primitives per shape
            fn(self.batch), fn(self.single), fn(self.batch), fn(self.single)

    def top1(self, mode, images):
        fn, step = self.runners[mode], self.args["batch"]
        return np.concatenate([fn(images[i : i + step]).argmax(1) for i in range(0, len(images), step)])

    def throughput(self, mode, steps):
        """img/s over `steps` batches."""
        fn = self.runners[mode]
        start = time.perf_counter()
        for _ in range(steps):
            fn(self.batch)
        return len(self.batch) * steps / (time.perf_counter() - start)

    def peak_memory(self, mode):
        """Peak extra malloc bytes of one batch, untimed: the sampling thread wakes every 2 ms and each wake
        stalls a 2-thread parallel kernel at its barrier (OpenVINO int8 timed 75 instead of 100 img/s)."""
        with PeakMemory() as memory:
            self.runners[mode](self.batch)
        return memory.peak

    def latency_ms(self, mode, runs):
        fn, times = self.runners[mode], []
        for _ in range(runs):
            start = time.perf_counter()
            fn(self.single)
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)


def paddle_side(name, args):
    """paddle_attn's runners for `name` (or the checkpoint's network): dygraph, static oneDNN, Paddle Inference."""
    if not args["no_tuning"]:
        from paddle_attn.cpu import apply_cpu_settings

        apply_cpu_settings(args["threads"])
    import paddle
    from paddle.static import InputSpec

    import paddle_attn
    from paddle_attn.cpu import bf16_supported
    from paddle_attn.inference.paddle_inference import PaddleInferenceRunner

    paddle_attn.set_cpu_threads(args["threads"])
    if args["checkpoint"]:
        from paddle_attn.weights import load_model

        net, _ = load_model(args["checkpoint"])
    else:
        paddle.seed(0)
        net = paddle_attn.create_model(name, num_classes=args["num_classes"], stem=args["stem"])
    net.eval()
    from paddle_attn.inference.read_export import MODEL_PREFIX

    export_dir = tempfile.TemporaryDirectory(prefix="infer_speed_")  # removed when this process ends
    prefix = os.path.join(export_dir.name, MODEL_PREFIX)
    size = args["image_size"]
    paddle.jit.save(net, prefix, input_spec=[InputSpec([None, 3, size, size], "float32", "image")])
    program = prefix + (".json" if os.path.exists(prefix + ".json") else ".pdmodel")
    params = prefix + ".pdiparams"

    def dygraph(images):
        with paddle.no_grad():
            return net(paddle.to_tensor(images)).numpy()

    runners = [
        ("dygraph", dygraph),
        ("pi_native", PaddleInferenceRunner(program, params, threads=args["threads"], onednn=False)),
        ("pi_onednn", PaddleInferenceRunner(program, params, threads=args["threads"], onednn=True)),
    ]
    if bf16_supported():
        runners.append(
            ("pi_onednn_bf16", PaddleInferenceRunner(program, params, threads=args["threads"], precision="bf16"))
        )
    side = Runners(runners, args)
    side.export_dir = export_dir
    if args["onnx_backends"]:
        from paddle_attn.inference.onnx_conversion import export_onnx

        side.onnx_file = export_onnx(export_dir.name)
        if "int8" in args["onnx_backends"].get("openvino", ()):
            from paddle_attn.inference.int8 import quantize_int8, read_int8_report

            calibration, holdout = args["calibration_set"]
            quantize_int8(side.onnx_file, calibration, holdout_images=holdout)
            side.int8_report = read_int8_report(side.onnx_file)
    return side


def onnx_side(backend, precision, onnx_file, args, settings=None):
    """`onnx_file` in an ONNX backend ("onnxruntime", "openvino") at `precision`: one runner, named after it."""
    from paddle_attn.inference.onnxruntime_backend import OnnxRuntimeRunner
    from paddle_attn.inference.openvino_backend import OpenVINORunner

    runner_class = {"onnxruntime": OnnxRuntimeRunner, "openvino": OpenVINORunner}[backend]
    return Runners(
        [(precision, runner_class(onnx_file, threads=args["threads"], precision=precision, settings=settings))], args
    )


def onnx_backends_for(requested, int8=True):
    """{backend: [precisions]} of the ONNX backends to run: those installed for "auto"; int8 if `int8`."""
    import importlib.util

    if requested == "none":
        return {}
    names = ["onnxruntime", "openvino"] if requested == "auto" else requested.split(",")
    if importlib.util.find_spec("paddle2onnx") is None:
        return {}
    backends = {name: ["fp32"] for name in names if importlib.util.find_spec(name) is not None}
    if "openvino" in backends:
        from paddle_attn.inference.openvino_backend import bf16_supported

        backends["openvino"] += ["bf16"] if bf16_supported() else []
        backends["openvino"] += ["int8"] if int8 and importlib.util.find_spec("ml_dtypes") is not None else []
    return backends


def calibration_images(args):
    """(calibration, hold-out) int8 images, none in both: --calibration-images and --holdout-images of the
    checkpoint run's training split with the evaluation preprocessing, or of the generated set (other seeds than
    the agreement images)."""
    count, held = args.calibration_images, args.holdout_images
    if not args.checkpoint:
        return test_images(count, args.image_size, seed=8), test_images(held, args.image_size, seed=9)
    from paddle_attn.checkpoint import resolve

    run_dir = os.path.dirname(os.path.dirname(resolve(args.checkpoint)))  # <run>/checkpoints/<epoch>
    images = training_split_images(run_dir, count + held)
    return images[:count], images[count:]


def torch_side(name, modes, args):
    """The PyTorch reference of `name` in eval mode, in each of `modes`."""
    import torch

    torch.set_num_threads(args["threads"])
    net = torch_reference(name, args["num_classes"], args["stem"])
    net.eval()
    runners = []
    for mode in modes:
        channels_last, bf16 = mode.endswith("_cl"), mode.startswith("bf16")
        model = net.to(memory_format=torch.channels_last) if channels_last else net

        def run(images, model=model, channels_last=channels_last, bf16=bf16):
            x = torch.from_numpy(images)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(x).float().numpy()

        runners.append((mode, run))
    return Runners(runners, args)


def torch_modes_for(requested):
    if requested != "auto":
        return [] if requested == "none" else requested.split(",")
    try:
        import torch
    except ImportError:
        return []
    return ["fp32", "fp32_cl"] + (["bf16_cl"] if torch.ops.mkldnn._is_mkldnn_bf16_supported() else [])


def main():
    args = parse_args()
    if args.no_tuning:
        os.environ.setdefault("PADDLE_ATTN_FAST_BLAS", "0")  # before paddle_attn's import sets MKL's CPU type
    from paddle_attn.cpu import apply_cpu_settings, bf16_supported, set_cpu_threads

    tuning = {"threads": set_cpu_threads(args.threads)} if args.no_tuning else apply_cpu_settings(args.threads)
    args.threads = tuning["threads"]
    warnings.filterwarnings("ignore")
    torch_modes = [] if args.checkpoint else torch_modes_for(args.torch_modes)
    args.onnx_backends = onnx_backends_for(args.onnx, int8=args.calibration_images > 0)
    print(f"machine: {machine()}")
    print(f"{versions()}; settings: {tuning}; bf16 native: {bf16_supported()}")
    if args.checkpoint:
        from paddle_attn.checkpoint import read_state, resolve

        spec = read_state(resolve(args.checkpoint))["model"]
        args.num_classes, args.stem, names = spec["num_classes"], spec["stem"], [spec["name"]]
    else:
        names = args.models.split(",")
    print(
        f"batch {args.batch} and 1, {args.image_size}x{args.image_size}, {args.stem} stem; each framework in a "
        "process of its own",
        flush=True,
    )
    args.calibration_set = calibration_images(args) if "int8" in args.onnx_backends.get("openvino", ()) else None
    settings = vars(args)
    if args.checkpoint:
        agreement_set, labels = checkpoint_test_set(args.checkpoint, args.agreement_images)
        print(f"agreement and accuracy on {len(labels)} images of the run's test split")
    else:
        agreement_set, labels = test_images(args.agreement_images, args.image_size), None
    rows = []
    for name in names:
        sides = [("paddle_attn", Isolated(paddle_side, name, settings))]
        if args.onnx_backends:
            onnx_file = sides[0][1].call("exported_onnx")
            for backend, precisions in args.onnx_backends.items():
                sides += [
                    (backend, Isolated(onnx_side, backend, precision, onnx_file, settings)) for precision in precisions
                ]
        if torch_modes and torch_reference(name, args.num_classes, args.stem) is not None:
            with glibc_tunables(None if args.no_tuning else KEEP_FREED_MEMORY):
                sides.append(("pytorch", Isolated(torch_side, name, torch_modes, settings)))
        elif torch_modes:
            print(f"  (no PyTorch reference for {name} with the {args.stem} stem)")
        int8 = sides[0][1].call("int8")
        if int8:
            from paddle_attn.inference.int8 import int8_summary

            print(f"  int8 kept: {int8_summary(int8)}", flush=True)
        for _, side in sides:
            side.call("warm_up")
        reference = sides[0][1].call("top1", "dygraph", agreement_set)
        model_rows = []
        for framework, side in sides:
            for mode in side.call("modes"):
                agree = accuracy = None  # the PyTorch references carry other random weights
                if framework != "pytorch":
                    top1 = side.call("top1", mode, agreement_set)
                    agree = float((top1 == reference).mean())
                    accuracy = None if labels is None else float((top1 == labels).mean())
                model_rows.append(
                    {
                        "model": name,
                        "framework": framework,
                        "mode": mode,
                        "side": side,
                        "img_s": [],
                        "latency_ms": [],
                        "peak": 0,
                        "agree": agree,
                        "accuracy": accuracy,
                    }
                )
        for rep in range(args.repeats):
            for row in model_rows:
                time.sleep(SETTLE_S)
                row["img_s"].append(row["side"].call("throughput", row["mode"], args.steps))
                time.sleep(SETTLE_S)
                row["latency_ms"].append(row["side"].call("latency_ms", row["mode"], args.latency_runs))
            print(f"  {name}: repeat {rep + 1}/{args.repeats}, load {load()}", flush=True)
        for row in model_rows:
            row["peak"] = row.pop("side").call("peak_memory", row["mode"]) or 0
        for _, side in sides:
            side.close()
        rows += model_rows
    report(rows)
    print(f"load after: {load()}")


def report(rows):
    print()
    print(
        f"{'model':14s} {'framework':11s} {'mode':15s} {'b64 img/s':>9s} {'median':>7s} {'b1 ms':>7s} {'peak MiB':>8s} "
        f"{'/torch fp32':>11s} {'/torch best':>11s} {'b1 /torch':>9s} {'top-1 agree':>11s} {'test top-1':>10s}"
    )
    for row in rows:
        row["best"], row["b1_ms"] = max(row["img_s"]), min(row["latency_ms"])
        torch_rows = [r for r in rows if r["model"] == row["model"] and r["framework"] == "pytorch"]
        fp32 = next((r for r in torch_rows if r["mode"] == "fp32"), None)
        vs_fp32 = f"{row['best'] / max(fp32['img_s']):.2f}x" if fp32 else "-"
        vs_best = f"{row['best'] / max(max(r['img_s']) for r in torch_rows):.2f}x" if torch_rows else "-"
        b1_vs_best = f"{row['b1_ms'] / min(min(r['latency_ms']) for r in torch_rows):.2f}x" if torch_rows else "-"
        agree = "-" if row["agree"] is None else f"{100 * row['agree']:.1f}%"
        accuracy = "-" if row.get("accuracy") is None else f"{100 * row['accuracy']:.1f}%"
        print(
            f"{row['model']:14s} {row['framework']:11s} {row['mode']:15s} {row['best']:9.1f} "
            f"{statistics.median(row['img_s']):7.1f} {row['b1_ms']:7.2f} {mib(row['peak']):>8s} "
            f"{vs_fp32:>11s} {vs_best:>11s} {b1_vs_best:>9s} {agree:>11s} {accuracy:>10s}"
        )
    print(
        "\nb64 img/s: best repeat at the batch size; b1 ms: batch-1 latency, the lowest over the repeats of the median of --latency-runs calls; /torch: throughput over "
        "PyTorch's, same model and run; b1 /torch: batch-1 latency over PyTorch's lowest; top-1 agree: same "
        "class as paddle_attn dygraph fp32; test top-1: accuracy on the run's test split (--checkpoint)"
    )


if __name__ == "__main__":
    main()
