"""Each attention block alone: shapes, gates in (0, 1), the tutorials' formulas, NAM's normalization."""

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import paddle_attn
from paddle_attn.layers import (
    ATTENTION_LAYERS,
    CBAM,
    AttentionGate,
    ChannelAttention,
    EfficientChannelAttention,
    NAMChannelAttention,
    NAMPixelAttention,
    NormalizationAttention,
    PSAModule,
    SEWeightModule,
    SpatialAttention,
    eca_kernel_size,
)

# builders from the channel count: every registered block by its model-name suffix, and parts and options of some
GATES = {
    **{suffix: block for suffix, block in ATTENTION_LAYERS.items() if issubclass(block, AttentionGate)},
    "cbam_channel": lambda c: ChannelAttention(c),
    "cbam_spatial": lambda c: SpatialAttention(),
    "cbam_spatial_authors": lambda c: SpatialAttention(batch_norm=True, max_first=True),
    "nam_channel": lambda c: NAMChannelAttention(c),
    "nam_pixel": lambda c: NAMPixelAttention((6, 5)),
}
BLOCKS = {
    **GATES,
    **ATTENTION_LAYERS,
    "nam_with_pixel": lambda c: NormalizationAttention(c, pixel_attention=True, spatial_size=(6, 5)),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_block_keeps_shape(name):
    x = paddle.randn([3, 32, 6, 5])
    y = BLOCKS[name](32)(x)
    assert y.shape == x.shape
    assert not np.allclose(y.numpy(), x.numpy())


@pytest.mark.parametrize("name", sorted(GATES))
def test_gate_lies_in_unit_interval_and_rescales_input(name):
    layer = GATES[name](32)
    layer.eval()
    x = paddle.randn([3, 32, 6, 5]) * 0.5  # moderate inputs: a float32 sigmoid rounds to 1.0 past ~17
    gate = layer.gate(x).numpy()
    assert ((gate > 0) & (gate < 1)).all()
    np.testing.assert_allclose(layer(x).numpy(), x.numpy() * gate, rtol=1e-6, atol=1e-6)


def test_se_weight_module_matches_its_formula():
    se = SEWeightModule(32)
    assert se.fc1.weight.shape == [2, 32, 1, 1] and se.fc1.bias is not None  # reduction 16, conv with bias
    x = paddle.randn([2, 32, 4, 4])
    pooled = x.mean(axis=[2, 3], keepdim=True)
    expected = F.sigmoid(se.fc2(F.relu(se.fc1(pooled))))
    np.testing.assert_allclose(se(x).numpy(), expected.numpy(), rtol=1e-6)
    assert se(x).shape == [2, 32, 1, 1]


@pytest.mark.parametrize("channels, k", [(64, 3), (128, 5), (256, 5), (512, 5), (1024, 5), (2048, 7)])
def test_eca_kernel_size_from_channels(channels, k):
    assert eca_kernel_size(channels) == k
    assert EfficientChannelAttention(channels).conv.weight.shape == [1, 1, k]


def test_eca_fixed_kernel_and_formula():
    eca = EfficientChannelAttention(64, kernel_size=5)
    assert eca.conv.weight.shape == [1, 1, 5] and eca.conv.bias is None
    x = paddle.randn([2, 64, 3, 3])
    pooled = x.mean(axis=[2, 3]).numpy()
    w = eca.conv.weight.numpy()[0, 0]
    padded = np.pad(pooled, ((0, 0), (2, 2)))
    conv = np.stack([(padded[:, i : i + 5] * w).sum(1) for i in range(64)], axis=1)
    expected = 1 / (1 + np.exp(-conv))
    np.testing.assert_allclose(eca.gate(x).numpy()[:, :, 0, 0], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="odd"):
        EfficientChannelAttention(64, kernel_size=4)


def test_cbam_matches_tutorial_formula():
    cbam = CBAM(32)
    x = paddle.randn([2, 32, 5, 5])
    ca, sa = cbam.channel, cbam.spatial
    assert ca.fc1.bias is None and ca.fc2.bias is None and sa.bn is None
    mlp = lambda v: ca.fc2(F.relu(ca.fc1(v)))  # noqa: E731
    channel = F.sigmoid(mlp(x.mean([2, 3], keepdim=True)) + mlp(x.max([2, 3], keepdim=True)))
    y = x * channel
    spatial = F.sigmoid(sa.conv(paddle.concat([y.mean(1, keepdim=True), y.max(1, keepdim=True)], 1)))
    np.testing.assert_allclose(cbam(x).numpy(), (y * spatial).numpy(), rtol=1e-5, atol=1e-6)


def test_channel_max_value_and_gradient_equal_max():
    from paddle_attn.layers.cbam import channel_max

    x = paddle.randn([2, 6, 3, 4])
    x.stop_gradient = False
    channel_max(x).sum().backward()
    ours = x.grad.numpy()
    x.clear_gradient()
    x.max(axis=1, keepdim=True).sum().backward()
    np.testing.assert_array_equal(channel_max(x).numpy(), x.max(axis=1, keepdim=True).numpy())
    np.testing.assert_array_equal(ours, x.grad.numpy())


def test_cbam_authors_layout_options():
    tutorial, authors = CBAM(32), CBAM(32, mlp_bias=True, spatial_bn=True, max_first=True)
    count = lambda m: sum(int(np.prod(p.shape)) for p in m.parameters() if not p.stop_gradient)  # noqa: E731
    assert count(authors) - count(tutorial) == 2 + 32 + 2  # MLP biases (C/r + C) and the BN's scale and shift
    # max before mean: swapping the conv's two input channels gives the same map
    a, b = SpatialAttention(), SpatialAttention(max_first=True)
    b.conv.weight.set_value(a.conv.weight.numpy()[:, ::-1].copy())
    x = paddle.randn([2, 8, 5, 5])
    np.testing.assert_allclose(a.gate(x).numpy(), b.gate(x).numpy(), rtol=1e-5)


def _nam_reference(layer, x):
    """The NAM tutorial's Channel_Att, step by step: BN, times |gamma|/sum|gamma|, sigmoid, times input."""
    bn = paddle.nn.BatchNorm2D(x.shape[1])
    bn.set_state_dict({"weight": layer.weight, "bias": layer.bias, "_mean": layer._mean, "_variance": layer._variance})
    bn.train() if layer.training else bn.eval()
    weight = layer.weight.abs() / layer.weight.abs().sum()
    return F.sigmoid(bn(x) * weight.reshape([1, -1, 1, 1])) * x


@pytest.mark.parametrize("training", [True, False])
def test_nam_channel_attention_matches_tutorial(training):
    nam = NAMChannelAttention(16)
    nam.weight.set_value(paddle.randn([16]))
    nam.bias.set_value(paddle.randn([16]))
    nam.train() if training else nam.eval()
    x = paddle.randn([4, 16, 3, 3]) * 2 + 1
    expected = _nam_reference(nam, x)
    np.testing.assert_allclose(nam(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_nam_updates_running_statistics_like_batchnorm():
    nam, bn = NAMChannelAttention(8), paddle.nn.BatchNorm2D(8)
    x = paddle.randn([4, 8, 5, 5]) * 3 + 1
    nam(x), bn(x)
    np.testing.assert_allclose(nam._mean.numpy(), bn._mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(nam._variance.numpy(), bn._variance.numpy(), rtol=1e-6)
    assert np.abs(nam._mean.numpy()).sum() > 0


def test_nam_detach_weights_stops_gradient_through_normalized_scales():
    x = paddle.randn([4, 8, 3, 3])
    grads = {}
    for detach in (False, True):
        nam = NAMChannelAttention(8, detach_weights=detach)
        nam.weight.set_value(paddle.linspace(0.5, 2.0, 8))
        nam(x).sum().backward()
        grads[detach] = nam.weight.grad.numpy()
    assert not np.allclose(grads[False], grads[True])
    # with W constant, gamma's gradient is the plain BatchNorm path only: d/dgamma of sigmoid(W*(xhat*gamma+beta))*x
    nam = NAMChannelAttention(8, detach_weights=True)
    nam.weight.set_value(paddle.linspace(0.5, 2.0, 8))
    w = (nam.weight.abs() / nam.weight.abs().sum()).numpy().reshape(1, -1, 1, 1)
    xn = x.numpy()
    xhat = (xn - xn.mean((0, 2, 3), keepdims=True)) / np.sqrt(xn.var((0, 2, 3), keepdims=True) + 1e-5)
    s = 1 / (1 + np.exp(-(w * (xhat * nam.weight.numpy().reshape(1, -1, 1, 1)))))
    expected = (s * (1 - s) * w * xhat * xn).sum((0, 2, 3))
    np.testing.assert_allclose(grads[True], expected, rtol=1e-4, atol=1e-6)


def test_nam_pixel_attention_normalizes_over_pixels():
    pix = NAMPixelAttention((6, 5))
    assert pix.weight.shape == [30]
    x = paddle.randn([3, 8, 6, 5])
    pix.train()
    gate = pix.gate(x).numpy()
    xn = x.numpy().reshape(3, 8, 30)
    xhat = (xn - xn.mean((0, 1), keepdims=True)) / np.sqrt(xn.var((0, 1), keepdims=True) + 1e-5)
    expected = 1 / (1 + np.exp(-xhat / 30))  # gamma = 1 everywhere: W = 1/30
    np.testing.assert_allclose(gate.reshape(3, 8, 30), expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="6x5"):
        pix(paddle.randn([3, 8, 4, 4]))
    with pytest.raises(ValueError, match="spatial_size"):
        NormalizationAttention(8, pixel_attention=True)


def _psa_tutorial(psa, x):
    """The PSA tutorial's forward, literally: four convs, shared SE, softmax over scales, reverse concat."""
    feats = [getattr(psa, f"conv_{i}")(x) for i in range(1, 5)]
    scores = paddle.stack([psa.se(f) for f in feats], axis=1)
    weights = F.softmax(scores, axis=1)
    out = None
    for i in range(4):
        part = feats[i] * weights[:, i]
        out = part if out is None else paddle.concat([part, out], axis=1)
    return out


def test_psa_matches_tutorial_forward():
    psa = PSAModule(64, 64, stride=2)
    x = paddle.randn([2, 64, 9, 9])
    y = psa(x)
    assert y.shape == [2, 64, 5, 5]
    np.testing.assert_allclose(y.numpy(), _psa_tutorial(psa, x).numpy(), rtol=1e-5, atol=1e-6)
    assert [getattr(psa, f"conv_{i}").weight.shape for i in range(1, 5)] == [
        [16, 64, 3, 3],
        [16, 16, 5, 5],
        [16, 8, 7, 7],
        [16, 4, 9, 9],
    ]


def test_psa_output_order_hand_computed():
    # 1x1 convs that make branch i output the constant i; an SE with zero weights scores every scale alike
    psa = PSAModule(4, 8, conv_kernels=(1, 1, 1, 1), conv_groups=(1, 1, 1, 1))
    for i in range(1, 5):
        getattr(psa, f"conv_{i}").weight.set_value(paddle.full([2, 4, 1, 1], i / 4.0))
    for p in psa.se.parameters():
        p.set_value(paddle.zeros(p.shape))
    y = psa(paddle.ones([1, 4, 3, 3])).numpy()[0, :, 0, 0]
    # softmax of equal scores is 1/4; the scales come out in reverse: 4, 4, 3, 3, 2, 2, 1, 1 (times 1/4)
    np.testing.assert_allclose(y, np.array([4, 4, 3, 3, 2, 2, 1, 1]) / 4.0, rtol=1e-6)


def test_psa_bad_channels():
    with pytest.raises(ValueError, match="4 scales"):
        PSAModule(64, 30)


@pytest.mark.parametrize("name", sorted(BLOCKS) + ["psa", "se_weight"])
def test_three_d_input_is_a_clear_error(name):
    layer = {"psa": lambda c: PSAModule(c, c), "se_weight": SEWeightModule}.get(name, BLOCKS.get(name))(32)
    with pytest.raises(ValueError, match=r"4-D tensor \(N, C, H, W\), got shape \[32, 6, 5\]"):
        layer(paddle.randn([32, 6, 5]))


def test_nam_is_not_a_batchnorm_and_survives_sync_batchnorm_conversion():
    net = paddle_attn.create_model("resnet18_nam", num_classes=10, stem="cifar")
    before = {key: value.numpy().copy() for key, value in net.state_dict().items()}
    converted = paddle.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    gates = [layer for layer in converted.sublayers() if isinstance(layer, NAMChannelAttention)]
    assert len(gates) == 8 and not any(isinstance(g, paddle.nn.layer.norm._BatchNormBase) for g in gates)
    norms = [layer for layer in converted.sublayers() if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)]
    assert norms and all(isinstance(layer, paddle.nn.SyncBatchNorm) for layer in norms)  # the real ones converted
    after = converted.state_dict()
    assert set(after) == set(before)  # same tensor names: checkpoints and converted weights still load
    for key in (k for k in before if ".attention." in k):
        np.testing.assert_array_equal(after[key].numpy(), before[key])
