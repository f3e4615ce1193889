"""cpu.kernels: the oneDNN convolutions swapped into a network compute what Paddle's do, training on them is
reproducible, and every fallback says why in one line."""

import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddle_attn import checkpoint as ckpt
from paddle_attn.config import load_config
from paddle_attn.cpu import bf16_supported
from paddle_attn.errors import CheckpointError, ConfigError
from paddle_attn.layers.psa import PSAModule
from paddle_attn.models.resnet import ResidualReLU
from paddle_attn.training import cpu_kernels
from paddle_attn.training.resume import check_resumable
from paddle_attn.training.trainer import train
from paddle_attn.weights.factory import create_model
from tests.helpers import ROOT, relative_error, tiny_config, tiny_overrides

TOLERANCE = 1e-4  # relative to the largest magnitude of Paddle's output, through a whole network: fp32 agreement
# gradients: sums over the batch and space that nearly cancel (PSA's SE bias: 1e-5 of its terms) lose digits to
# any summation order; a wrong kernel is off by O(1)
GRAD_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def onednn(onednn_ops):
    from paddle_attn.kernels.onednn import layers

    return layers


def twin_networks(build):
    """(Paddle's network, the same weights with oneDNN convolutions)."""
    paddle_net, onednn_net = build(), build()
    onednn_net.set_state_dict(paddle_net.state_dict())
    return paddle_net, onednn_net


@pytest.mark.parametrize(
    "build, shape",
    [
        (lambda: PSAModule(16, 64), [4, 16, 8, 8]),  # EPSANet's grouped convolutions (groups 1, 4, 8, 16)
        (lambda: create_model("resnet18_nam", num_classes=10), [4, 3, 16, 16]),
    ],
    ids=["psa", "resnet18_nam"],
)
def test_a_swapped_network_trains_like_paddles(onednn, build, shape):
    paddle_net, onednn_net = twin_networks(build)
    swapped = onednn.use_onednn_convs(onednn_net, "all")
    assert swapped == sum(isinstance(layer, paddle.nn.Conv2D) for layer in paddle_net.sublayers()) > 0
    activations = sum(isinstance(layer, (paddle.nn.ReLU, paddle.nn.Sigmoid)) for layer in paddle_net.sublayers())
    assert onednn.use_onednn_activations(onednn_net) == activations
    junctions = sum(isinstance(layer, ResidualReLU) for layer in paddle_net.sublayers())
    assert onednn.use_onednn_add_relu(onednn_net, ResidualReLU) == junctions
    assert list(onednn_net.state_dict()) == list(paddle_net.state_dict())  # checkpoints unchanged
    x = paddle.randn(shape)
    outputs, grads = [], []
    for net in (paddle_net, onednn_net):
        net.train()
        y = net(x)
        (y * paddle.linspace(-1, 1, y.size).reshape(y.shape)).sum().backward()
        outputs.append(y)
        grads.append({name: p.grad for name, p in net.named_parameters() if p.grad is not None})
    assert relative_error(outputs[1], outputs[0]) <= TOLERANCE
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert relative_error(grads[1][name], grads[0][name]) <= GRAD_TOLERANCE, name


def test_grouped_set_swaps_only_grouped_convolutions_and_undo_restores(onednn):
    net = PSAModule(16, 64)
    grouped = sum(layer._groups > 1 for layer in net.sublayers() if isinstance(layer, paddle.nn.Conv2D))
    assert onednn.use_onednn_convs(net, "grouped") == grouped > 0
    assert all(
        isinstance(layer, onednn.OneDNNConv2D) == (layer._groups > 1)
        for layer in net.sublayers()
        if isinstance(layer, paddle.nn.Conv2D)
    )
    assert onednn.use_paddle_convs(net) == grouped
    assert not any(isinstance(layer, onednn.OneDNNConv2D) for layer in net.sublayers())


