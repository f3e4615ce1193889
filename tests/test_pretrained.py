"""create_model(pretrained=...): checkpoints, .pdparams and PyTorch files, tensors checked, classifier replaced."""

import numpy as np
import paddle
import pytest
import safetensors

import paddle_attn
from paddle_attn.checkpoint import CheckpointError
from paddle_attn.convert import convert_file
from paddle_attn.weights import load_model
from tests.helpers import make_checkpoint, run_tool
from tests.test_convert import NEEDS_TORCH, logits, randomize

CLASSES = 10
KERNELS = {"stage_attention_kwargs": {"kernel_size": [3, 5, 5, 7]}}  # the ECA authors' ImageNet kernel sizes


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """An ECA ResNet-18 in the ECA authors' layout (kernel sizes 3, 5, 5, 7), as .pth, as the converter's
    .pdparams and checkpoint directory, with its logits on a fixed batch."""
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    torch.set_num_threads(1)  # torch's and Paddle's thread pools spin against each other on 2 cores
    import torch_reference

    folder = tmp_path_factory.mktemp("pretrained")
    reference = randomize(torch, torch_reference, torch_reference.eca_resnet(18, CLASSES, k_size=(3, 5, 5, 7)))
    torch.save(reference.state_dict(), folder / "eca18.pth")
    spec = convert_file(
        str(folder / "eca18.pth"), "eca_official", str(folder / "eca18.pdparams"), str(folder / "eca18")
    )
    assert spec == {"name": "resnet18_eca", "num_classes": CLASSES, "stem": "imagenet", "kwargs": KERNELS}
    convert_file(str(folder / "eca18.pth"), "eca_official", str(folder / "eca18.safetensors"))
    x = np.random.RandomState(1).randn(2, 3, 64, 64).astype("float32")
    checkpoint_net, _ = load_model(str(folder / "eca18"))
    return {"folder": folder, "x": x, "logits": logits(torch, checkpoint_net, x)}


@pytest.mark.parametrize(
    "source, layout",
    [("eca18.pdparams", None), ("eca18.safetensors", None), ("eca18", None), ("eca18.pth", "eca_official")],
)
def test_pretrained_gives_the_converters_logits(converted, source, layout):
    net = paddle_attn.create_model(
        "resnet18_eca",
        num_classes=CLASSES,
        pretrained=converted["folder"] / source,
        pretrained_layout=layout,
        **KERNELS,
    )
    net.eval()
    with paddle.no_grad():
        got = net(paddle.to_tensor(converted["x"])).numpy()
    np.testing.assert_allclose(got, converted["logits"], rtol=0, atol=1e-6)


def test_a_spec_reads_safetensors_and_the_file_holds_tensors_only(converted):
    path = converted["folder"] / "eca18.safetensors"
    with safetensors.safe_open(str(path), "np") as weights:  # a safetensors file: a JSON header, then tensors
        assert "layer4.0.attention.conv.weight" in weights.keys()
    net = paddle_attn.create_model_from_spec(
        {"name": "resnet18_eca", "num_classes": CLASSES, "stem": "imagenet", "kwargs": KERNELS, "pretrained": str(path)}
    )
    net.eval()
    with paddle.no_grad():
        np.testing.assert_allclose(
            net(paddle.to_tensor(converted["x"])).numpy(), converted["logits"], rtol=0, atol=1e-6
        )


def test_export_writes_safetensors_weights_that_pretrained_reads(tmp_path):
    run = make_checkpoint(tmp_path / "run", "resnet18_se")
    result = run_tool("export.py", "--checkpoint", run, "--out", tmp_path / "export", "--format", "safetensors")
    assert result.returncode == 0, result.stderr
    net = paddle_attn.create_model(
        "resnet18_se", num_classes=10, stem="cifar", pretrained=tmp_path / "export" / "model.safetensors"
    )
    saved, _ = load_model(run)
    assert all(
        np.array_equal(value.numpy(), saved.state_dict()[key].numpy()) for key, value in net.state_dict().items()
    )


def test_other_model_arguments_name_the_tensors_and_the_weights_arguments(converted):
    with pytest.raises(CheckpointError) as error:
        paddle_attn.create_model("resnet18_eca", num_classes=CLASSES, pretrained=converted["folder"] / "eca18.pdparams")
    message = str(error.value)
    # resnet18_eca's default kernel sizes are 3, 5, 5, 5 (from the channels): only the last stage differs
    assert "misshapen (2): layer4.0.attention.conv.weight: checkpoint [1, 1, 7] vs model [1, 1, 5]" in message
    assert (
        "the weights are of create_model('resnet18_eca', stem='imagenet', "
        "**{'stage_attention_kwargs': {'kernel_size': [3, 5, 5, 7]}})"
    ) in message


def test_a_wrong_shaped_file_names_the_tensor(converted, tmp_path):
    params = paddle.load(str(converted["folder"] / "eca18.pdparams"))
    params["layer3.1.bn2.weight"] = params["layer3.1.bn2.weight"][:100]
    del params["layer4.1.conv2.weight"]
    paddle.save(params, str(tmp_path / "broken.pdparams"))
    with pytest.raises(CheckpointError) as error:
        paddle_attn.create_model(
            "resnet18_eca", num_classes=CLASSES, pretrained=tmp_path / "broken.pdparams", **KERNELS
        )
    assert "missing (1): layer4.1.conv2.weight" in str(error.value)
    assert "misshapen (1): layer3.1.bn2.weight: checkpoint [100] vs model [256]" in str(error.value)


def test_a_converted_tensor_that_does_not_fit_names_its_pytorch_source(converted):
    with pytest.raises(
        CheckpointError,
        match=r"layer4.0.attention.conv.weight \(PyTorch layer4.0.eca.conv.weight\): "
        r"converted \[1, 1, 7\] vs model \[1, 1, 5\]",
    ):
        paddle_attn.create_model(
            "resnet18_eca",
            num_classes=CLASSES,
            pretrained=converted["folder"] / "eca18.pth",
            pretrained_layout="eca_official",
        )


def test_fine_tuning_replaces_the_classifier_and_says_so(converted, capsys):
    path = converted["folder"] / "eca18.pdparams"
    net = paddle_attn.create_model("resnet18_eca", num_classes=4, pretrained=path, **KERNELS)
    assert (
        f"pretrained {path}: classifier fc replaced, 10 classes in the weights, 4 in the model"
        in capsys.readouterr().out
    )
    weights = paddle.load(str(path))
    loaded = net.state_dict()
    assert list(loaded["fc.weight"].shape) == [512, 4]
    assert all(np.array_equal(loaded[k].numpy(), weights[k].numpy()) for k in weights if not k.startswith("fc."))


def test_unusable_pretrained_paths_are_clear(converted, tmp_path):
    with pytest.raises(CheckpointError, match="pretrained weights '.*nothing.pdparams' do not exist"):
        paddle_attn.create_model("resnet18_eca", pretrained=tmp_path / "nothing.pdparams")
    with pytest.raises(
        CheckpointError,
        match="'.*eca18.pth' look like a PyTorch file: give pretrained_layout, the code base "
        "that saved them \\(torchvision, eca_tutorial",
    ):
        paddle_attn.create_model("resnet18_eca", pretrained=converted["folder"] / "eca18.pth")
