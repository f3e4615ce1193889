"""onednn_eltwise against Paddle's activations: ReLU exactly (an element-wise max loses no digits), sigmoid within
fp32 precision (oneDNN's vectorized exp is not libm's); output and input gradient."""

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


def test_an_unknown_activation_is_refused_by_name(eltwise):
    with pytest.raises(ValueError, match="activation must be one of \\('relu', 'sigmoid'\\), got 'tanh'"):
        eltwise.eltwise(paddle.randn([2, 3]), "tanh")
