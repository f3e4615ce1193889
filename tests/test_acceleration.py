"""Each fast path of paddle_attn.acceleration gives the plain path's numbers.

fp32 paths: logits within 1e-4 relative (of the largest logit) of dygraph's; bf16 paths (only on CPUs
with native bf16): top-1 agreement and logits within 5e-2 relative, bf16 keeping 8 bits of mantissa.
"""

import os

import numpy as np
import paddle
import pytest
from paddle.static import InputSpec

import paddle_attn
from paddle_attn import acceleration
from paddle_attn.layers import CBAM, EfficientChannelAttention, PSAModule
from paddle_attn.layers.attention import apply_gate

FP32_RTOL = 1e-4
BF16_RTOL = 5e-2
needs_bf16 = pytest.mark.skipif(not acceleration.bf16_supported(), reason="the CPU has no native bf16 (AVX-512 BF16 / AMX)")


def close(actual, expected, rtol):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(np.abs(expected).max(), 1e-6)
    assert np.abs(actual - expected).max() <= rtol * scale, (np.abs(actual - expected).max(), scale)


def images(batch=4, size=32, seed=0):
    return paddle.to_tensor(np.random.default_rng(seed).standard_normal((batch, 3, size, size), dtype=np.float32))


def twin_models(name, **kwargs):
    """Two networks with the same weights."""
    a = paddle_attn.create_model(name, num_classes=10, stem="cifar", **kwargs)
    b = paddle_attn.create_model(name, num_classes=10, stem="cifar", **kwargs)
    b.set_state_dict(a.state_dict())
    return a, b


def train_step(net, mode):
    optimizer = paddle.optimizer.Momentum(0.05, 0.9, net.parameters(), weight_decay=5e-4)
    return acceleration.TrainStep(net, paddle.nn.CrossEntropyLoss(), optimizer, mode)


def test_speed_up_cpu_reports_what_it_applied():
    applied = acceleration.speed_up_cpu()
    assert applied["threads"] >= 1
    assert applied["malloc"] is (os.uname().sysname == "Linux")
    vendor, flags = acceleration.cpu_info()
    if vendor == "AuthenticAMD" and "avx2" in flags:
        assert os.environ.get("MKL_DEBUG_CPU_TYPE") is not None


def test_fast_blas_leaves_intel_and_user_settings_alone(monkeypatch):
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE", raising=False)
    monkeypatch.setattr(acceleration, "cpu_info", lambda: ("GenuineIntel", {"avx2", "avx512f"}))
    assert acceleration.enable_fast_blas() is False and "MKL_DEBUG_CPU_TYPE" not in os.environ
    monkeypatch.setattr(acceleration, "cpu_info", lambda: ("AuthenticAMD", {"avx2"}))
    monkeypatch.setenv("MKL_DEBUG_CPU_TYPE", "4")
    assert acceleration.enable_fast_blas() is False and os.environ["MKL_DEBUG_CPU_TYPE"] == "4"


@pytest.mark.parametrize("name", ["resnet18_nam", "resnet18_cbam"])
def test_static_program_gives_dygraph_logits_and_step(name):
    plain, fast = twin_models(name)
    x, y = images(), paddle.to_tensor(np.arange(4) % 10)
    static = acceleration.to_static(fast)
    for train in (True, False):
        plain.train(train), fast.train(train)
        close(static(x).numpy(), plain(x).numpy(), FP32_RTOL)
    # one optimizer step each: same loss, same updated weights (BatchNorm statistics included)
    loss_plain = float(train_step(plain, "dygraph")(x, y))
    loss_fast = float(train_step(fast, "static")(x, y))
    assert abs(loss_plain - loss_fast) <= FP32_RTOL * abs(loss_plain)
    fast_state = fast.state_dict()
    for key, value in plain.state_dict().items():
        close(fast_state[key].numpy(), value.numpy(), FP32_RTOL)


