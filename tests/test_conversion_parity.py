"""convert_and_compare: a converted network's logits beside its PyTorch original's, with moved BatchNorm statistics."""

import pytest

from paddle_attn.convert import parity

torch = pytest.importorskip("torch", reason="needs torch: pip install torch==2.13.0 (CPU)")
torch_reference = pytest.importorskip("torch_reference")


def small_cbam():
    torch.manual_seed(0)
    return torch_reference.build("resnet18_cbam", num_classes=10)


def test_a_faithful_conversion_agrees_and_torch_threads_come_back():
    threads = torch.get_num_threads()
    result = parity.convert_and_compare(small_cbam(), "cbam_tutorial", image_size=32, images=2)
    assert result.relative < 1e-5
    assert result.same_top1
    assert result.converted.spec["name"] == "resnet18_cbam"
    assert torch.get_num_threads() == threads


def test_training_passes_move_the_running_statistics():
    net = small_cbam()
    parity.convert_and_compare(net, "cbam_tutorial", image_size=32, images=1, train_passes=0)
    assert float(net.bn1.running_mean.abs().max()) == 0.0
    parity.convert_and_compare(net, "cbam_tutorial", image_size=32, images=1, train_passes=1)
    assert float(net.bn1.running_mean.abs().max()) > 1e-3
    assert not net.training  # compared in eval mode


def test_a_wrongly_mapped_statistic_shows(monkeypatch):
    real = parity.convert_state_dict
    monkeypatch.setattr(parity, "convert_state_dict", lambda s, layout: real(_swapped(s), layout))
    result = parity.convert_and_compare(small_cbam(), "cbam_tutorial", image_size=32, images=2)
    assert result.relative > 1e-2


def _swapped(state_dict):
    state_dict = dict(state_dict)
    mean, var = state_dict["bn1.running_mean"], state_dict["bn1.running_var"]
    state_dict["bn1.running_mean"], state_dict["bn1.running_var"] = var, mean.abs()
    return state_dict
