"""PyTorch -> paddle_attn weights: logits parity per source layout, errors that name tensors, the CLI.

The parity tests need torch and are skipped (with the reason) without it; the rest runs on numpy alone.
"""

import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

import paddle_attn
from paddle_attn.convert import ConversionError, convert_state_dict, read_torch_state_dict, unwrap_state_dict
from paddle_attn.layers import ATTENTION_LAYERS
from paddle_attn.weights import load_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "convert_torch.py")
CLASSES = 10
MAX_RELATIVE_ERROR = 2.3e-6  # the README's figure
AUTHORS_CBAM = {"mlp_bias": True, "spatial_bn": True, "max_first": True}
NEEDS_TORCH = "needs torch to run the PyTorch references and write .pth files: pip install torch==2.13.0 (CPU)"


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    torch.set_num_threads(1)  # torch's and Paddle's thread pools spin against each other on 2 cores (30x slower)
    return torch


@pytest.fixture(scope="module")
def reference(torch):
    import torch_reference

    return torch_reference


def randomize(torch, reference, net, seed=0):
    """Random weights, BatchNorm affine and running statistics, so that any tensor mapped wrongly shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                sign = torch.randint(0, 2, m.weight.shape, generator=g) * 2 - 1
                m.weight.copy_(torch.empty_like(m.weight).uniform_(0.5, 1.5, generator=g) * sign)
                m.bias.normal_(0, 0.2, generator=g)
                m.running_mean.normal_(0, 0.2, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
            elif isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.normal_(0, m.weight[0].numel() ** -0.5, generator=g)
                if m.bias is not None:
                    m.bias.normal_(0, 0.2, generator=g)
        for m in net.modules():
            if isinstance(m, reference.nam_tutorial.ChannelAtt):
                # NAM scales its BN by |gamma| / sum|gamma| (~1/C): a variance ~1/C^2 keeps its gate sensitive
                m.bn2.running_var.div_(m.bn2.num_features**2)
    return net.eval()


def relative_error(got, expected):
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def logits(torch, net, x):
    if isinstance(net, torch.nn.Module):
        with torch.no_grad():
            return net(torch.from_numpy(x)).numpy()
    with paddle.no_grad():
        return net(paddle.to_tensor(x)).numpy()


PARITY = [  # reference network, its builder's kwargs, input size, the create_model arguments to infer
    ("resnet50", {}, 64, {"name": "resnet50", "stem": "imagenet", "kwargs": {}}),
    ("resnet18", {}, 64, {"name": "resnet18", "stem": "imagenet", "kwargs": {}}),
    ("resnet18_cbam", {}, 32, {"name": "resnet18_cbam", "stem": "cifar", "kwargs": {}}),
    ("epsanet50", {}, 64, {"name": "epsanet50", "stem": "imagenet", "kwargs": {}}),
    (
        "resnet50_eca_official",
        {"k_size": (3, 5, 5, 7)},
        64,
        {
            "name": "resnet50_eca",
            "stem": "imagenet",
            "kwargs": {"stage_attention_kwargs": {"kernel_size": [3, 5, 5, 7]}},
        },
    ),
    (
        "resnet50_cbam_official",
        {},
        64,
        {"name": "resnet50_cbam", "stem": "imagenet", "kwargs": {"attention_kwargs": AUTHORS_CBAM}},
    ),
]


@pytest.mark.parametrize("name, builder_kwargs, size, spec", PARITY, ids=[case[0] for case in PARITY])
def test_converted_logits_match_pytorch(torch, reference, name, builder_kwargs, size, spec):
    net = randomize(torch, reference, reference.build(name, num_classes=CLASSES, **builder_kwargs))
    check_parity(torch, reference, name, net, size, spec)


@pytest.mark.parametrize("suffix", sorted(ATTENTION_LAYERS))
def test_every_registered_block_converts_from_its_pytorch_reference(torch, reference, suffix):
    """resnet50_<suffix> of every ATTENTION_LAYERS block, from the reference a torch_reference module declares;
    input 64 px for the ImageNet stem, 32 px for the CIFAR stem of the tutorials' networks."""
    name = f"resnet50_{suffix}"
    assert name in reference.BUILDERS, f"no PyTorch reference declares {name} (torch_reference/*.py REFERENCES)"
    net = randomize(torch, reference, reference.build(name, num_classes=CLASSES))
    stem = "imagenet" if net.conv1.kernel_size == (7, 7) else "cifar"
    check_parity(
        torch, reference, name, net, 64 if stem == "imagenet" else 32, {"name": name, "stem": stem, "kwargs": {}}
    )


