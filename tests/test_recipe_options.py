"""Label smoothing, weight-decay groups and AMP plumbing of the paper recipes."""

import numpy as np
import paddle
import pytest

import paddle_attn
from paddle_attn.config import ConfigError, load_config
from paddle_attn.layers import NAMChannelAttention
from paddle_attn.optim.loss import SmoothedCrossEntropy
from paddle_attn.optim.optimizer import build_optimizer, norm_parameters
from paddle_attn.training import train
from paddle_attn.training.device import amp_configs
from paddle_attn.training.evaluation import prepare
from tests.helpers import tiny_config

LOGITS = [[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]]
LABELS = [0, 2]
# by hand: log-softmax rows [-0.16985, -2.16985, -3.16985] and [-1.46437, -0.46437, -1.96437]; with eps = 0.1, K = 3,
# a row's loss is -(0.9 log p_label + 0.1 / 3 sum_k log p_k): 0.9 * 0.16985 + 0.1 / 3 * 5.50954 = 0.33652 and
# 0.9 * 1.96437 + 0.1 / 3 * 3.89310 = 1.89770; without smoothing 0.16985 and 1.96437
ROW_LOSSES = {"plain": (0.16985, 1.96437), "smoothed": (0.33652, 1.89770)}


def test_label_smoothing_changes_the_training_loss_as_the_formula_says():
    loss = SmoothedCrossEntropy(0.1)
    logits, labels = paddle.to_tensor(LOGITS), paddle.to_tensor(LABELS, dtype="int64")
    assert float(loss(logits, labels)) == pytest.approx(np.mean(ROW_LOSSES["smoothed"]), abs=2e-5)
    with paddle.no_grad():  # evaluation: plain cross-entropy
        assert float(loss(logits, labels)) == pytest.approx(np.mean(ROW_LOSSES["plain"]), abs=2e-5)
    assert float(SmoothedCrossEntropy(0.0)(logits, labels)) == pytest.approx(np.mean(ROW_LOSSES["plain"]), abs=2e-5)


def test_prepared_model_smooths_training_steps_and_evaluates_plain_cross_entropy(tmp_path):
    config = tiny_config(tmp_path, "loss.label_smoothing=0.1", "data.image_size=8")
    # no BatchNorm, so training and evaluation compute the same logits: [2, 0, -1] for a uniform red image
    net = paddle.nn.Sequential(paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(), paddle.nn.Linear(3, 3))
    net[2].weight.set_value(paddle.to_tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    net[2].bias.set_value(paddle.zeros([3]))
    model = prepare(net, config, paddle.optimizer.SGD(1e-9, parameters=net.parameters()))
    x = np.zeros((1, 3, 8, 8), dtype="float32")
    x[:, 0] = 1.0
    y = np.array([0], dtype="int64")
    eval_loss = model.eval_batch([x], [y])[0][0]
    train_loss = model.train_batch([x], [y])[0][0]  # the loss before this step's update
    assert float(eval_loss) == pytest.approx(ROW_LOSSES["plain"][0], abs=2e-5)
    assert float(train_loss) == pytest.approx(ROW_LOSSES["smoothed"][0], abs=2e-5)


def test_norm_parameters_are_batchnorm_scales_and_shifts_but_not_nams():
    net = paddle_attn.create_model("resnet18_nam", num_classes=10, stem="cifar")
    selected = {id(p) for p in norm_parameters(net)}
    names = {id(p): name for name, p in net.named_parameters()}
    nam = [name for name, layer in net.named_sublayers() if isinstance(layer, NAMChannelAttention)]
    bns = [
        name
        for name, layer in net.named_sublayers()
        if isinstance(layer, paddle.nn.BatchNorm2D) and not name.startswith(tuple(nam))
    ]
    assert len(nam) == 8 and len(bns) == 1 + 8 * 2 + 3  # stem, two per block, three downsamples
    expected = {f"{bn}.{kind}" for bn in bns for kind in ("weight", "bias")}
    assert {names[i] for i in selected} == expected
    assert not any(name.startswith(tuple(nam)) for name in (names[i] for i in selected))


@pytest.mark.parametrize("optimizer", ["momentum", "sgd", "adam", "adamw"])
def test_norm_weight_decay_zero_leaves_norm_parameters_undecayed(tmp_path, optimizer):
    config = tiny_config(
        tmp_path, f"optimizer.name={optimizer}", "optimizer.weight_decay=0.1", "optimizer.norm_weight_decay=0"
    )
    net = paddle_attn.create_model("resnet18_nam", num_classes=10, stem="cifar")
    for p in net.parameters():
        p.set_value(paddle.full(p.shape, 0.5, p.dtype))
    opt = build_optimizer(config["optimizer"], 0.1, net)
    trainable = [(name, p) for name, p in net.named_parameters() if not p.stop_gradient]
    for _, p in trainable:  # a zero gradient: only weight decay moves a parameter
        (p * 0).sum().backward()
    opt.step()
    norm = {id(p) for p in norm_parameters(net)}
    assert len(norm) == 2 * 20
    for name, p in trainable:
        assert (not np.allclose(p.numpy(), 0.5)) == (id(p) not in norm), name


def test_amp_configs_for_a_gpu_reach_prepare(tmp_path):
    config = tiny_config(tmp_path, "device.amp=O1", "device.name=gpu")
    amp = amp_configs(config["device"]["amp"], "gpu")
    assert amp == {"level": "O1", "use_dynamic_loss_scaling": True}
    assert amp_configs(load_config(None)["device"]["amp"], "gpu") is None  # default off
    net = paddle_attn.create_model("resnet18", num_classes=10, stem="cifar")
    model = prepare(net, config, paddle.optimizer.SGD(0.1, parameters=net.parameters()), amp)
    assert model._adapter._amp_level == "O1"
    assert model._adapter._amp_configs == {"use_dynamic_loss_scaling": True}
    assert prepare(net, config)._adapter._amp_level == "O0"  # evaluation: float32


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_amp_on_the_cpu_stops_before_anything_is_built(tmp_path, device):
    if device == "auto" and paddle.device.cuda.device_count() > 0:
        pytest.skip("auto picks the GPU on this machine")
    config = tiny_config(tmp_path, "device.amp=O1", f"device.name={device}")
    with pytest.raises(
        ConfigError, match="device.amp is 'O1', but Paddle's automatic mixed precision runs on GPUs only"
    ):
        train(config)
    assert not (tmp_path / "run").exists()


def test_amp_o2_is_refused_with_its_reason():
    with pytest.raises(
        ConfigError, match="device.amp must be off or O1 .* O2 is not offered: it keeps float16 weights"
    ):
        load_config(None, ["device.amp=O2"])