def test_unsupported_padding_keeps_paddles_conv(onednn):
    net = paddle.nn.Sequential(
        paddle.nn.Conv2D(4, 4, 3, padding="SAME"), paddle.nn.Conv2D(4, 4, 3, padding=[0, 1, 1, 0])
    )
    assert onednn.use_onednn_convs(net) == 0


def test_self_check_passes_and_catches_a_wrong_kernel(onednn, monkeypatch):
    from paddle_attn.kernels.onednn import self_check as check

    assert check.self_check() is None
    assert check.self_check("blocked") is None and check.self_check("channel_loops") is None
    right_norm = check.batch_norm
    monkeypatch.setattr(check, "batch_norm", lambda x, m, v, w, *a, **k: right_norm(x, m, v, w * 1.001, *a, **k))
    assert check.self_check() is None  # the batch norm is checked only when it is to run
    assert "output of a batch norm (nchw)" in check.self_check("nchw")
    assert "output of a batch norm (channel_loops)" in check.self_check("channel_loops")
    right_sigmoid = check.sigmoid
    monkeypatch.setattr(check, "sigmoid", lambda x: right_sigmoid(x) * 1.001)
    assert check.self_check() == "output of a sigmoid differs by 1.0e-03 relative"
    right = check.conv2d
    monkeypatch.setattr(check, "conv2d", lambda x, w, *a, **k: right(x, w * 1.001, *a, **k))
    assert "output" in check.self_check()


def test_auto_uses_onednn_and_says_so(onednn, capsys):
    net = create_model("resnet18_nam", num_classes=10)
    assert cpu_kernels.apply_cpu_kernels(net, "auto", "cpu") == "onednn"
    line = capsys.readouterr().out.strip()
    assert line.startswith("convolutions: oneDNN") and "self-check" in line and len(line.splitlines()) == 1
    assert any(isinstance(layer, onednn.OneDNNConv2D) for layer in net.sublayers())
    relus, sigmoids = (
        sum(type(layer) is kind for layer in net.sublayers()) for kind in onednn.ACTIVATION_SWAPS.values()
    )
    assert relus == 1 + 8 and sigmoids == 8  # the stem's and each block's ReLU, each NAM gate's sigmoid (ResNet-18)
    assert "ReLU and sigmoid layers: oneDNN (17), residual add + ReLU: oneDNN (8)" in line
    assert onednn.use_paddle_add_relu(net, ResidualReLU) == 8
    assert onednn.use_paddle_activations(net) == 17
    assert not any(type(layer) in onednn.ACTIVATION_SWAPS.values() for layer in net.sublayers())


def test_batch_norms_run_in_the_layout_set(onednn, monkeypatch, capsys):
    net = create_model("resnet18_nam", num_classes=10)
    assert cpu_kernels.apply_cpu_kernels(net, "onednn", "cpu") == "onednn"
    assert "batch norms: Paddle's" in capsys.readouterr().out  # the default: the quick start ran slower otherwise
    assert not any(isinstance(layer, onednn.OneDNNBatchNorm2D) for layer in net.sublayers())
    monkeypatch.setattr(cpu_kernels, "BATCH_NORM_LAYOUT", "channel_loops")
    net = create_model("resnet18_nam", num_classes=10)
    assert cpu_kernels.apply_cpu_kernels(net, "onednn", "cpu") == "onednn"
    assert "batch norms: channel loops (20 layers)" in capsys.readouterr().out
    norms = [layer for layer in net.sublayers() if isinstance(layer, onednn.OneDNNBatchNorm2D)]
    assert len(norms) == 20 and {layer.onednn_layout for layer in norms} == {"channel_loops"}
    for layout, line in ((None, "batch norms: Paddle's"), ("blocked", "batch norms: oneDNN, blocked (20 layers)")):
        monkeypatch.setattr(cpu_kernels, "BATCH_NORM_LAYOUT", layout)
        net = create_model("resnet18_nam", num_classes=10)
        assert cpu_kernels.apply_cpu_kernels(net, "onednn", "cpu") == "onednn"
        assert line in capsys.readouterr().out
        assert any(isinstance(layer, onednn.OneDNNBatchNorm2D) for layer in net.sublayers()) == (layout is not None)


