"""Attention maps: recorded gates against the layers' own, Grad-CAM on a network whose evidence is known,
every family's pictures (tools/visualize.py and its library), and the VisualDL logging during training."""

import io
import json

import numpy as np
import paddle
import paddle.nn as nn
import pytest
from helpers import assert_user_error, make_checkpoint, run_tool, tiny_config, write_lying_images
from PIL import Image

import paddle_attn
from paddle_attn.analysis import gates as am
from paddle_attn.analysis import gradcam
from paddle_attn.analysis.report import class_index, open_network, write_report
from paddle_attn.checkpoint import CheckpointError
from paddle_attn.config import ConfigError
from paddle_attn.data.synthetic import make_images
from paddle_attn.layers import ATTENTION_LAYERS, GATE_KINDS, PSAModule

FAMILIES = tuple(f"resnet18_{suffix}" for suffix in ATTENTION_LAYERS)


def network(name, stem="cifar"):
    paddle.seed(3)
    return paddle_attn.create_model(name, num_classes=10, stem=stem)


def images(count=2, size=32, channels=3):
    return np.random.default_rng(0).normal(size=(count, channels, size, size)).astype("float32")


def gate_inputs(net, x):
    """{name: input tensor} of every attention gate in a plain forward pass, and the gate layers by name."""
    gates = {name: layer for name, layer in net.named_sublayers() if isinstance(layer, am.AttentionGate)}
    inputs = {}
    hooks = [
        layer.register_forward_pre_hook(lambda layer, args, name=name: inputs.__setitem__(name, args[0]))
        for name, layer in gates.items()
    ]
    with paddle.no_grad():
        net(paddle.to_tensor(x))
    for hook in hooks:
        hook.remove()
    return inputs, gates


@pytest.mark.parametrize("name", FAMILIES)
def test_recorded_gates_are_what_each_block_multiplied_by(name):
    net, x = network(name), images()
    net.eval()
    inputs, gates = gate_inputs(net, x)
    outputs = {}
    hooks = [
        layer.register_forward_post_hook(lambda layer, args, out, n=n: outputs.__setitem__(n, out.numpy()))
        for n, layer in gates.items()
    ]
    maps = am.attention_maps(net, x)
    for hook in hooks:
        hook.remove()
    assert [gate.name for gate in maps.gates] == list(gates)
    for gate in maps.gates:
        layer, direct = gates[gate.name], gates[gate.name].gate(inputs[gate.name]).numpy()
        np.testing.assert_array_equal(gate.values, direct)  # the same as a direct call of gate()
        np.testing.assert_array_equal(outputs[gate.name], inputs[gate.name].numpy() * gate.values)  # and multiplied by
        assert "gate" not in vars(layer)  # the recording wrapper is gone
        assert gate.stage == gate.name.split(".")[0]
    if name.endswith("cbam"):
        assert {gate.kind for gate in maps.gates} == {"channel", "spatial"}
    for gate in maps.gates:
        assert_shaped_as_its_kind(gate, inputs[gate.name].shape)


def assert_shaped_as_its_kind(gate, x_shape):
    """The label a gate is recorded under says what its values span (layers.GATE_KINDS)."""
    n, c, h, w = x_shape
    shapes = {
        "channel": {(n, c, 1, 1), (n, c, h, w)},  # NAM's channel gate, a BatchNorm's output, differs at each position
        "spatial": {(n, 1, h, w)},
        "pixel": {(n, c, h, w)},
        "per-axis": {(n, c, h, w)},
    }
    assert set(shapes) == set(GATE_KINDS)
    assert gate.values.shape in shapes[gate.kind], (gate.name, gate.kind)
    if gate.kind == "per-axis":  # per channel an outer product of a column and a row: rank 1
        singular = np.linalg.svd(gate.values.astype("float64"), compute_uv=False)
        assert (singular[..., 1:] <= 1e-5 * singular[..., :1]).all(), gate.name


def test_gate_statistics_equal_what_the_layers_compute():
    net, x = network("resnet18_cbam"), images()
    net.eval()
    inputs, gates = gate_inputs(net, x)
    direct = {name: layer.gate(inputs[name]).numpy() for name, layer in gates.items()}
    maps = am.attention_maps(net, x)
    channel, spatial = maps.gate_values("channel"), maps.spatial_gates()
    for stage in am.STAGES:
        expected = np.concatenate([direct[f"{stage}.{b}.attention.channel"].reshape(2, -1) for b in (0, 1)], axis=1)
        np.testing.assert_array_equal(channel[stage], expected)
        mean = (direct[f"{stage}.0.attention.spatial"] + direct[f"{stage}.1.attention.spatial"])[:, 0] / 2
        np.testing.assert_allclose(spatial[stage], mean, rtol=1e-6)
    assert spatial["layer1"].shape == (2, 32, 32) and spatial["layer4"].shape == (2, 4, 4)
    sampled = maps.gate_values("channel", per_image=100)["layer4"]  # of 1024 values, every 11th
    np.testing.assert_array_equal(sampled, channel["layer4"][:, ::11])
    assert sampled.shape == (2, 94)


