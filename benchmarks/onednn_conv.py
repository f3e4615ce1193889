"""Issue 20's go/no-go: Paddle's conv2d vs the onednn_conv2d custom operator, forward + backward (data and weights).

Every distinct convolution of resnet50_nam (CIFAR stem at 32 px, ImageNet stem at 224 px) and EPSANet's grouped
convolutions, timed interleaved in one process at Paddle's CPU settings (2 threads, MKL's AVX2 path on AMD);
each shape's median per call is weighted by how often the network runs it. Errors: max |diff| / max |Paddle's|.

    PYTHONPATH=. python benchmarks/onednn_conv.py [--rounds 5] [--layouts auto,any,nchw,nhwc]
"""

import argparse
import collections
import math
import statistics

from common import load, machine, timed, versions

import paddle_attn

ConvShape = collections.namedtuple("ConvShape", "batch in_c size out_c kernel stride pad dilation groups")


def conv_shapes(model, size, batch):
    """Counter of the ConvShapes one forward pass of `model` on `size` px images runs (batch set to `batch`)."""
    import paddle

    counts = collections.Counter()

    def record(layer, inputs):
        x = inputs[0]
        assert x.shape[2] == x.shape[3] and len(set(layer._stride)) == 1 and len(set(layer._updated_padding)) == 1
        counts[
            ConvShape(
                batch,
                x.shape[1],
                x.shape[2],
                layer.weight.shape[0],
                layer._kernel_size[0],
                layer._stride[0],
                layer._updated_padding[0],
                layer._dilation[0],
                layer._groups,
            )
        ] += 1

    run_with_hook(model, size, paddle.nn.Conv2D, record)
    return counts


def run_with_hook(model, size, layer_type, record):
    """One eval forward of `model` on a `size` px image calling `record(layer, inputs)` before every `layer_type`."""
    import paddle

    handles = [layer.register_forward_pre_hook(record) for layer in model.sublayers() if isinstance(layer, layer_type)]
    model.eval()
    with paddle.no_grad():
        model(paddle.zeros([1, 3, size, size]))
    for handle in handles:
        handle.remove()


def step(conv, x, w, dy, s):
    """One forward + backward (data and weights); returns y, dx, dw."""
    import paddle

    y = conv(x, w, stride=s.stride, padding=s.pad, dilation=s.dilation, groups=s.groups)
    return [y, *paddle.grad([y], [x, w], [dy])]


def relative_error(ours, theirs):
    return float((ours - theirs).abs().max() / max(float(theirs.abs().max()), 1e-30))


