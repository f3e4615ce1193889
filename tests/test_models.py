"""The registry's networks: the tutorials' parameter counts, every model trains a step, argument errors."""

import contextlib
import io
import math
import subprocess
import sys

import numpy as np
import paddle
import pytest

import paddle_attn
from paddle_attn.layers import ATTENTION_LAYERS, EfficientChannelAttention, NormalizationAttention


def summary(net, size):
    with contextlib.redirect_stdout(io.StringIO()):
        counts = paddle.summary(net, (1, 3, size, size))
    return int(counts["total_params"]), int(counts["trainable_params"])


@pytest.mark.parametrize(
    "name, classes, stem, size, total, trainable",
    [
        ("epsanet50", 1000, "imagenet", 224, 22_614_835, 22_561_715),  # PSA tutorial (000)
        ("resnet50_nam", 100, "cifar", 32, 23_818_788, 23_735_460),  # NAM tutorial (001)
        ("resnet50_eca", 1000, "cifar", 32, None, 25_549_438),  # ECA tutorial (002), torchinfo
        ("resnet50_cbam", 1000, "cifar", 32, None, 28_065_864),  # CBAM tutorial (004), torchinfo
    ],
)
def test_tutorial_parameter_counts(name, classes, stem, size, total, trainable):
    got_total, got_trainable = summary(paddle_attn.create_model(name, num_classes=classes, stem=stem), size)
    assert got_trainable == trainable
    if total is not None:
        assert got_total == total


def test_plain_resnet50_counts_equal_paddle_vision():
    ours = summary(paddle_attn.create_model("resnet50"), 64)
    assert ours == summary(paddle.vision.models.resnet50(), 64)


def test_registry_names():
    names = paddle_attn.list_models()
    expected = {f"resnet{d}" for d in (18, 34, 50, 101, 152)}
    expected |= {f"resnet{d}_{a}" for d in (18, 34, 50, 101, 152) for a in ATTENTION_LAYERS}
    expected |= {"epsanet50", "epsanet101"}
    assert set(names) == expected and len(names) == len(expected)
    assert paddle_attn.list_models("resnet18*") == ["resnet18"] + sorted(f"resnet18_{a}" for a in ATTENTION_LAYERS)


@pytest.mark.parametrize("name", paddle_attn.list_models())
def test_every_model_trains_a_step_in_both_stems(name):
    """Every trainable tensor gets a finite gradient, non-zero outside the attention gates and non-zero in every
    gate as a whole (inside a gate one hidden unit of a 1-unit SE may start dead, ReLU'd to zero for every
    image); one optimizer step moves every tensor with a gradient. A gate cut from the graph fails."""
    for stem, size in (("cifar", 16), ("imagenet", 32)):
        net = paddle_attn.create_model(name, num_classes=7, stem=stem)
        x = paddle.randn([2, 3, size, size])
        out = net(x)
        assert out.shape == [2, 7]
        paddle.nn.functional.cross_entropy(out, paddle.to_tensor([0, 3])).backward()
        trainable = [(n, p) for n, p in net.named_parameters() if not p.stop_gradient]
        before = {n: p.numpy().copy() for n, p in trainable}
        gates = {}
        for n, p in trainable:
            assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), n
            parts = n.split(".")
            gate = next((i for i, part in enumerate(parts) if part in ("attention", "se")), None)
            if gate is None:
                assert np.abs(p.grad.numpy()).max() > 0, f"{stem} stem: {n} gets no gradient"
            else:
                key = ".".join(parts[: gate + 1])
                gates[key] = gates.get(key, 0.0) + float(np.abs(p.grad.numpy()).sum())
        if name not in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
            assert gates, "no attention gate found"
        assert all(total > 0 for total in gates.values()), [key for key, total in gates.items() if total == 0]
        paddle.optimizer.SGD(learning_rate=0.1, parameters=net.parameters()).step()
        unmoved = [n for n, p in trainable if np.array_equal(p.numpy(), before[n]) and np.abs(p.grad.numpy()).max() > 0]
        assert not unmoved, f"{stem} stem: the optimizer step left {unmoved} unchanged"


def test_attention_sits_in_every_block_after_last_bn():
    net = paddle_attn.create_model("resnet18_nam", num_classes=10)
    blocks = [b for stage in (net.layer1, net.layer2, net.layer3, net.layer4) for b in stage]
    assert len(blocks) == 8
    assert all(isinstance(b.attention, NormalizationAttention) for b in blocks)
    assert [b.attention.channel.weight.shape[0] for b in blocks] == [64, 64, 128, 128, 256, 256, 512, 512]
    # the block computes relu(attention(bn2(conv2(relu(bn1(conv1(x)))))) + x)
    block = blocks[0]
    block.eval()
    x = paddle.randn([1, 64, 8, 8])
    F = paddle.nn.functional
    branch = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
    np.testing.assert_allclose(block(x).numpy(), F.relu(block.attention(branch) + x).numpy(), rtol=1e-5, atol=1e-6)


def test_stems():
    imagenet = paddle_attn.create_model("resnet18", stem="imagenet")
    cifar = paddle_attn.create_model("resnet18", stem="cifar")
    assert imagenet.conv1.weight.shape == [64, 3, 7, 7] and isinstance(imagenet.maxpool, paddle.nn.MaxPool2D)
    assert cifar.conv1.weight.shape == [64, 3, 3, 3] and isinstance(cifar.maxpool, paddle.nn.Identity)
    assert imagenet.conv1._stride == [2, 2] and cifar.conv1._stride == [1, 1]


