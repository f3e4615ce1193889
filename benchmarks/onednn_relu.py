"""Paddle's relu vs the onednn_eltwise custom operator's, forward + backward, on the shapes resnet50_nam's batch norms
output (CIFAR stem, 32 px, batch 64 by default: a ReLU follows most of them), interleaved, 2 threads, weighted by use.

    PYTHONPATH=. python benchmarks/onednn_relu.py [--rounds 5] [--model resnet50_nam] [--batch 64]
"""

import collections
import math
import statistics

from common import load, machine, timed, versions
from onednn_batch_norm import batch_norm_shapes, shape_arguments

import paddle_attn


def measure(shape, rounds, min_seconds):
    """Median ms per forward + backward of Paddle's relu and of onednn_eltwise's."""
    import paddle
    import paddle.nn.functional as F

    from paddle_attn.kernels.onednn.eltwise import relu

    x = paddle.randn(shape)
    x.stop_gradient = False
    dy = paddle.randn(shape)
    fns = {"paddle": F.relu, "onednn": relu}

    def step(name):
        return paddle.grad([fns[name](x)], [x], [dy])

    step("onednn")
    calls = max(1, math.ceil(min_seconds / timed(lambda: step("paddle"), 1)))
    samples = {name: [] for name in fns}
    for r in range(rounds):  # interleaved, the order alternating, so load changes hit both alike
        for name in ("paddle", "onednn") if r % 2 == 0 else ("onednn", "paddle"):
            samples[name].append(timed(lambda n=name: step(n), calls) / calls * 1000)
    return {name: statistics.median(v) for name, v in samples.items()}


def main():
    parser = shape_arguments(__doc__)
    args = parser.parse_args()
    settings = paddle_attn.apply_cpu_settings(threads=2)
    print(f"{machine()}\n{versions()}\nPaddle side: {settings}; oneDNN follows Paddle's thread count")
    counts = batch_norm_shapes(
        paddle_attn.create_model(args.model, num_classes=100, stem="cifar"), args.image_size, args.batch
    )
    print(f"\n### {args.model}, {args.image_size} px, batch {args.batch}: ReLU fwd + bwd (load {load()})")
    print("| N, C, H, W | count | Paddle ms | oneDNN ms | ratio |\n| --- | --- | --- | --- | --- |")
    sums = collections.Counter()
    for shape, count in sorted(counts.items(), key=lambda kv: (-kv[0][2], kv[0][1])):
        ms = measure(list(shape), args.rounds, args.min_seconds)
        for name, value in ms.items():
            sums[name] += count * value
        ratio = ms["paddle"] / ms["onednn"]
        print(f"| {', '.join(map(str, shape))} | {count} | {ms['paddle']:.2f} | {ms['onednn']:.2f} | {ratio:.2f}x |")
    ratio = sums["paddle"] / sums["onednn"]
    print(f"| **weighted sum** | | {sums['paddle']:.1f} | {sums['onednn']:.1f} | {ratio:.2f}x |")
    print(f"(load after: {load()})")


if __name__ == "__main__":
    main()
