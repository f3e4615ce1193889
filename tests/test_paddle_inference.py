"""Paddle Inference (oneDNN) gives dygraph's logits in fp32 everywhere, and bf16 where the CPU computes it.

fp32: logits within 1e-4 of the largest logit. bf16 (CPUs with AVX-512 BF16 or AMX only): a bound derived
from bf16's precision, and the same top-1 wherever the fp32 margin exceeds twice that bound.
"""

import math

import numpy as np
import paddle
import pytest

import paddle_attn
from paddle_attn.cpu import bf16_supported
from paddle_attn.data.synthetic import make_images
from paddle_attn.errors import InferenceError
from paddle_attn.inference import paddle_inference
from paddle_attn.inference.paddle_inference import PaddleInferenceRunner, inference_config, runner_for_network
from paddle_attn.inference.write_export import save_program
from tests.helpers import BF16_UNIT_ROUNDOFF, assert_bf16_agrees, bf16_bound, randomize_norms, spread_classifier
from tests.helpers import assert_close_to_scale as close

FP32_RTOL = 1e-4
NO_BF16 = "the CPU has no native bf16 (AVX-512 BF16 / AMX): the bf16 path cannot run here"


def images(batch=4, size=32, seed=0):
    return paddle.to_tensor(np.random.default_rng(seed).standard_normal((batch, 3, size, size), dtype=np.float32))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """resnet18_nam in eval mode and its export for Paddle Inference."""
    paddle.seed(1)
    net = randomize_norms(paddle_attn.create_model("resnet18_nam", num_classes=10, stem="cifar"))
    net.eval()
    program, params = save_program(net, str(tmp_path_factory.mktemp("export") / "inference"), 32)
    return net, program, params


@pytest.mark.parametrize("onednn", [True, False])
def test_paddle_inference_gives_dygraph_logits(exported, onednn):
    net, program, params = exported
    x = images(batch=5, seed=3)
    with paddle.no_grad():
        expected = net(x).numpy()
    runner = PaddleInferenceRunner(program, params, onednn=onednn)
    close(runner(x.numpy()), expected, FP32_RTOL)
    close(runner(x.numpy()[:1]), expected[:1], FP32_RTOL)  # another batch size through the same predictor


def test_the_network_is_in_eval_mode_while_it_is_saved(tmp_path, monkeypatch):
    """Paddle's saver marks every op for inference today (static/pir_io.py), so no output shows a network saved in
    training mode: this pins the mode itself, every layer's, when paddle.jit.save runs."""
    from paddle_attn.inference import write_export

    modes, save = [], paddle.jit.save

    def recording_save(layer, *args, **kwargs):
        modes.append({layer.training} | {sub.training for sub in layer.sublayers()})
        return save(layer, *args, **kwargs)

    monkeypatch.setattr(write_export.paddle.jit, "save", recording_save)
    net = paddle_attn.create_model("resnet18_se", num_classes=10, stem="cifar")
    net.train()
    save_program(net, str(tmp_path / "inference"), 32)
    assert modes == [{False}] and net.training  # saved in eval mode, put back in training mode


def test_runner_for_network_gives_dygraph_logits_and_keeps_the_mode():
    net = paddle_attn.create_model("resnet18_cbam", num_classes=10, stem="cifar")
    net.train()
    runner = runner_for_network(net, 32)
    assert net.training
    net.eval()
    x = images(batch=3, seed=5)
    with paddle.no_grad():
        close(runner(x.numpy()), net(x).numpy(), FP32_RTOL)


def test_precision_defaults_to_fp32_on_every_cpu(exported, monkeypatch):
    _, program, params = exported
    asked = []

    class Config(paddle.inference.Config):  # records whether bf16 was switched on
        def enable_onednn_bfloat16(self):
            asked.append("bf16")
            super().enable_onednn_bfloat16()

    monkeypatch.setattr(paddle.inference, "Config", Config)
    for has_bf16 in (True, False):  # the default must not depend on the CPU
        monkeypatch.setattr(paddle_inference, "bf16_supported", lambda has_bf16=has_bf16: has_bf16)
        assert inference_config(program, params).onednn_enabled()
        assert PaddleInferenceRunner(program, params) and asked == []
    monkeypatch.setattr(paddle_inference, "bf16_supported", lambda: True)
    inference_config(program, params, precision="bf16")  # where asked (and supported), it is switched on
    assert asked == ["bf16"]


def test_bf16_refused_without_native_bf16_and_unknown_precisions(exported, monkeypatch):
    monkeypatch.setattr(paddle_inference, "bf16_supported", lambda: False)
    _, program, params = exported
    with pytest.raises(InferenceError, match="bf16 inference needs oneDNN and a CPU with AVX-512 BF16 or AMX"):
        inference_config(program, params, precision="bf16")
    with pytest.raises(InferenceError, match="precision must be one of fp32, bf16, got 'auto'"):
        inference_config(program, params, precision="auto")


def test_bf16_check_fails_on_errors_beyond_bf16_precision():
    rng = np.random.default_rng(0)
    fp32 = (rng.standard_normal((64, 10)) + 8 * np.eye(10)[rng.integers(0, 10, 64)]).astype("float32")
    bound = 8 * math.sqrt(21) * BF16_UNIT_ROUNDOFF
    as_bf16 = (fp32.view(np.uint32) & 0xFFFF0000).view(np.float32)  # truncated to bf16's 8 bits: passes
    assert_bf16_agrees(as_bf16, fp32, bound)
    with pytest.raises(AssertionError, match="did not run in bf16"):  # fp32's own logits: a silent fallback
        assert_bf16_agrees(fp32, fp32, bound)
    with pytest.raises(AssertionError):
        assert_bf16_agrees(fp32 + 0.2 * np.abs(fp32).max(), fp32, bound)
    flipped = fp32.copy()
    flipped[np.arange(64), fp32.argmax(1)] -= 0.05 * np.abs(fp32).max()  # within the bound, flips close calls only
    assert_bf16_agrees(flipped, fp32, bound)


@pytest.mark.skipif(not bf16_supported(), reason=NO_BF16)
def test_bf16_inference_agrees_with_fp32_within_bf16_precision(tmp_path):
    paddle.seed(2)
    net = randomize_norms(paddle_attn.create_model("resnet18_nam", num_classes=10, stem="cifar"))
    net.eval()
    x = paddle.to_tensor((make_images(16, seed=3)[0].transpose(0, 3, 1, 2) / 255.0 - 0.5).astype("float32"))
    spread_classifier(net, x)
    with paddle.no_grad():
        fp32 = net(x).numpy()
    assert len(set(fp32.argmax(1))) >= 5, "the network must not predict one class for every image"
    program, params = save_program(net, str(tmp_path / "inference"), 32)
    bf16 = PaddleInferenceRunner(program, params, precision="bf16")(x.numpy())
    assert_bf16_agrees(bf16, fp32, bf16_bound(net))
