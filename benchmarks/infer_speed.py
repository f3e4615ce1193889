"""Inference speed on the CPU: paddle_attn's dygraph and exported model (Paddle Inference) against PyTorch eval.

    python benchmarks/infer_speed.py                               # resnet50_nam, 32x32, batch 1 and 64
    python benchmarks/infer_speed.py --models resnet50 --checkpoint output/run   # a trained network's weights

For each model: batch-1 latency (median of --latency-runs calls, ms) and batch-64 throughput (best of
--repeats rounds of --steps batches, img/s), every runner taking turns in each round. Runners:

    paddle_attn dygraph      net(x) under paddle.no_grad()
    paddle_attn pi_native    the exported model (paddle.jit.save) through Paddle Inference, oneDNN off
    paddle_attn pi_onednn    the same, oneDNN on (fp32): what tools/infer.py and evaluation use
    paddle_attn static_onednn    acceleration.static_forward(net): the dygraph network as a PIR program
                             on oneDNN kernels, no export (evaluation during training)
    paddle_attn pi_onednn_bf16   oneDNN bf16, only where the CPU has AVX-512 BF16 or AMX
    pytorch     fp32, fp32_cl (channels_last), bf16_cl (autocast + channels_last, native bf16 CPUs only)

Agreement: every runner's top-1 class against dygraph fp32's on --agreement-images test images (the
synthetic CIFAR stand-in of paddle_attn.data.synthetic; the PyTorch runners carry different random
weights unless converted, so their agreement is not computed). With random weights the logits are close
together and the agreement is a harsh test; --checkpoint gives a trained network.
"""

import argparse
import os
import resource
import statistics
import tempfile
import time
import warnings

import numpy as np
from common import PeakMemory, load, machine, mib, torch_reference, versions  # common sets sys.path

DEFAULT_MODELS = "resnet50_nam"


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
    return parser.parse_args()


