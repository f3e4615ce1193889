"""Paddle's batch norm vs the onednn_batch_norm custom operator, training forward + backward (input, scale, shift).

Every distinct batch norm of resnet50_nam (CIFAR stem, 32 px, batch 64 by default), in each oneDNN layout, timed
interleaved in one process at Paddle's CPU settings (2 threads); each shape's median per call is weighted by how often the network runs it.
Errors: max |diff| / max |Paddle's| over the output and the three gradients.

    PYTHONPATH=. python benchmarks/onednn_batch_norm.py [--rounds 5] [--model resnet50_nam] [--batch 64]
"""

import argparse
import collections
import math
import statistics

from common import load, machine, timed, versions
from onednn_conv import relative_error, run_with_hook

import paddle_attn


def batch_norm_shapes(model, size, batch):
    """Counter of the NCHW input shapes (batch set to `batch`) of `model`'s BatchNorm2D layers on `size` px images."""
    import paddle

    counts = collections.Counter()

    def record(layer, inputs):
        counts[(batch, *inputs[0].shape[1:])] += 1

    run_with_hook(model, size, paddle.nn.BatchNorm2D, record)
    return counts


def shape_arguments(doc):
    """The parser of the options both element-wise benchmarks share: whose shapes, and how long to time them."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--model", default="resnet50_nam")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.1, help="per timed sample")
    return parser


def runners(layouts):
    """name -> fn(x, mean, var, w, b) giving the training forward's output: "paddle" and each oneDNN layout."""
    import functools

    import paddle.nn.functional as F

    from paddle_attn.kernels.onednn.batch_norm import batch_norm

    def paddle_bn(x, mean, var, w, b):
        return F.batch_norm(x, mean, var, w, b, training=True)

    def onednn_bn(x, mean, var, w, b, layout):
        return batch_norm(x, mean, var, w, b, training=True, layout=layout)

    return {"paddle": paddle_bn, **{m: functools.partial(onednn_bn, layout=m) for m in layouts}}


def measure(shape, layouts, rounds, min_seconds):
    """Median ms per forward + backward of each runner, and the worst relative error against Paddle's."""
    import paddle

    channels = shape[1]
    x = paddle.randn(shape) * 2 + 0.5
    w, b = paddle.rand([channels]) + 0.5, paddle.randn([channels])
    x.stop_gradient = w.stop_gradient = b.stop_gradient = False
    dy = paddle.randn(shape)
    fns = runners(layouts)

    def step(name):
        y = fns[name](x, paddle.zeros([channels]), paddle.ones([channels]), w, b)
        return [y, *paddle.grad([y], [x, w, b], [dy])]

    reference = step("paddle")
    error = max(relative_error(ours, theirs) for m in layouts for ours, theirs in zip(step(m), reference))
    calls = max(1, math.ceil(min_seconds / timed(lambda: step("paddle"), 1)))
    samples = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):  # interleaved, the order rotating, so load changes hit every runner alike
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(timed(lambda n=name: step(n), calls) / calls * 1000)
    return {name: statistics.median(v) for name, v in samples.items()}, error


def main():
    parser = shape_arguments(__doc__)
    parser.add_argument("--layouts", default="nchw,blocked", help="oneDNN activation layouts (batch_norm.py)")
    args = parser.parse_args()
    layouts = args.layouts.split(",")
    settings = paddle_attn.apply_cpu_settings(threads=2)
    print(f"{machine()}\n{versions()}\nPaddle side: {settings}; oneDNN follows Paddle's thread count")
    from paddle_attn.kernels.onednn.build import load_ops

    load_ops()
    model = paddle_attn.create_model(args.model, num_classes=100, stem="cifar")
    counts = batch_norm_shapes(model, args.image_size, args.batch)
    print(f"\n### {args.model}, {args.image_size} px, batch {args.batch}: batch norm fwd + bwd (load {load()})")
    print("| N, C, H, W | count | Paddle ms | " + " | ".join(f"{m} ms" for m in layouts) + " | rel err |")
    print("|" + " --- |" * (len(layouts) + 4))
    sums = collections.Counter()
    for shape, count in sorted(counts.items(), key=lambda kv: (-kv[0][2], kv[0][1])):
        ms, error = measure(shape, layouts, args.rounds, args.min_seconds)
        for name, value in ms.items():
            sums[name] += count * value
        cells = " | ".join(f"{ms[n]:.2f}" for n in ["paddle", *layouts])
        print(f"| {', '.join(map(str, shape))} | {count} | {cells} | {error:.1e} |", flush=True)
    print("| **weighted sum** | | " + " | ".join(f"{sums[n]:.1f}" for n in ["paddle", *layouts]) + " | |")
    print("Paddle / oneDNN: " + ", ".join(f"{n} {sums['paddle'] / sums[n]:.2f}x" for n in layouts))
    print(f"(load after: {load()})")


if __name__ == "__main__":
    main()