def check_parity(torch, reference, name, net, size, spec):
    """The converted `net` is the network `spec` names, and its logits are the PyTorch network's."""
    converted = convert_state_dict(net.state_dict(), reference.LAYOUTS[name])
    assert converted.spec == {**spec, "num_classes": CLASSES}
    x = np.random.RandomState(0).randn(2, 3, size, size).astype("float32")
    error = relative_error(logits(torch, converted.net, x), logits(torch, net, x))
    print(f"{name} ({reference.LAYOUTS[name]}): max |paddle - torch| / max |torch| = {error:.2e}")
    assert error <= MAX_RELATIVE_ERROR


# --- errors and wrappers: numpy state dicts, no torch needed ---


@pytest.fixture(scope="module")
def paddle_resnet18():
    return paddle_attn.create_model("resnet18", num_classes=5)


@pytest.fixture
def torchvision_state(paddle_resnet18):
    """resnet18's tensors under torchvision's names and layouts, each filled with distinct random values."""
    rng = np.random.RandomState(0)
    state = {"bn1.num_batches_tracked": np.array(7)}
    for key, value in paddle_resnet18.state_dict().items():
        torch_key = key.replace("._mean", ".running_mean").replace("._variance", ".running_var")
        shape = value.shape[::-1] if key == "fc.weight" else value.shape
        state[torch_key] = rng.rand(*shape).astype("float32")
    return state


def test_torchvision_names_land_on_the_right_tensors(torchvision_state):
    converted = convert_state_dict(torchvision_state, "torchvision")
    assert converted.spec == {"name": "resnet18", "num_classes": 5, "stem": "imagenet", "kwargs": {}}
    params = converted.net.state_dict()
    np.testing.assert_array_equal(params["fc.weight"].numpy(), torchvision_state["fc.weight"].T)
    np.testing.assert_array_equal(
        params["layer2.0.downsample.1._variance"].numpy(), torchvision_state["layer2.0.downsample.1.running_var"]
    )
    np.testing.assert_array_equal(params["bn1._mean"].numpy(), torchvision_state["bn1.running_mean"])
    assert len(params) == len(torchvision_state) - 1  # all but num_batches_tracked


def test_missing_tensor_is_named(torchvision_state):
    del torchvision_state["layer2.1.bn1.running_var"]
    with pytest.raises(ConversionError, match=r"missing \(1\): layer2\.1\.bn1\._variance"):
        convert_state_dict(torchvision_state, "torchvision")


def test_extra_tensor_is_named(torchvision_state):
    torchvision_state["layer1.0.se.fc.weight"] = np.zeros((4, 64), "float32")
    with pytest.raises(ConversionError, match=r"unexpected \(1\): layer1\.0\.se\.fc\.weight"):
        convert_state_dict(torchvision_state, "torchvision")


def test_misshapen_tensor_is_named_with_its_pytorch_name(torchvision_state):
    torchvision_state["layer3.0.bn1.running_var"] = np.ones(255, "float32")
    message = (
        r"misshapen \(1\): layer3\.0\.bn1\._variance \(PyTorch layer3\.0\.bn1\.running_var\): converted \[255\] vs"
    )
    with pytest.raises(ConversionError, match=message):
        convert_state_dict(torchvision_state, "torchvision")