def test_images(count, size):
    """`count` normalized CHW float32 images of the synthetic CIFAR stand-in, resized to `size`."""
    from paddle_attn.data.synthetic import make_images

    per_class = -(-count // 10)
    images, _ = make_images(per_class, seed=7)
    images = images[:count].astype(np.float32) / 255.0
    images = (images - 0.5) / 0.25
    images = images.transpose(0, 3, 1, 2)
    if size != images.shape[-1]:
        reps = -(-size // images.shape[-1])
        images = np.tile(images, (1, 1, reps, reps))[:, :, :size, :size]
    return np.ascontiguousarray(images)


def paddle_runners(net, name, args, export_dir):
    import paddle
    from paddle.static import InputSpec

    from paddle_attn import acceleration

    net.eval()
    prefix = os.path.join(export_dir, name)
    paddle.jit.save(net, prefix, input_spec=[InputSpec([None, 3, args.image_size, args.image_size], "float32", "image")])
    program = prefix + (".json" if os.path.exists(prefix + ".json") else ".pdmodel")
    params = prefix + ".pdiparams"

    def dygraph(images):
        with paddle.no_grad():
            return net(paddle.to_tensor(images)).numpy()

    runners = [("dygraph", dygraph),
               ("static_onednn", lambda images, fwd=acceleration.static_forward(net): fwd(paddle.to_tensor(images)).numpy()),
               ("pi_native", acceleration.create_predictor(program, params, threads=args.threads, onednn=False)),
               ("pi_onednn", acceleration.create_predictor(program, params, threads=args.threads, onednn=True))]
    if acceleration.bf16_supported():
        runners.append(("pi_onednn_bf16", acceleration.create_predictor(program, params, threads=args.threads,
                                                                         precision="bf16")))
    return runners


def torch_runners(name, args, modes):
    import torch

    net = torch_reference(name, args.num_classes, args.stem)
    if net is None:
        print(f"  (no PyTorch reference for {name} with the {args.stem} stem)")
        return []
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
    return runners


def main():
    args = parse_args()
    if args.no_tuning:
        os.environ.setdefault("PADDLE_ATTN_FAST_BLAS", "0")  # before paddle_attn's import sets MKL's CPU type
    from paddle_attn import acceleration, set_cpu_threads

    tuning = {"threads": set_cpu_threads(args.threads)} if args.no_tuning else acceleration.speed_up_cpu(args.threads)
    args.threads = tuning["threads"]
    warnings.filterwarnings("ignore")
    import paddle

    import paddle_attn

    torch_modes = args.torch_modes
    try:
        import torch

        torch.set_num_threads(args.threads)
        if torch_modes == "auto":
            torch_modes = "fp32,fp32_cl" + (",bf16_cl" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "")
    except ImportError:
        torch_modes = "none"
    torch_modes = [] if torch_modes == "none" else torch_modes.split(",")

    print(f"machine: {machine()}")
    print(f"{versions()}; settings: {tuning}; bf16 native: {acceleration.bf16_supported()}")
    print(f"batch {args.batch} and 1, {args.image_size}x{args.image_size}, {args.stem} stem", flush=True)

    models = []
    if args.checkpoint:
        from paddle_attn.checkpoint import load_model

        net, state = load_model(args.checkpoint)
        spec = state["model"]
        args.num_classes, args.stem = spec["num_classes"], spec["stem"]
        models.append((spec["name"], net))
    else:
        for name in args.models.split(","):
            paddle.seed(0)
            models.append((name, paddle_attn.create_model(name, num_classes=args.num_classes, stem=args.stem)))

    rng = np.random.default_rng(0)
    batch = rng.standard_normal((args.batch, 3, args.image_size, args.image_size), dtype=np.float32)
    single = batch[:1].copy()
    agreement_set = test_images(args.agreement_images, args.image_size)
    rows = []
    with tempfile.TemporaryDirectory() as export_dir:
        for name, net in models:
            runners = [("paddle_attn", mode, fn) for mode, fn in paddle_runners(net, name, args, export_dir)]
            if not args.checkpoint:
                runners += [("pytorch", mode, fn) for mode, fn in torch_runners(name, args, torch_modes)]
            reference = None
            for framework, mode, fn in runners:
                fn(batch), fn(single)  # warm-up: oneDNN primitives for both shapes
                fn(batch), fn(single)
            for framework, mode, fn in runners:
                top1 = np.concatenate([fn(agreement_set[i:i + args.batch]).argmax(1)
                                       for i in range(0, len(agreement_set), args.batch)])
                if mode == "dygraph":
                    reference = top1
                rows.append({"model": name, "framework": framework, "mode": mode, "fn": fn, "img_s": [],
                             "peak": 0, "agree": float((top1 == reference).mean()) if framework == "paddle_attn" else None})
            for rep in range(args.repeats):
                for row in (r for r in rows if r["model"] == name):
                    with PeakMemory() as memory:
                        start = time.perf_counter()
                        for _ in range(args.steps):
                            row["fn"](batch)
                        row["img_s"].append(args.batch * args.steps / (time.perf_counter() - start))
                    row["peak"] = max(row["peak"], memory.peak or 0)
                print(f"  {name}: repeat {rep + 1}/{args.repeats}, load {load()}", flush=True)
            for row in (r for r in rows if r["model"] == name):
                times = []
                for _ in range(args.latency_runs):
                    start = time.perf_counter()
                    row["fn"](single)
                    times.append(time.perf_counter() - start)
                row["latency_ms"] = 1000 * statistics.median(times)
    report(rows)
    print(f"load after: {load()}; process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def report(rows):
    print()
    print(f"{'model':14s} {'framework':11s} {'mode':15s} {'b64 img/s':>9s} {'median':>7s} {'b1 ms':>7s} {'peak MiB':>8s} "
          f"{'/torch fp32':>11s} {'/torch best':>11s} {'top-1 agree':>11s}")
    for row in rows:
        row["best"] = max(row["img_s"])
        torch_rows = [r for r in rows if r["model"] == row["model"] and r["framework"] == "pytorch"]
        fp32 = next((r for r in torch_rows if r["mode"] == "fp32"), None)
        vs_fp32 = f"{row['best'] / max(fp32['img_s']):.2f}x" if fp32 else "-"
        vs_best = f"{row['best'] / max(max(r['img_s']) for r in torch_rows):.2f}x" if torch_rows else "-"
        agree = "-" if row["agree"] is None else f"{100 * row['agree']:.1f}%"
        print(f"{row['model']:14s} {row['framework']:11s} {row['mode']:15s} {row['best']:9.1f} "
              f"{statistics.median(row['img_s']):7.1f} {row['latency_ms']:7.1f} {mib(row['peak']):>8s} "
              f"{vs_fp32:>11s} {vs_best:>11s} {agree:>11s}")
    print("\nb64 img/s: best repeat at the batch size; b1 ms: median batch-1 latency; /torch: throughput over "
          "PyTorch's, same model and run; top-1 agree: same class as paddle_attn dygraph fp32")


if __name__ == "__main__":
    main()
