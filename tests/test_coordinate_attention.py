"""Coordinate attention (resnet{depth}_ca): the layer and resnet50_ca against the PyTorch reference of the authors'
coordatt.py through the converter, its parameter count, and its gates labelled "per-axis" where they are drawn."""

import numpy as np
import paddle
import pytest
from PIL import Image

import paddle_attn
from paddle_attn.analysis import gates as am
from paddle_attn.analysis.report import open_network, write_report
from paddle_attn.convert import convert_state_dict, map_state_dict
from paddle_attn.data.synthetic import make_images
from paddle_attn.errors import ModelError
from paddle_attn.layers import CoordinateAttention
from paddle_attn.optim.optimizer import norm_parameters
from paddle_attn.training.visualdl_logging import histogram_tags

NEEDS_TORCH = "needs torch to run the PyTorch reference: pip install torch==2.13.0 (CPU)"
MAX_RELATIVE_ERROR = 2.3e-6  # the README's conversion figure


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    torch.set_num_threads(1)  # torch's and Paddle's thread pools spin against each other on 2 cores
    return torch


@pytest.fixture(scope="module")
def reference(torch):
    import torch_reference

    return torch_reference


def trainable_count(parameters):
    """Trainable values of Paddle or torch parameters (running statistics are not)."""
    trained = (p for p in parameters if (p.requires_grad if hasattr(p, "requires_grad") else not p.stop_gradient))
    return sum(int(np.prod(p.shape)) for p in trained)


def randomize(torch, net, seed=0):
    """Random convs and BatchNorms (affine and running statistics): a tensor mapped to the wrong place shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.2, generator=g)
                m.running_mean.normal_(0, 0.2, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
            elif isinstance(m, torch.nn.Conv2d):
                m.weight.normal_(0, m.weight[0].numel() ** -0.5, generator=g)
                if m.bias is not None:
                    m.bias.normal_(0, 0.2, generator=g)
    return net.eval()


def relative_error(got, expected):
    return float(np.abs(got - expected).max() / np.abs(expected).max())


@pytest.mark.parametrize("channels", [64, 512])  # hidden: max(8, 64 // 32) = 8, then 512 // 32 = 16
@pytest.mark.parametrize("training", [False, True])
def test_layer_equals_the_authors_coordatt_after_conversion(torch, reference, channels, training):
    theirs = randomize(torch, reference.coordinate_attention.CoordAtt(channels))
    params, _ = map_state_dict(theirs.state_dict(), "torchvision")
    ours = CoordinateAttention(channels)
    ours.set_state_dict(params)
    assert ours.conv1.weight.shape == [max(8, channels // 32), channels, 1, 1]
    assert trainable_count(ours.parameters()) == trainable_count(theirs.parameters())
    theirs.train(training)
    ours.train() if training else ours.eval()
    x = np.random.RandomState(1).randn(3, channels, 7, 5).astype("float32")  # H != W: the axes cannot be swapped
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    got = ours(paddle.to_tensor(x)).numpy()
    assert relative_error(got, expected) <= MAX_RELATIVE_ERROR


def test_resnet50_ca_equals_its_pytorch_reference_after_conversion(torch, reference):
    theirs = randomize(torch, reference.build("resnet50_ca", num_classes=10))
    converted = convert_state_dict(theirs.state_dict(), reference.LAYOUTS["resnet50_ca"])
    assert converted.spec == {"name": "resnet50_ca", "num_classes": 10, "stem": "imagenet", "kwargs": {}}
    assert trainable_count(converted.net.parameters()) == trainable_count(theirs.parameters())
    x = np.random.RandomState(0).randn(2, 3, 64, 64).astype("float32")
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with paddle.no_grad():
        got = converted.net(paddle.to_tensor(x)).numpy()
    error = relative_error(got, expected)
    print(f"resnet50_ca: max |paddle - torch| / max |torch| = {error:.2e}, max |paddle - torch| = ", end="")
    print(f"{np.abs(got - expected).max():.2e}")
    assert error <= MAX_RELATIVE_ERROR


def test_resnet50_ca_adds_the_papers_parameters_to_resnet50():
    """Each of the 16 blocks adds conv1 (C*m + m), BatchNorm (2m), conv_h and conv_w (2 * (m*C + C)), m = max(8, C/32)."""
    widths = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    added = sum(3 * c * max(8, c // 32) + 3 * max(8, c // 32) + 2 * c for c in widths)
    plain, ca = (trainable_count(paddle_attn.create_model(name).parameters()) for name in ("resnet50", "resnet50_ca"))
    assert ca - plain == added == 1_917_832
    assert plain == 25_557_032


def test_bad_reduction_is_a_model_error():
    with pytest.raises(ModelError, match="CoordinateAttention reduction must be a positive integer, got 0"):
        CoordinateAttention(64, reduction=0)
    with pytest.raises(ModelError, match="reduction must be a positive integer"):
        paddle_attn.create_model("resnet18_ca", attention_kwargs={"reduction": -1})


def test_gate_is_one_gate_per_row_times_one_per_column():
    layer = CoordinateAttention(16)
    layer.eval()
    x = paddle.randn([2, 16, 5, 7])
    gate = layer.gate(x).numpy()
    rows, columns = gate[:, :, :, :1], gate[:, :, :1, :]  # a_h * a_w[0] and a_h[0] * a_w
    np.testing.assert_allclose(gate * gate[:, :, :1, :1], rows * columns, rtol=1e-5)
    assert not np.allclose(gate, gate[:, :, :1, :])  # a_h varies along H


def test_its_batchnorm_is_a_norm_parameter():
    net = paddle_attn.create_model("resnet18_ca", num_classes=10)
    names = {id(p): name for name, p in net.named_parameters()}
    chosen = {names[id(p)] for p in norm_parameters(net)}
    assert {"layer1.0.attention.bn1.weight", "layer1.0.attention.bn1.bias"} <= chosen
    assert not any(name.startswith("layer1.0.attention.conv") for name in chosen)


def test_its_gates_are_labelled_per_axis_in_maps_pictures_and_visualdl(tmp_path):
    paddle.seed(0)
    net, info = open_network(model="resnet18_ca", num_classes=10, stem="cifar", image_size=16)
    shapes, _ = make_images(2, seed=2)
    paths = []
    for i, image in enumerate(shapes):
        Image.fromarray(image).save(tmp_path / f"shape{i}.png")
        paths.append(str(tmp_path / f"shape{i}.png"))
    result = write_report(net, info, paths, str(tmp_path / "maps"), log=lambda line: None)
    assert {p.rsplit("/", 1)[1] for p in result["model"]} == {"channel_gates.png"}
    assert list(result["stats"]["gates"]) == ["per-axis"]
    assert set(result["stats"]["gates"]["per-axis"]) == set(am.STAGES)
    maps = am.attention_maps(net, np.random.RandomState(0).randn(2, 3, 16, 16).astype("float32"))
    assert {gate.kind for gate in maps.gates} == {"per-axis"} and len(maps.gates) == 8
    assert {tag for tag in histogram_tags(maps, net)} == {f"attention/{stage}/per-axis" for stage in am.STAGES}
