"""onednn_relu against Paddle's relu: output and input gradient, exactly (an element-wise max loses no digits)."""

import paddle
import paddle.nn.functional as F
import pytest


@pytest.fixture(scope="module")
def onednn_relu(onednn_ops):
    from paddle_attn.kernels.onednn.relu import relu

    return relu


@pytest.mark.parametrize("shape", [[4, 5, 6, 7], [3, 17]], ids=["nchw", "2-d"])
def test_output_and_gradient_equal_paddles(onednn_relu, shape):
    x = paddle.randn(shape)
    x[0] = 0.0  # the kink: both give 0 and a zero gradient there
    x.stop_gradient = False
    dy = paddle.randn(shape)
    y, y_ref = onednn_relu(x), F.relu(x)
    assert bool(paddle.equal_all(y, y_ref))
    (dx,) = paddle.grad([y], [x], [dy])
    (dx_ref,) = paddle.grad([y_ref], [x], [dy])
    assert bool(paddle.equal_all(dx, dx_ref))