def test_nam_scales_are_the_normalized_batchnorm_scales():
    net = network("resnet18_nam")
    layer = net.layer3[1].attention.channel
    gamma = np.linspace(-2.0, 2.0, 256).astype("float32")  # |gamma| from 0 to 2, some tiny
    layer.weight.set_value(gamma)
    scales = am.nam_scale_weights(net)["layer3.1.attention.channel"]
    np.testing.assert_allclose(scales, np.abs(gamma) / np.abs(gamma).sum(), rtol=1e-6)
    by_stage = am.nam_scale_weights_by_stage(net)
    np.testing.assert_allclose(by_stage["layer3"][256:], scales * 256, rtol=1e-6)
    shares = am.share_under(by_stage, 0.1)
    assert shares["layer1"] == 0.0  # untrained: gamma = 1 everywhere, an equal share each
    assert shares["layer3"] == pytest.approx(np.mean(np.abs(gamma) / np.abs(gamma).mean() < 0.1) / 2)


def test_psa_weights_are_the_softmax_the_module_applies():
    paddle.seed(0)
    net = nn.Sequential(PSAModule(64, 64))  # 4 scales of 16 channels: groups up to 16 divide them
    x = paddle.to_tensor(images(size=8, channels=64))
    with am.GateRecorder(net) as recorder:
        out = net(x).numpy()
    (weights,) = recorder.scale_weights()
    psa = net[0]
    assert weights.kernel_sizes == (9, 7, 5, 3) and weights.values.shape == (2, 4, 16)
    np.testing.assert_allclose(weights.values.sum(axis=1), 1.0, rtol=1e-6)
    scales = [getattr(psa, f"conv_{i}")(x).numpy() for i in (4, 3, 2, 1)]  # output order: kernel 9 first
    rebuilt = np.concatenate(
        [s * w[:, :, None, None] for s, w in zip(scales, weights.values.transpose(1, 0, 2))], axis=1
    )
    np.testing.assert_allclose(out, rebuilt, rtol=1e-5, atol=1e-6)


class TwoEvidenceNet(nn.Layer):
    """Class c's logit is the mean of feature channel c, which is input channel c: its evidence is where it is bright."""

    def __init__(self):
        super().__init__()
        self.features = nn.Conv2D(2, 2, 1, bias_attr=False)
        self.features.weight.set_value(np.eye(2, dtype="float32").reshape(2, 2, 1, 1))

    def forward(self, x):
        return self.features(x).mean(axis=[2, 3])


def test_grad_cam_lights_up_the_evidence_of_the_class_asked_for():
    x = np.zeros((1, 2, 16, 16), dtype="float32")
    x[0, 0, 2:6, 3:9] = 1.0  # class 0's evidence
    x[0, 1, 10:14, 8:15] = 2.0  # class 1's, brighter: the predicted class
    net = TwoEvidenceNet()
    maps = am.attention_maps(net, x, target_class=0, cam_layer="features")
    assert maps.predicted[0] == 1 and maps.cam_size == (16, 16)
    np.testing.assert_allclose(maps.cam[0], x[0, 1] / 2, atol=1e-6)  # the evidence itself, scaled to [0, 1]
    np.testing.assert_allclose(maps.target_cam[0], x[0, 0], atol=1e-6)
    boxes = np.array([[10, 8, 14, 15]])
    assert gradcam.box_ratios(maps.cam, boxes)[0] == np.inf
    assert gradcam.box_ratios(maps.target_cam, boxes)[0] == 0.0  # class 0's evidence is all outside class 1's box
    assert all(p.grad is None for p in net.parameters())  # Grad-CAM leaves the training gradients alone