def test_auto_falls_back_to_paddle_with_the_reason_and_onednn_refuses(monkeypatch, capsys):
    from paddle_attn.kernels.onednn import build

    def unavailable(verbose=False):
        raise build.BuildUnavailable("no C++ compiler")

    monkeypatch.setattr(build, "load_ops", unavailable)
    net = create_model("resnet18_nam", num_classes=10)
    assert cpu_kernels.apply_cpu_kernels(net, "auto", "cpu") == "paddle"
    line = capsys.readouterr().out.strip()
    assert line.startswith("convolutions: Paddle's kernels") and "no C++ compiler" in line
    assert not any(type(layer).__name__ == "OneDNNConv2D" for layer in net.sublayers())
    with pytest.raises(ConfigError, match="no C\\+\\+ compiler"):
        cpu_kernels.apply_cpu_kernels(net, "onednn", "cpu")


def test_auto_falls_back_when_the_self_check_fails(onednn, monkeypatch, capsys):
    monkeypatch.setattr(cpu_kernels, "self_check", lambda layout, precision: "output differs by 1.0e-02 relative")
    assert cpu_kernels.apply_cpu_kernels(create_model("resnet18_nam", num_classes=10), "auto", "cpu") == "paddle"
    assert "differs by 1.0e-02" in capsys.readouterr().out


def test_gpu_runs_and_paddle_setting_are_untouched(capsys):
    for setting, device in (("onednn", "gpu"), ("auto", "gpu"), ("paddle", "cpu")):
        net = create_model("resnet18_nam", num_classes=10)
        assert cpu_kernels.apply_cpu_kernels(net, setting, device) == "paddle"
        assert not any(type(layer).__name__ == "OneDNNConv2D" for layer in net.sublayers())
    assert capsys.readouterr().out.count("convolutions: Paddle's kernels") == 3


def test_an_unknown_kernels_value_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cpu.kernels"):
        load_config(os.path.join(ROOT, "configs", "quickstart.yaml"), tiny_overrides(tmp_path) + ["cpu.kernels=mkl"])


