"""onednn_eltwise and onednn_add_relu against Paddle's ops: ReLU and the residual add + ReLU exactly (a sum and a max
lose no digits), sigmoid within fp32 precision (oneDNN's vectorized exp is not libm's); outputs and gradients."""

import paddle
import paddle.nn.functional as F
import pytest

from tests.helpers import relative_error

SIGMOID_TOLERANCE = 1e-6  # relative to the largest value: a few fp32 ulps of a result in (0, 1)


@pytest.fixture(scope="module")
def eltwise(onednn_ops):
    from paddle_attn.kernels.onednn import eltwise

    return eltwise


def _output_and_gradient(activation, x, dy):
    x = x.detach()
    x.stop_gradient = False
    y = activation(x)
    return y, paddle.grad([y], [x], [dy])[0]


@pytest.mark.parametrize("shape", [[4, 5, 6, 7], [3, 17]], ids=["nchw", "2-d"])
def test_relu_output_and_gradient_equal_paddles(eltwise, shape):
    x, dy = paddle.randn(shape), paddle.randn(shape)
    x[0] = 0.0  # the kink: both give 0 and a zero gradient there
    for ours, theirs in zip(_output_and_gradient(eltwise.relu, x, dy), _output_and_gradient(F.relu, x, dy)):
        assert bool(paddle.equal_all(ours, theirs))


@pytest.mark.parametrize("shape", [[4, 5, 6, 7], [3, 17]], ids=["nchw", "2-d"])
def test_sigmoid_output_and_gradient_match_paddles(eltwise, shape):
    x, dy = paddle.randn(shape) * 6, paddle.randn(shape)  # into both tails, where 1 - y loses digits
    for ours, theirs in zip(_output_and_gradient(eltwise.sigmoid, x, dy), _output_and_gradient(F.sigmoid, x, dy)):
        assert relative_error(ours, theirs) <= SIGMOID_TOLERANCE


@pytest.mark.parametrize("shape", [[4, 5, 6, 7], [3, 17]], ids=["nchw", "2-d"])
def test_add_relu_output_and_both_gradients_equal_paddles(eltwise, shape):
    a, b, dy = paddle.randn(shape), paddle.randn(shape), paddle.randn(shape)
    b[0] = -a[0]  # the kink: both give 0 and zero gradients there
    results = []
    for junction in (eltwise.add_relu, lambda x, y: F.relu(x + y)):
        x, y = a.detach(), b.detach()
        x.stop_gradient = y.stop_gradient = False
        out = junction(x, y)
        results.append([out, *paddle.grad([out], [x, y], [dy])])
    for ours, theirs in zip(*results):
        assert bool(paddle.equal_all(ours, theirs))
    dx, dy_ = results[0][1:]
    dx.add_(paddle.ones_like(dx))  # the two gradients are tensors of their own: one changing leaves the other
    assert bool(paddle.equal_all(dy_, results[1][2]))


def test_an_unknown_activation_is_refused_by_name(eltwise):
    with pytest.raises(ValueError, match="activation must be one of \\('relu', 'sigmoid'\\), got 'tanh'"):
        eltwise.eltwise(paddle.randn([2, 3]), "tanh")