def test_grad_cam_picks_the_deepest_stage_that_still_has_a_map():
    net = network("resnet18_nam", stem="imagenet")
    net.train()
    mean_before = net.layer1[0].bn1._mean.numpy()
    cams, logits, layer = am.grad_cam(net, images(size=32))  # 32 px, ImageNet stem: layer4 is 1x1, layer2 4x4
    assert layer == "layer2" and cams.shape == (2, 32, 32) and logits.shape == (2, 10)
    assert cams.max() == 1.0 and cams.min() >= 0.0
    assert net.training  # its mode is restored, and eval mode left the running statistics alone
    np.testing.assert_array_equal(net.layer1[0].bn1._mean.numpy(), mean_before)
    assert am.grad_cam(network("resnet18"), images(size=32))[2] == "layer4"  # CIFAR stem: layer4 is 4x4
    with pytest.raises(ValueError, match="class 10 is out of range: the model has 10 classes"):
        am.grad_cam(net, images(size=32), classes=10)
    with pytest.raises(ValueError, match="no sublayer 'head'"):
        am.grad_cam(net, images(size=32), layer="head")


def test_synthetic_boxes_bound_the_drawn_shapes_and_change_no_data():
    plain_images, plain_labels = make_images(2, seed=5)
    shown, labels, boxes = make_images(2, seed=5, with_boxes=True)
    np.testing.assert_array_equal(shown, plain_images)
    np.testing.assert_array_equal(labels, plain_labels)
    for image, (y0, x0, y1, x1) in zip(shown, boxes):
        colours, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
        shape = np.all(image == colours[counts.argmax()], axis=2)  # the one flat colour: the shape's pixels
        rows, columns = np.nonzero(shape)
        assert (rows.min(), columns.min(), rows.max() + 1, columns.max() + 1) == (y0, x0, y1, x1)


def write_images(directory, count=2):
    directory.mkdir(exist_ok=True)
    shapes, _ = make_images(1, seed=2)
    for i in range(count):
        Image.fromarray(shapes[i]).save(directory / f"shape{i}.png")
    (directory / "broken.png").write_text("not an image")
    return directory


def test_visualize_draws_cbam_maps_names_a_broken_image_and_goes_on(tmp_path):
    run = make_checkpoint(tmp_path / "run", "resnet18_cbam")
    shapes = write_images(tmp_path / "images")
    write_lying_images(shapes)  # bomb_20000x20000.png first, truncated.jpg last
    result = run_tool("visualize.py", "--checkpoint", run, shapes, "--out", tmp_path / "maps", "--target-class", "cat")
    assert_user_error(
        result,
        "broken.png' is not a readable image",
        "bomb_20000x20000.png' is not a readable image",
        "decompression bomb",
        "truncated.jpg' is not a readable image",
    )
    assert result.stdout.count("skipped: ") == 3 and "[3/5]" in result.stdout and "[4/5]" in result.stdout
    with Image.open(tmp_path / "maps" / "003_shape0.png") as png:  # input, 2 Grad-CAMs, 4 spatial gates
        assert png.format == "PNG" and png.size[0] > 1500
    stats = json.loads((tmp_path / "maps" / "attention_stats.json").read_text())
    assert stats["images"] == 2 and stats["cam_layer"] == "layer4" and set(stats["gates"]["channel"]) == set(am.STAGES)
    assert (tmp_path / "maps" / "channel_gates.png").stat().st_size > 10_000
    assert not (tmp_path / "maps" / "nam_scales.png").exists()


def test_visualize_says_when_a_model_lacks_the_gates_asked_for(tmp_path):
    shapes = write_images(tmp_path / "images", count=1)
    result = run_tool(
        "visualize.py",
        "--model",
        "resnet18",
        "--num-classes",
        "10",
        "--stem",
        "cifar",
        shapes / "shape0.png",
        "--out",
        tmp_path / "maps",
        "--maps",
        "gradcam,spatial",
    )
    assert result.returncode == 0, result.stderr
    assert "resnet18 has no attention gates: Grad-CAM only" in result.stdout
    assert "resnet18 has no CBAM spatial gate: no spatial pictures" in result.stdout
    assert "random weights" in result.stderr
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["001_shape0.png", "attention_stats.json"]