def test_two_identical_runs_on_onednn_give_identical_weights(onednn, tmp_path, capsys):
    for run in ("a", "b"):
        train(tiny_config(tmp_path, "cpu.kernels=onednn", run=run, epochs=1, model="epsanet50"))
    assert capsys.readouterr().out.count("convolutions: oneDNN") == 2
    a, b = (ckpt.load_params(str(tmp_path / run / "checkpoints" / "latest")) for run in ("a", "b"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)


def test_a_second_process_loads_the_built_operator_without_rebuilding(onednn):
    code = (
        "from paddle_attn.kernels.onednn.build import load_ops, build_seconds; "
        "load_ops(); print('rebuilt' if build_seconds() else 'loaded')"
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "loaded"


def test_an_export_of_a_swapped_network_holds_paddles_conv_only(onednn, tmp_path):
    net = PSAModule(16, 64)
    onednn.use_onednn_convs(net)
    net.eval()
    prefix = str(tmp_path / "psa")
    paddle.jit.save(net, prefix, input_spec=[paddle.static.InputSpec([None, 16, 8, 8], "float32", "x")])
    program = open(prefix + ".json").read()
    assert "conv2d" in program and "onednn" not in program  # Paddle Inference runs it without the custom operator


NO_BF16 = "the CPU has no native bf16 (AVX-512 BF16 / AMX): device.precision=bf16 is refused there"


@pytest.mark.parametrize(
    "setting, device, native, message",
    [
        ("auto", "cpu", False, "needs a CPU with AVX-512 BF16 or AMX .* use device.precision=fp32"),
        ("paddle", "cpu", True, "runs on the oneDNN operator: set cpu.kernels=auto or onednn"),
        ("auto", "gpu", True, "is for CPU runs; on the gpu use device.amp=O1"),
    ],
    ids=["cpu-without-bf16", "paddle-kernels", "gpu"],
)
def test_bf16_is_refused_where_it_cannot_run(monkeypatch, setting, device, native, message):
    monkeypatch.setattr(cpu_kernels, "bf16_supported", lambda: native)
    with pytest.raises(ConfigError, match=f"device.precision=bf16 {message}"):
        cpu_kernels.apply_cpu_kernels(create_model("resnet18_nam", num_classes=10), setting, device, "bf16")
    cpu_kernels.check_precision("fp32", setting, device)  # fp32 runs everywhere


def test_a_bf16_run_is_refused_before_it_makes_its_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(cpu_kernels, "bf16_supported", lambda: False)
    with pytest.raises(ConfigError, match="AVX-512 BF16 or AMX"):
        train(tiny_config(tmp_path, "device.precision=bf16"))
    assert not (tmp_path / "run").exists()


def test_a_bf16_run_with_a_failing_self_check_stops_instead_of_falling_back(onednn, monkeypatch):
    monkeypatch.setattr(cpu_kernels, "bf16_supported", lambda: True)
    monkeypatch.setattr(cpu_kernels, "self_check", lambda layout, precision: f"output of a conv ({precision}) differs")
    with pytest.raises(ConfigError, match="output of a conv \\(bf16\\) differs; use device.precision=fp32"):
        cpu_kernels.apply_cpu_kernels(create_model("resnet18_nam", num_classes=10), "auto", "cpu", "bf16")


def test_resuming_in_another_precision_is_refused_and_old_runs_resume_in_fp32(tmp_path):
    fp32, bf16 = tiny_config(tmp_path), tiny_config(tmp_path, "device.precision=bf16")
    with pytest.raises(CheckpointError, match="device.precision is 'bf16' here but was 'fp32' in that run"):
        check_resumable({"config": fp32}, bf16, 1, None, "the checkpoint")
    before_the_key = {**fp32, "device": {k: v for k, v in fp32["device"].items() if k != "precision"}}
    assert check_resumable({"config": before_the_key}, fp32, 1, None, "the checkpoint") is None


@pytest.mark.skipif(not bf16_supported(), reason=NO_BF16)
def test_a_bf16_run_trains_its_convolutions_in_bf16(onednn, tmp_path, capsys):
    net = create_model("resnet18_nam", num_classes=10)
    assert cpu_kernels.apply_cpu_kernels(net, "auto", "cpu", "bf16") == "onednn"
    convs = [layer for layer in net.sublayers() if isinstance(layer, onednn.OneDNNConv2D)]
    assert convs and {layer.onednn_precision for layer in convs} == {"bf16"}
    capsys.readouterr()
    runs = {}
    for precision in ("fp32", "bf16"):
        train(tiny_config(tmp_path, "cpu.kernels=onednn", f"device.precision={precision}", run=precision, epochs=1))
        runs[precision] = ckpt.load_params(str(tmp_path / precision / "checkpoints" / "latest"))
    assert "convolutions: oneDNN, bf16 products" in capsys.readouterr().out
    assert runs["bf16"].keys() == runs["fp32"].keys()
    for key, value in runs["bf16"].items():
        assert value.dtype == paddle.float32 and np.isfinite(value.numpy()).all(), key  # fp32 master weights
    # bf16 products change the training: rounding only the conv weights to bf16 moves a batch-8 ResNet-18's
    # gradients by 20 % (median), so the check is that it ran, not a bound (the op tests bound each conv)
    assert np.abs(runs["bf16"]["conv1.weight"].numpy() - runs["fp32"]["conv1.weight"].numpy()).max() > 0
