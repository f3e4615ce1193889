"""The start-up check of the oneDNN convolution against Paddle's own: forward and both gradients on small cases."""

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_attn.kernels.onednn.conv import conv2d

# relative to the largest magnitude of Paddle's result: fp32 sums of <= 400 terms stay far below, a wrong kernel far above
TOLERANCE = 1e-4

# (input NCHW, weight OIHW, stride, padding, groups): the kinds the networks use (3x3, 1x1, strided, stem, grouped)
CASES = (
    ((2, 8, 9, 9), (16, 8, 3, 3), 1, 1, 1),
    ((2, 16, 8, 8), (8, 16, 1, 1), 2, 0, 1),
    ((2, 3, 12, 12), (8, 3, 7, 7), 2, 3, 1),
    ((2, 16, 9, 9), (8, 4, 5, 5), 1, 2, 4),
    ((2, 16, 8, 8), (16, 2, 7, 7), 1, 3, 8),
)


def _relative_error(ours, theirs):
    return float((ours - theirs).abs().max()) / max(float(theirs.abs().max()), 1e-30)


def self_check():
    """None when onednn_conv2d matches Paddle's conv2d on every case (output, input and weight gradients), else
    a one-line description of the first mismatch. Draws from its own random generator, not Paddle's."""
    rng = np.random.default_rng(0)
    for x_shape, w_shape, stride, padding, groups in CASES:
        x = paddle.to_tensor(rng.standard_normal(x_shape, dtype=np.float32), place=paddle.CPUPlace())
        w = paddle.to_tensor(rng.standard_normal(w_shape, dtype=np.float32), place=paddle.CPUPlace())
        dy = None
        results = []
        for conv in (conv2d, F.conv2d):
            x.stop_gradient = w.stop_gradient = False
            y = conv(x, w, None, stride=stride, padding=padding, groups=groups)
            if dy is None:
                dy = paddle.to_tensor(rng.standard_normal(y.shape, dtype=np.float32), place=paddle.CPUPlace())
            results.append([y, *paddle.grad([y], [x, w], [dy])])
        for what, ours, theirs in zip(("output", "input gradient", "weight gradient"), *results):
            error = _relative_error(ours, theirs)
            if not error <= TOLERANCE:  # also catches NaN
                return f"{what} of a {w_shape[2]}x{w_shape[3]} conv (groups {groups}) differs by {error:.1e} relative"
    return None