def test_model_name_given_overrides_inference(torchvision_state):
    with pytest.raises(ConversionError, match=r"missing \(\d+\): .*layer1\.2\.conv1\.weight"):
        convert_state_dict(torchvision_state, "torchvision", name="resnet34")


def test_unknown_layout_lists_the_known_ones(torchvision_state):
    with pytest.raises(ConversionError, match="unknown layout 'timm'; known layouts: torchvision, eca_tutorial"):
        convert_state_dict(torchvision_state, "timm")


def test_unwrap_state_dict_accepts_wrappers_and_data_parallel_prefix():
    tensors = {"conv1.weight": 1, "fc.bias": 2}
    prefixed = {f"module.{k}": v for k, v in tensors.items()}
    assert unwrap_state_dict(tensors) == tensors
    assert unwrap_state_dict({"state_dict": prefixed, "epoch": 90, "best_prec1": 77.3}) == tensors
    assert unwrap_state_dict({"model": prefixed, "optimizer": {}}) == tensors
    with pytest.raises(ConversionError, match="holds no state dict"):
        unwrap_state_dict([1, 2, 3])


def test_reading_pth_without_torch_says_how_to_install_it(tmp_path, monkeypatch):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(
        ConversionError, match=r"install torch \(pip install torch==2\.13\.0 on CPU\) to read \.pth files"
    ):
        read_torch_state_dict(str(path))


def test_pickled_extras_are_read_only_when_trusted(torch, tmp_path):
    path = tmp_path / "old_script.pth.tar"
    torch.save({"state_dict": {"module.fc.bias": torch.ones(3)}, "best_prec1": np.float64(76.1)}, path)
    with pytest.raises(ConversionError, match=r"numpy.*source you trust, read it with trusted=True"):
        read_torch_state_dict(str(path))
    assert list(read_torch_state_dict(str(path), trusted=True)) == ["fc.bias"]


def test_importing_the_converter_does_not_import_torch():
    code = "import sys, paddle_attn.convert; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True).returncode == 0


# --- the command line tool ---


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], cwd=ROOT, capture_output=True, text=True)


def test_tool_converts_a_wrapped_data_parallel_pth_end_to_end(torch, reference, tmp_path):
    net = randomize(torch, reference, reference.build("resnet18_cbam", num_classes=CLASSES))
    pth, pdparams, checkpoint = tmp_path / "cbam.pth", tmp_path / "out" / "cbam.pdparams", tmp_path / "runs" / "cbam"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}, "epoch": 3}, pth)

    result = run_tool(
        "--layout", "cbam_tutorial", "--input", str(pth), "--output", str(pdparams), "--checkpoint-dir", str(checkpoint)
    )
    assert result.returncode == 0, result.stderr

    x = np.random.RandomState(1).randn(2, 3, 32, 32).astype("float32")
    expected = logits(torch, net, x)
    model = paddle_attn.create_model("resnet18_cbam", num_classes=CLASSES, stem="cifar")
    model.set_state_dict(paddle.load(str(pdparams)))
    model.eval()
    assert relative_error(logits(torch, model, x), expected) <= MAX_RELATIVE_ERROR

    restored, state = load_model(str(checkpoint))
    assert relative_error(logits(torch, restored, x), expected) <= MAX_RELATIVE_ERROR
    with open(checkpoint / "state.json") as f:
        assert (
            json.load(f)
            == state
            == {
                "epoch": 0,
                "model": {"name": "resnet18_cbam", "num_classes": CLASSES, "stem": "cifar", "kwargs": {}},
                "data": {"transform": "cifar", "image_size": 32},
            }
        )


def test_tool_bad_input_is_one_clear_message(tmp_path):
    result = run_tool(
        "--layout", "torchvision", "--input", str(tmp_path / "nope.pth"), "--output", str(tmp_path / "x.pdparams")
    )
    assert result.returncode != 0
    assert "nope.pth' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.pdparams").exists()