def measure(s, layouts, rounds, min_seconds):
    """Median ms per call of Paddle's and each oneDNN layout mode, and the worst relative errors (y, dx, dw)."""
    import functools

    import paddle
    import paddle.nn.functional as F

    from paddle_attn.kernels.onednn.conv import conv2d

    x = paddle.randn([s.batch, s.in_c, s.size, s.size])
    w = paddle.randn([s.out_c, s.in_c // s.groups, s.kernel, s.kernel]) * 0.1
    x.stop_gradient = w.stop_gradient = False
    out_size = (s.size + 2 * s.pad - s.dilation * (s.kernel - 1) - 1) // s.stride + 1
    dy = paddle.randn([s.batch, s.out_c, out_size, out_size])
    runners = {"paddle": F.conv2d, **{m: functools.partial(conv2d, layout=m) for m in layouts}}
    reference = step(F.conv2d, x, w, dy, s)
    errors = [0.0, 0.0, 0.0]
    for name in layouts:  # the warm-up call builds the primitives and gives the errors
        for i, (ours, theirs) in enumerate(zip(step(runners[name], x, w, dy, s), reference)):
            errors[i] = max(errors[i], relative_error(ours, theirs))
    once = timed(lambda: step(F.conv2d, x, w, dy, s), 1)
    calls = max(1, math.ceil(min_seconds / once))
    samples = {name: [] for name in runners}
    names = list(runners)
    for r in range(rounds):  # interleaved, and the order rotates, so load changes hit every runner alike
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(timed(lambda n=name: step(runners[n], x, w, dy, s), calls) / calls * 1000)
    return {name: statistics.median(v) for name, v in samples.items()}, errors


def report(title, counts, layouts, rounds, min_seconds):
    """Print one table and its weighted sums; returns (Paddle's sum, oneDNN's first-layout sum)."""
    print(f"\n### {title} (load {load()})")
    head = " | ".join(f"oneDNN {m} ms" for m in layouts)
    print(
        f"| in -> out, size, k, stride, pad, dil, groups | count | Paddle ms | {head} | ratio ({layouts[0]}) "
        "| best ratio | rel err y / dx / dw |"
    )
    print("|" + " --- |" * (6 + len(layouts)))
    sums = collections.Counter()
    for s, count in sorted(counts.items(), key=lambda kv: (-kv[0].size, kv[0].in_c, kv[0].out_c, kv[0].kernel)):
        ms, errors = measure(s, layouts, rounds, min_seconds)
        best = min(ms[m] for m in layouts)
        for name, value in {**ms, "best": best}.items():
            sums[name] += count * value
        cells = " | ".join(f"{ms[m]:.2f}" for m in layouts)
        print(
            f"| {s.in_c} -> {s.out_c}, {s.size}, {s.kernel}, {s.stride}, {s.pad}, {s.dilation}, {s.groups} | "
            f"{count} | {ms['paddle']:.2f} | {cells} | {ms['paddle'] / ms[layouts[0]]:.2f}x | "
            f"{ms['paddle'] / best:.2f}x | {errors[0]:.1e} / {errors[1]:.1e} / {errors[2]:.1e} |",
            flush=True,
        )
    cells = " | ".join(f"{sums[m]:.1f}" for m in layouts)
    print(
        f"| **weighted sum** | | {sums['paddle']:.1f} | {cells} | {sums['paddle'] / sums[layouts[0]]:.2f}x | "
        f"{sums['paddle'] / sums['best']:.2f}x | |"
    )
    print(f"(load after: {load()})")
    return sums["paddle"], sums[layouts[0]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--layouts", default="auto,any,nchw,nhwc", help="oneDNN activation layouts; the first decides")
    parser.add_argument("--min-seconds", type=float, default=0.1, help="per timed sample")
    parser.add_argument("--sections", default="32,224,epsanet")
    parser.add_argument("--batch-32", type=int, default=64)
    parser.add_argument("--batch-224", type=int, default=8)
    args = parser.parse_args()
    settings = paddle_attn.apply_cpu_settings(threads=2)  # before any conv: MKL reads its CPU type once
    layouts = args.layouts.split(",")
    print(f"{machine()}\n{versions()}\nPaddle side: {settings}; oneDNN follows Paddle's thread count")
    from paddle_attn.kernels.onednn.build import build_seconds, cache_directory, load_ops

    load_ops()
    print(f"operator: {cache_directory()} (built in this process: {build_seconds()} s)")
    sections = args.sections.split(",")
    totals = collections.Counter()
    for size, stem, batch in ((32, "cifar", args.batch_32), (224, "imagenet", args.batch_224)):
        if str(size) in sections:
            model = paddle_attn.create_model("resnet50_nam", num_classes=100, stem=stem)
            paddle_sum, onednn_sum = report(
                f"resnet50_nam, {stem} stem, {size} px, batch {batch}",
                conv_shapes(model, size, batch),
                layouts,
                args.rounds,
                args.min_seconds,
            )
            totals["paddle"] += paddle_sum
            totals["onednn"] += onednn_sum
    if "epsanet" in sections:
        shapes = conv_shapes(paddle_attn.create_model("epsanet50", num_classes=100, stem="cifar"), 32, args.batch_32)
        firsts = {}
        for s, count in shapes.items():  # the first grouped conv of each group count, as the network runs it
            if s.groups > 1:
                firsts.setdefault(s.groups, (s, count))
        report(
            "epsanet50 grouped convs (first of each group count), cifar stem, 32 px",
            dict(firsts.values()),
            layouts,
            args.rounds,
            args.min_seconds,
        )
    if totals["onednn"]:
        print(
            f"\nresnet50_nam, both sizes: Paddle {totals['paddle']:.1f} ms, oneDNN ({layouts[0]}) "
            f"{totals['onednn']:.1f} ms, {totals['paddle'] / totals['onednn']:.2f}x"
        )


if __name__ == "__main__":
    main()