@pytest.mark.parametrize("name", ["resnet18_nam", "resnet18_cbam"])
def test_static_onednn_evaluation_gives_dygraph_logits(name):
    plain, fast = twin_models(name)
    x = images(seed=2)
    plain.eval(), fast.eval()
    with paddle.no_grad():
        close(acceleration.static_forward(fast, onednn=True)(x).numpy(), plain(x).numpy(), FP32_RTOL)
    fast.train()
    with pytest.raises(ValueError, match="eval mode"):
        acceleration.static_forward(fast, onednn=True)(x)


def test_onednn_training_is_not_a_mode():
    net = paddle_attn.create_model("resnet18", num_classes=10, stem="cifar")
    with pytest.raises(ValueError, match="unknown training mode"):
        train_step(net, "static_onednn")


def test_bf16_modes_refused_without_native_bf16(monkeypatch):
    monkeypatch.setattr(acceleration, "bf16_supported", lambda: False)
    net = paddle_attn.create_model("resnet18", num_classes=10, stem="cifar")
    with pytest.raises(RuntimeError, match="bf16"):
        train_step(net, "dygraph_bf16")
    with pytest.raises(ValueError, match="unknown training mode"):
        train_step(net, "fastest")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """resnet18_nam in eval mode and its export for Paddle Inference."""
    paddle.seed(1)
    net = paddle_attn.create_model("resnet18_nam", num_classes=10, stem="cifar")
    net.eval()
    prefix = str(tmp_path_factory.mktemp("export") / "inference")
    paddle.jit.save(net, prefix, input_spec=[InputSpec([None, 3, 32, 32], "float32", "image")])
    program = prefix + (".json" if os.path.exists(prefix + ".json") else ".pdmodel")
    return net, program, prefix + ".pdiparams"


@pytest.mark.parametrize("onednn", [True, False])
def test_paddle_inference_gives_dygraph_logits(exported, onednn):
    net, program, params = exported
    x = images(batch=5, seed=3)
    with paddle.no_grad():
        expected = net(x).numpy()
    predictor = acceleration.create_predictor(program, params, onednn=onednn)
    close(predictor(x.numpy()), expected, FP32_RTOL)
    close(predictor(x.numpy()[:1]), expected[:1], FP32_RTOL)  # another batch size through the same predictor


def test_export_predictor_gives_dygraph_logits_and_keeps_the_mode():
    net = paddle_attn.create_model("resnet18_cbam", num_classes=10, stem="cifar")
    net.train()
    predictor = acceleration.export_predictor(net, 32)
    assert net.training
    net.eval()
    x = images(batch=3, seed=5)
    with paddle.no_grad():
        close(predictor(x.numpy()), net(x).numpy(), FP32_RTOL)


def test_bf16_inference_refused_without_native_bf16(exported, monkeypatch):
    monkeypatch.setattr(acceleration, "bf16_supported", lambda: False)
    _, program, params = exported
    with pytest.raises(RuntimeError, match="bf16"):
        acceleration.inference_config(program, params, precision="bf16")
    assert acceleration.inference_config(program, params, precision="auto").onednn_enabled()  # fp32 oneDNN here


@needs_bf16
def test_bf16_inference_within_tolerance(exported):
    net, program, params = exported
    x = images(batch=16, seed=4)
    with paddle.no_grad():
        expected = net(x).numpy()
    got = acceleration.create_predictor(program, params, precision="bf16")(x.numpy())
    close(got, expected, BF16_RTOL)


@needs_bf16
def test_bf16_training_step_within_tolerance():
    plain, fast = twin_models("resnet18_nam")
    x, y = images(), paddle.to_tensor(np.arange(4) % 10)
    loss_plain = float(train_step(plain, "dygraph")(x, y))
    loss_fast = float(train_step(fast, "dygraph_bf16")(x, y))
    assert abs(loss_plain - loss_fast) <= BF16_RTOL * abs(loss_plain)


# --- the cheaper attention ops are the same numbers -------------------------------------------------

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