def test_eca_per_stage_kernel_sizes():
    net = paddle_attn.create_model("resnet50_eca", stage_attention_kwargs={"kernel_size": (3, 5, 5, 7)})
    stages = (net.layer1, net.layer2, net.layer3, net.layer4)
    assert [{b.attention.kernel_size for b in s} for s in stages] == [{3}, {5}, {5}, {7}]
    auto = paddle_attn.create_model("resnet50_eca")
    assert [auto.layer1[0].attention.kernel_size, auto.layer4[0].attention.kernel_size] == [5, 7]
    assert isinstance(auto.layer1[0].attention, EfficientChannelAttention)


def test_attention_kwargs_reach_every_block():
    net = paddle_attn.create_model("resnet18_cbam", attention_kwargs={"mlp_bias": True, "spatial_bn": True})
    assert all(b.attention.spatial.bn is not None for b in net.layer3)


def test_epsanet_init_follows_tutorial():
    net = paddle_attn.create_model("epsanet50")
    conv = net.layer3[0].conv2.conv_4  # 9x9, 64 outputs: std sqrt(2 / (81 * 64))
    assert abs(float(conv.weight.std()) - math.sqrt(2 / (81 * 64))) < 0.1 * math.sqrt(2 / (81 * 64))
    assert np.allclose(net.layer3[0].bn2.weight.numpy(), 1) and np.allclose(net.layer3[0].bn2.bias.numpy(), 0)


def test_unknown_model_lists_close_matches():
    with pytest.raises(ValueError, match="unknown model 'resnet50_nma'.*resnet50_nam"):
        paddle_attn.create_model("resnet50_nma")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stem": "mnist"}, "stem must be one of 'imagenet', 'cifar', got 'mnist'"),
        ({"num_classes": 0}, "num_classes must be an integer >= 1, got 0"),
        ({"num_classes": 2.5}, "num_classes must be an integer >= 1, got 2.5"),
        ({"stage_attention_kwargs": {"kernel_size": (3, 5)}}, r"kernel_size'\] must give 4 values"),
    ],
)
def test_bad_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        paddle_attn.create_model("resnet18_eca", **kwargs)


def test_attention_kwargs_without_attention():
    with pytest.raises(ValueError, match="without attention"):
        paddle_attn.create_model("resnet18", attention_kwargs={"reduction": 8})


def test_three_d_input_to_network():
    with pytest.raises(ValueError, match=r"4-D tensor \(N, C, H, W\), got shape \[3, 32, 32\]"):
        paddle_attn.create_model("resnet18")(paddle.randn([3, 32, 32]))


@pytest.mark.parametrize("suffix", sorted(ATTENTION_LAYERS))
def test_each_registered_block_is_in_every_residual_block_of_its_models(suffix):
    """One line in ATTENTION_LAYERS is the whole registration: resnet{depth}_{suffix} carries that block, built
    for the block's width, after the last BatchNorm of every residual block."""
    net = paddle_attn.create_model(f"resnet18_{suffix}", num_classes=10)
    blocks = [b for stage in (net.layer1, net.layer2, net.layer3, net.layer4) for b in stage]
    assert all(type(b.attention) is ATTENTION_LAYERS[suffix] for b in blocks)
    x = paddle.randn([2, 64, 6, 5])
    assert blocks[0].attention(x).shape == x.shape


def test_set_cpu_threads():
    assert paddle_attn.set_cpu_threads(1) == 1
    assert paddle_attn.set_cpu_threads() >= 1
    with pytest.raises(ValueError, match="at least 1"):
        paddle_attn.set_cpu_threads(0)


def test_import_without_paddle_says_what_to_install():
    code = "import sys; sys.modules['paddle'] = None; import paddle_attn"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode != 0
    assert "paddle_attn needs PaddlePaddle 3.x: run `pip install paddlepaddle`" in run.stderr


TRACE_EVERY_BLOCK = """
import paddle, paddle_attn
from paddle_attn.layers import ATTENTION_LAYERS, PSAModule
spec = [paddle.static.InputSpec([None, 3, 16, 16], "float32")]
names = ["resnet18"] + [f"resnet18_{suffix}" for suffix in sorted(ATTENTION_LAYERS)]
nets = [paddle_attn.create_model(name, num_classes=4, stem="cifar") for name in names]
psa = paddle.nn.Sequential(paddle.nn.Conv2D(3, 64, 1), PSAModule(64, 64))
for net in [*nets, psa]:
    for training in (True, False):
        net.train() if training else net.eval()
        paddle.jit.to_static(net, input_spec=spec, full_graph=True)(paddle.randn([2, 3, 16, 16]))
print("traced", len(nets) + 1)
"""


def test_tracing_every_network_prints_no_paddle_warning():
    """The residual add, NAM's scale normalization and PSA's softmax trace without Paddle 3.3's
    "PIR not support input out tensor" line, which exports and static evaluation printed before."""
    run = subprocess.run([sys.executable, "-c", TRACE_EVERY_BLOCK], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"traced {len(ATTENTION_LAYERS) + 2}" in run.stdout
    assert "eager_utils.cc" not in run.stderr and "PIR" not in run.stderr, run.stderr
