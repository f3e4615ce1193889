"""The start-up check of the oneDNN operators against Paddle's own: outputs and gradients on small cases."""

import functools

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_attn.kernels.onednn.batch_norm import batch_norm
from paddle_attn.kernels.onednn.conv import conv2d
from paddle_attn.kernels.onednn.eltwise import add_relu, relu, sigmoid

# relative to the largest magnitude of Paddle's result: fp32 sums of <= 400 terms stay far below, a wrong kernel far above
TOLERANCE = 1e-4
# bf16 products against Paddle's fp32: 8 significant bits give ~3e-3 on these cases (measured), a wrong kernel ~1
BF16_TOLERANCE = 2e-2

# (input NCHW, weight OIHW, stride, padding, groups): the kinds the networks use (3x3, 1x1, strided, stem, grouped)
CASES = (
    ((2, 8, 9, 9), (16, 8, 3, 3), 1, 1, 1),
    ((2, 16, 8, 8), (8, 16, 1, 1), 2, 0, 1),
    ((2, 3, 12, 12), (8, 3, 7, 7), 2, 3, 1),
    ((2, 16, 9, 9), (8, 4, 5, 5), 1, 2, 4),
    ((2, 16, 8, 8), (16, 2, 7, 7), 1, 3, 8),
)
# batch norm: C = 24 is no multiple of the blocked layout's channel block
BATCH_NORM_SHAPE = (4, 24, 5, 7)


def _relative_error(ours, theirs):
    return float((ours - theirs).abs().max()) / max(float(theirs.abs().max()), 1e-30)


def _tensor(rng, shape):
    return paddle.to_tensor(rng.standard_normal(shape, dtype=np.float32), place=paddle.CPUPlace())


def _first_mismatch(names, ours, theirs, what, tolerance=TOLERANCE):
    for name, a, b in zip(names, ours, theirs):
        error = _relative_error(a, b)
        if not error <= tolerance:  # also catches NaN
            return f"{name} of {what} differs by {error:.1e} relative"
    return None


def conv_self_check(rng, precision="fp32"):
    """None when onednn_conv2d with products in `precision` matches Paddle's fp32 conv2d on every case (within bf16's
    precision for bf16), else the first mismatch."""
    ours = functools.partial(conv2d, precision=precision)
    for x_shape, w_shape, stride, padding, groups in CASES:
        x, w = _tensor(rng, x_shape), _tensor(rng, w_shape)
        dy = None
        results = []
        for conv in (ours, F.conv2d):
            x.stop_gradient = w.stop_gradient = False
            y = conv(x, w, None, stride=stride, padding=padding, groups=groups)
            if dy is None:
                dy = _tensor(rng, y.shape)
            results.append([y, *paddle.grad([y], [x, w], [dy])])
        what = f"a {w_shape[2]}x{w_shape[3]} conv (groups {groups}, {precision})"
        tolerance = BF16_TOLERANCE if precision == "bf16" else TOLERANCE
        problem = _first_mismatch(("output", "input gradient", "weight gradient"), *results, what, tolerance)
        if problem:
            return problem
    return None


def activation_self_check(rng):
    """None when onednn_eltwise's ReLU and sigmoid and onednn_add_relu match Paddle's (output and input gradients),
    else the first mismatch."""
    shape = (2, 8, 5, 7)
    x, y, dy = _tensor(rng, shape), _tensor(rng, shape), _tensor(rng, shape)
    cases = (
        ("ReLU", relu, F.relu, [x]),
        ("sigmoid", sigmoid, F.sigmoid, [x]),
        ("residual add + ReLU", add_relu, lambda a, b: F.relu(a + b), [x, y]),
    )
    for name, ours, theirs, inputs in cases:
        results = []
        for activation in (ours, theirs):
            for t in inputs:
                t.stop_gradient = False
            out = activation(*inputs)
            results.append([out, *paddle.grad([out], inputs, [dy])])
        names = ("output", *(f"gradient of input {i + 1}" for i in range(len(inputs))))
        problem = _first_mismatch(names, *results, f"a {name}")
        if problem:
            return problem
    return None


def batch_norm_self_check(rng, layout):
    """None when onednn_batch_norm in `layout` matches Paddle's batch norm as OneDNNBatchNorm2D runs it (training:
    output, three gradients, running statistics), else the first mismatch."""
    channels = BATCH_NORM_SHAPE[1]
    x, weight, bias, dy = (_tensor(rng, s) for s in (BATCH_NORM_SHAPE, [channels], [channels], BATCH_NORM_SHAPE))
    results = []
    for norm in ("onednn", "paddle"):
        mean, var = paddle.zeros([channels]), paddle.ones([channels])
        x.stop_gradient = weight.stop_gradient = bias.stop_gradient = False
        if norm == "onednn":
            y = batch_norm(x, mean, var, weight, bias, training=True, layout=layout)
        else:
            y = F.batch_norm(x, mean, var, weight, bias, training=True)
        results.append([y, *paddle.grad([y], [x, weight, bias], [dy]), mean, var])
    names = ("output", "input gradient", "scale gradient", "shift gradient", "running mean", "running variance")
    return _first_mismatch(names, *results, f"a batch norm ({layout})")


def self_check(batch_norm_layout=None, precision="fp32"):
    """None when the convolution in `precision`, the activations (and the batch norm in `batch_norm_layout`, if
    given) match Paddle's kernels, else a one-line description of the first mismatch. Draws from its own random
    generator, not Paddle's."""
    rng = np.random.default_rng(0)
    problem = conv_self_check(rng, precision) or activation_self_check(rng)
    if problem is None and batch_norm_layout is not None:
        problem = batch_norm_self_check(rng, batch_norm_layout)
    return problem