@pytest.mark.parametrize(
    "name, model_pictures",
    [
        ("resnet18_se", {"channel_gates.png"}),
        ("resnet18_eca", {"channel_gates.png"}),
        ("resnet18_nam", {"channel_gates.png", "nam_scales.png"}),
        ("epsanet50", {"psa_scales.png"}),
    ],
)
def test_every_family_draws_its_pictures(tmp_path, name, model_pictures):
    shapes = write_images(tmp_path / "images", count=2)
    paths = [str(shapes / "shape0.png"), str(shapes / "shape1.png")]
    net, info = open_network(model=name, num_classes=10, stem="cifar", image_size=16)
    result = write_report(net, info, paths, str(tmp_path / "maps"), log=lambda line: None)
    assert {p.rsplit("/", 1)[1] for p in result["model"]} == model_pictures
    assert len(result["images"]) == 2 and not result["errors"] and not result["notes"]
    stats = result["stats"]
    x = np.stack([info_transform(info, path) for path in paths])
    maps = am.attention_maps(net, x)
    if "psa_scales.png" in model_pictures:  # the weights drawn are the modules' softmax, mean over images and channels
        kernels, weights = maps.stage_scale_weights()["layer3"]
        assert kernels == (9, 7, 5, 3)
        assert [stats["psa_weights"]["layer3"][str(k)] for k in kernels] == pytest.approx(weights.mean(axis=0).tolist())
    else:
        values = maps.gate_values("channel", am.VALUES_PER_IMAGE)["layer2"]
        assert stats["gates"]["channel"]["layer2"]["mean"] == pytest.approx(float(values.mean()), rel=1e-6)
    if "nam_scales.png" in model_pictures:
        assert stats["nam_scales"]["share_under"] == am.share_under(am.nam_scale_weights_by_stage(net), 0.1)


def info_transform(info, path):
    from paddle_attn.data.images import load_image
    from paddle_attn.data.transforms import build_transform

    transform = build_transform(info["transform"], False, info["image_size"], info["mean"], info["std"])
    return transform(load_image(path)).astype("float32")


def test_weights_are_checked_tensor_by_tensor_and_classes_resolved(tmp_path):
    source = network("resnet18_se")
    paddle.save(source.state_dict(), str(tmp_path / "se.pdparams"))
    net, info = open_network(
        model="resnet18_se", pretrained=str(tmp_path / "se.pdparams"), num_classes=10, stem="cifar"
    )
    np.testing.assert_array_equal(net.fc.weight.numpy(), source.fc.weight.numpy())
    assert info["transform"] == "cifar" and info["image_size"] == 32
    with pytest.raises(
        CheckpointError,
        match=r"se.pdparams' does not fit the model:\n  missing \(24\): layer1.0.attention.channel.fc1.weight",
    ):
        open_network(model="resnet18_cbam", pretrained=str(tmp_path / "se.pdparams"), num_classes=10, stem="cifar")
    (tmp_path / "junk.pdparams").write_text("junk")
    with pytest.raises(CheckpointError, match="weights file .*junk.pdparams. is truncated or corrupt"):
        open_network(model="resnet18", pretrained=str(tmp_path / "junk.pdparams"))
    names = ["cat", "dog"]
    assert class_index("dog", names) == 1 and class_index("0", names) == 0 and class_index(None, names) is None
    with pytest.raises(ValueError, match="unknown class 'cow'; the model's classes: cat, dog"):
        class_index("cow", names)
    with pytest.raises(ValueError, match="--target-class 2 is out of range"):
        class_index("2", names)


def test_training_logs_gate_histograms_and_grad_cam_images(tmp_path):
    from visualdl import LogReader

    from paddle_attn.analysis.run_logs import log_files
    from paddle_attn.training import train

    config = tiny_config(tmp_path, "visualdl.attention=true", "visualdl.attention_every=2", epochs=2)
    train(config)
    (log,) = log_files(str(tmp_path / "run"))
    reader = LogReader(file_path=log)
    for stage, values_per_image in (("layer1", 2 * 64 * 8 * 8), ("layer4", 2 * 512 * 1 * 1)):
        records = reader.get_data("histogram", f"attention/{stage}/channel")  # NAM: gate values at every position
        assert [r.id for r in records] == [1, 2]
        assert sum(records[-1].histogram.hist) == 8 * values_per_image  # the 8 fixed test images
        scales = reader.get_data("histogram", f"attention/{stage}/nam_scale")
        assert sum(scales[-1].histogram.hist) == 2 * (64 if stage == "layer1" else 512)
    (image,) = reader.get_data("image", "attention/gradcam")  # every 2 epochs: at epoch 2 only
    assert image.id == 2
    with Image.open(io.BytesIO(image.image.encoded_image_string)) as png:
        assert png.size[0] > 600 and png.size[1] > 300  # 4 x 2 overlays
    assert reader.get_data("scalar", "eval/top1")  # the run's own curves are in the same log
    train(tiny_config(tmp_path, run="plain", epochs=2))
    logged, plain = (
        paddle.load(str(tmp_path / run / "checkpoints" / "latest" / "model.pdparams")) for run in ("run", "plain")
    )
    for key, value in plain.items():  # the logging changed nothing in training
        np.testing.assert_array_equal(logged[key].numpy(), value.numpy(), err_msg=key)


def test_attention_logging_config_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="visualdl.attention_every must be >= 1"):
        tiny_config(tmp_path, "visualdl.attention_every=0")
