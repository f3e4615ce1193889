"""Which ONNX Runtime and OpenVINO session settings are fastest on this CPU: the runners' SETTINGS come from here.

    python benchmarks/backend_settings.py                       # resnet50_nam, CIFAR stem, 32x32, 100 classes
    python benchmarks/backend_settings.py --models resnet18_nam --stem imagenet --num-classes 10 --rounds 8

Each setting runs in a process of its own, all taking turns in every round: batch-64 images/s (best and
median over rounds of --steps batches) and batch-1 latency (best and median over rounds of the median of
--latency-runs calls). Other work on the machine slows single rounds down; the best of many rounds is
the setting's own speed, the median shows how it suffers from contention.
"""

import argparse
import os
import statistics
import tempfile
import warnings

from common import Isolated, load, machine, versions
from infer_speed import onnx_side

VARIANTS = (
    ("onnxruntime", "default", {}),
    ("onnxruntime", "no spinning", {"spinning": False}),
    ("onnxruntime", "extended optimization", {"optimization": "extended"}),
    ("onnxruntime", "basic optimization", {"optimization": "basic"}),
    ("onnxruntime", "parallel, 2 inter-op", {"execution": "parallel", "inter_op_threads": 2}),
    ("openvino", "LATENCY hint", {"PERFORMANCE_HINT": "LATENCY"}),
    ("openvino", "THROUGHPUT hint", {"PERFORMANCE_HINT": "THROUGHPUT"}),
    ("openvino", "THROUGHPUT, 1 stream", {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 1}),
    ("openvino", "LATENCY, 2 streams", {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 2}),
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet50_nam")
    parser.add_argument("--num-classes", type=int, default=100)
    parser.add_argument("--stem", default="cifar", choices=("cifar", "imagenet"))
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=2, help="batches per round (default 2)")
    parser.add_argument("--latency-runs", type=int, default=15)
    return parser.parse_args()


def export_random_network(name, args, out_dir):
    """`name` with seeded random weights as an export directory with model.onnx; returns the ONNX path."""
    import paddle
    from paddle.static import InputSpec

    import paddle_attn
    from paddle_attn.inference.onnx_conversion import export_onnx
    from paddle_attn.inference.read_export import MODEL_PREFIX

    paddle.seed(0)
    net = paddle_attn.create_model(name, num_classes=args.num_classes, stem=args.stem)
    net.eval()
    size = args.image_size
    paddle.jit.save(
        net, os.path.join(out_dir, MODEL_PREFIX), input_spec=[InputSpec([None, 3, size, size], "float32", "image")]
    )
    return export_onnx(out_dir)


def main():
    args = parse_args()
    from paddle_attn.cpu import available_cores

    args.threads = args.threads or available_cores()
    warnings.filterwarnings("ignore")
    print(f"machine: {machine()}")
    print(
        f"{versions()}; {args.threads} threads; batch {args.batch} and 1, {args.image_size}x{args.image_size}, "
        f"{args.stem} stem; each setting in a process of its own",
        flush=True,
    )
    settings = {"batch": args.batch, "image_size": args.image_size, "threads": args.threads}
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory(prefix="backend_settings_") as tmp:
            onnx_file = export_random_network(name, args, tmp)
            sides = [
                Isolated(onnx_side, backend, "fp32", onnx_file, settings, variant) for backend, _, variant in VARIANTS
            ]
            for side in sides:
                side.call("warm_up")
            img_s, latency = [[] for _ in sides], [[] for _ in sides]
            for rnd in range(args.rounds):
                for i, side in enumerate(sides):
                    (mode,) = side.call("modes")
                    img_s[i].append(side.call("throughput", mode, args.steps))
                    latency[i].append(side.call("latency_ms", mode, args.latency_runs))
                print(f"  {name}: round {rnd + 1}/{args.rounds}, load {load()}", flush=True)
            for side in sides:
                side.close()
        print(
            f"\n{name}: {'backend':12s} {'setting':24s} {'b64 best':>8s} {'median':>7s} {'b1 ms best':>10s} {'median':>7s}"
        )
        for (backend, label, _), speeds, times in zip(VARIANTS, img_s, latency, strict=True):
            print(
                f"{name}: {backend:12s} {label:24s} {max(speeds):8.1f} {statistics.median(speeds):7.1f} "
                f"{min(times):10.2f} {statistics.median(times):7.2f}"
            )
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
