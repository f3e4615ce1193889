"""onednn_conv2d against Paddle's conv2d: outputs and both gradients, on small random cases of every parameter."""

import subprocess
import sys

import paddle
import paddle.nn.functional as F
import pytest

from paddle_attn.cpu import bf16_supported
from tests.helpers import ROOT, relative_error

TOLERANCE = 1e-5  # relative to the largest magnitude of Paddle's result: fp32 agreement
NO_BF16 = "the CPU has no native bf16 (AVX-512 BF16 / AMX): bf16 convolutions are refused there"

# (input NCHW, weight OIHW, stride, padding, dilation, groups, bias): unequal H/W pairs catch swapped axes
CASES = {
    "3x3": ((2, 8, 9, 9), (16, 8, 3, 3), 1, 1, 1, 1, True),
    "1x1-no-bias": ((2, 16, 8, 8), (8, 16, 1, 1), 1, 0, 1, 1, False),
    "stride2": ((2, 8, 10, 10), (8, 8, 3, 3), 2, 1, 1, 1, False),
    "unequal-hw": ((2, 4, 11, 7), (6, 4, 3, 5), (1, 2), (2, 1), (2, 1), 1, True),
    "dilation2": ((1, 8, 12, 12), (8, 8, 3, 3), 1, 2, 2, 1, False),
    "groups4": ((2, 16, 9, 9), (8, 4, 5, 5), 1, 2, 1, 4, False),
    "groups16-stride2": ((2, 32, 9, 9), (16, 2, 9, 9), 2, 4, 1, 16, True),
    "stem": ((2, 3, 16, 16), (8, 3, 7, 7), 2, 3, 1, 1, False),
}


@pytest.fixture(scope="module")
def onednn_conv2d(onednn_ops):
    from paddle_attn.kernels.onednn.conv import conv2d

    return conv2d


@pytest.mark.parametrize("layout", ["auto", "any", "nchw", "nhwc"])
@pytest.mark.parametrize("case", list(CASES))
def test_outputs_and_gradients_match_paddle(onednn_conv2d, case, layout):
    x_shape, w_shape, stride, padding, dilation, groups, has_bias = CASES[case]
    x, w, b = paddle.randn(x_shape), paddle.randn(w_shape), paddle.randn([w_shape[0]]) if has_bias else None
    inputs = [t for t in (x, w, b) if t is not None]
    for t in inputs:
        t.stop_gradient = False
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y_ref = F.conv2d(x, w, b, **params)
    y = onednn_conv2d(x, w, b, layout=layout, **params)
    assert y.shape == y_ref.shape
    assert relative_error(y, y_ref) <= TOLERANCE
    dy = paddle.randn(y_ref.shape)
    for ours, theirs in zip(paddle.grad([y], inputs, [dy]), paddle.grad([y_ref], inputs, [dy])):
        assert relative_error(ours, theirs) <= TOLERANCE


def _bf16_rounded(t):
    return t.astype("bfloat16").astype("float32")


@pytest.mark.skipif(not bf16_supported(), reason=NO_BF16)
@pytest.mark.parametrize("layout", ["auto", "nchw", "nhwc"])
@pytest.mark.parametrize("case", ["3x3", "1x1-no-bias", "groups4", "stem"])
def test_bf16_products_are_paddles_fp32_conv_of_bf16_rounded_factors(onednn_conv2d, case, layout):
    """bf16 mode rounds x, w and dy to bf16 and accumulates in fp32: Paddle's fp32 conv of the rounded factors gives
    the same results to fp32 precision, and the unrounded ones differ by bf16's (so bf16 really ran)."""
    x_shape, w_shape, stride, padding, dilation, groups, _ = CASES[case]
    x, w = paddle.randn(x_shape), paddle.randn(w_shape)
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    results = {}
    for kind, conv, rounded in (
        ("bf16", lambda a, b: onednn_conv2d(a, b, layout=layout, precision="bf16", **params), False),
        ("rounded fp32", lambda a, b: F.conv2d(a, b, **params), True),
        ("fp32", lambda a, b: F.conv2d(a, b, **params), False),
    ):
        a, b = (_bf16_rounded(t) if rounded else t.clone() for t in (x, w))
        a.stop_gradient = b.stop_gradient = False
        y = conv(a, b)
        dy = paddle.linspace(-2, 2, y.size).reshape(y.shape)  # a gradient with many distinct values
        results[kind] = [y, *paddle.grad([y], [a, b], [_bf16_rounded(dy) if rounded else dy])]
    for name, ours, rounded, exact in zip(("output", "dx", "dw"), *results.values()):
        assert relative_error(ours, rounded) <= TOLERANCE, name
        assert 1e-4 < relative_error(ours, exact) <= 2e-2, name  # bf16's 8 significant bits, not fp32's 24


def test_an_unknown_precision_is_refused_by_name(onednn_conv2d):
    with pytest.raises(ValueError, match="precision must be one of \\('fp32', 'bf16'\\), got 'fp16'"):
        onednn_conv2d(paddle.randn([1, 4, 6, 6]), paddle.randn([4, 4, 3, 3]), precision="fp16")


def test_input_without_gradient_still_gives_the_weight_gradient(onednn_conv2d):
    x, w = paddle.randn([2, 4, 6, 6]), paddle.randn([4, 4, 3, 3])
    w.stop_gradient = False
    (dw,) = paddle.grad([onednn_conv2d(x, w, padding=1).sum()], [w])
    (dw_ref,) = paddle.grad([F.conv2d(x, w, padding=1).sum()], [w])
    assert relative_error(dw, dw_ref) <= TOLERANCE


def test_importing_paddle_attn_builds_and_loads_nothing():
    code = (
        "import sys, paddle_attn, paddle_attn.kernels.onednn.conv; "
        "print('paddle_attn.kernels.onednn.build' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
