"""Size and cost of one network: parameters, FLOPs and CPU forward speed.

FLOPs follow `paddle.flops`' per-layer rules (paddle.hapi.dynamic_flops): one multiply-add is one
FLOP for Conv and Linear layers (plus one per output for a conv bias), BatchNorm counts 2 per
element, average pools 1 per output (adaptive ones also the window's additions). Every other
layer counts zero: activations, max pools, the attention gates' sigmoid and element-wise products,
NAM's scale-weighted BatchNorm, and functional ops inside `forward` (softmax, mean/max, products).
`paddle.flops` itself is called no more: with NumPy >= 2.4 its table code fails on `int()` of
one-element tensors (Paddle 3.3.1), so the same rules are summed here.
"""

import statistics
import time

import paddle
from paddle.hapi.dynamic_flops import register_hooks as PADDLE_FLOPS_RULES


def count_params(net):
    """`(total, trainable)` parameter counts, as `paddle.summary` reports them
    (total includes BatchNorm's running mean and variance)."""
    total = trainable = 0
    for param in net.parameters():
        size = int(param.numel())
        total += size
        trainable += 0 if param.stop_gradient else size
    return total, trainable


def count_flops(net, input_shape, by_layer=None):
    """`(flops, uncounted)`: FLOPs of one forward pass on a random `input_shape` (N, C, H, W) in eval
    mode, by `paddle.flops`' rules, and the sorted names of the layer types counted as zero.
    `by_layer`: a dict that receives each counted layer's FLOPs by its sublayer name."""
    counts, uncounted, handles = [], set(), []

    def hook(rule, name):
        def count(layer, inputs, output):
            layer.total_ops = 0  # the rules add to this attribute
            rule(layer, inputs, output)
            counts.append(int(layer.total_ops))
            if by_layer is not None:
                by_layer[name] = by_layer.get(name, 0) + counts[-1]
            del layer.total_ops

        return count

    for name, layer in net.named_sublayers(include_self=True):
        if layer.sublayers():
            continue
        rule = PADDLE_FLOPS_RULES.get(type(layer))
        if rule is None:
            uncounted.add(type(layer).__name__)
        else:
            handles.append(layer.register_forward_post_hook(hook(rule, name)))
    training = net.training
    net.eval()
    try:
        with paddle.no_grad():
            net(paddle.randn(input_shape))
    finally:
        for handle in handles:
            handle.remove()
        if training:
            net.train()
    return sum(counts), sorted(uncounted)


def measure_speed(net, batch_size, image_size, warmup=3, iterations=10):
    """`(ms_per_batch, images_per_second)` of forward passes in eval mode without gradients, after
    `warmup` untimed passes, on random `batch_size` x 3 x `image_size` x `image_size` inputs.
    The median pass is reported: other processes on the machine slow single passes down."""
    if batch_size < 1 or iterations < 1 or warmup < 0:
        raise ValueError(
            f"need batch_size >= 1, iterations >= 1, warmup >= 0; got {batch_size}, {iterations}, {warmup}"
        )
    net.eval()
    images = paddle.randn([batch_size, 3, image_size, image_size])
    seconds = []
    with paddle.no_grad():
        for _ in range(warmup):
            net(images)
        for _ in range(iterations):
            start = time.perf_counter()
            net(images).numpy()  # .numpy() waits for the result
            seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return 1000.0 * median, batch_size / median


def summarize(net, image_size):
    """Print `paddle.summary`'s layer table for one 3 x `image_size` x `image_size` image and return
    {"total_params", "trainable_params", "flops", "uncounted"} (see `count_flops`)."""
    counts = paddle.summary(net, (1, 3, image_size, image_size))
    flops, uncounted = count_flops(net, [1, 3, image_size, image_size])
    return {
        "total_params": int(counts["total_params"]),
        "trainable_params": int(counts["trainable_params"]),
        "flops": flops,
        "uncounted": uncounted,
    }
