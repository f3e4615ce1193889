"""The cheaper forms of the attention ops (issue 6) give the plain forms' values and gradients."""

import paddle

from paddle_attn.layers import CBAM, EfficientChannelAttention, PSAModule
from paddle_attn.layers.attention import apply_gate
from tests.helpers import assert_close_to_scale as close


def test_apply_gate_broadcasts_like_multiply_with_the_same_gradients():
    x = paddle.randn([2, 6, 4, 5])
    for shape in ([2, 1, 4, 5], [2, 6, 1, 1], [2, 6, 4, 5]):
        a, g = x.clone(), paddle.rand(shape)
        a.stop_gradient = g.stop_gradient = False
        b, h = a.detach().clone(), g.detach().clone()
        b.stop_gradient = h.stop_gradient = False
        apply_gate(a, g).sum().backward()
        (b * h).sum().backward()
        close(a.grad.numpy(), b.grad.numpy(), 1e-6)
        close(g.grad.numpy(), h.grad.numpy(), 1e-6)


def test_eca_pools_the_mean():
    eca = EfficientChannelAttention(64)
    x = paddle.randn([3, 64, 5, 7])
    y = eca.conv(x.mean(axis=[2, 3]).reshape([-1, 1, 64]))
    close(eca.gate(x).numpy().reshape(3, 64), paddle.nn.functional.sigmoid(y).numpy().reshape(3, 64), 1e-6)


def test_psa_equals_stack_then_flip():
    psa = PSAModule(32, 64)
    x = paddle.randn([2, 32, 6, 6])
    feats = paddle.stack([getattr(psa, f"conv_{i}")(x) for i in range(1, 5)], axis=1)
    weights = psa.se(feats.reshape([-1, 16, 6, 6])).reshape([-1, 4, 16, 1, 1])
    expected = (feats * paddle.nn.functional.softmax(weights, axis=1)).flip(axis=[1]).reshape([-1, 64, 6, 6])
    close(psa(x).numpy(), expected.numpy(), 1e-6)


def test_cbam_spatial_gate_gradient_matches_plain_multiply():
    cbam = CBAM(32)
    x = paddle.randn([2, 32, 6, 6])
    x.stop_gradient = False
    cbam(x).sum().backward()
    fast_grad = x.grad.numpy().copy()
    x.clear_gradient()
    y = cbam.channel(x)
    (y * cbam.spatial.gate(y)).sum().backward()
    close(fast_grad, x.grad.numpy(), 1e-5)
