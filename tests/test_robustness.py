"""Random overrides, checkpoints and images thrown at the tools: only the tool's own message and a non-zero exit."""

import functools
import json
import os
import runpy
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import paddle_attn
from paddle_attn import checkpoint as ckpt
from paddle_attn import create_model_from_spec
from paddle_attn.config import SCHEMA, ConfigError, load_config, save_config
from paddle_attn.models.resnet import ResNet
from tests.helpers import ROOT

KEYS = [f"{section}.{key}" for section, keys in SCHEMA.items() for key in keys]
NESTED = [
    "model.kwargs.attention_kwargs.reduction",
    "model.kwargs.attention_kwargs.kernel_size",
    "model.kwargs.foo",
    "model.kwargs.stage_attention_kwargs.kernel_size",
    "model.kwargs.in_channels",
]
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
OVERRIDE = st.one_of(
    st.builds(
        lambda key, value: f"{key}={value}",
        st.sampled_from(KEYS + NESTED + ["train.epoch", "trian.seed", "model"]),
        st.one_of(
            TEXT,
            st.integers(-(10**6), 10**6).map(str),
            st.floats(allow_nan=True).map(str),
            st.sampled_from(["[", "{a: 1", "null", "-1", "true", "[1, 2]", "'", ": x", "3", "4", "[3, 5, 5, 7]"]),
        ),
    ),
    TEXT,
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_tool(tool, args, capsys):
    """Run the tool <tool> (paddle_attn/cli/<tool>, as tools/<tool> runs it) in this process; return (exit code, stderr)."""
    sys_argv = sys.argv
    sys.argv = [tool, *args]
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_module(f"paddle_attn.cli.{tool.removesuffix('.py')}", run_name="__main__")
    finally:
        sys.argv = sys_argv
    return exit_info.value.code, capsys.readouterr().err


def assert_clean_failure(code, stderr):
    assert code not in (0, None)
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith(("error:", "usage:")) or "error:" in stderr


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ckpt")
    net = paddle_attn.create_model("resnet18_eca", num_classes=10, stem="cifar")
    state = {
        "epoch": 1,
        "step": 1,
        "best_top1": 0.1,
        "metrics": {},
        "model": {"name": "resnet18_eca", "num_classes": 10, "stem": "cifar", "kwargs": {}},
        "data": {"dataset": "synthetic", "transform": "cifar", "image_size": 32},
    }
    return ckpt.save_checkpoint(str(directory), "epoch_0001", net.state_dict(), None, state)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    """A valid config whose data file is never read: every failure below happens before the data is loaded."""
    path = tmp_path_factory.mktemp("config") / "run.yaml"
    save_config(
        load_config(
            os.path.join(ROOT, "configs", "quickstart.yaml"),
            ["data.data_file=never-read.tar.gz", "model.name=resnet18_eca", "model.stem=cifar"],
        ),
        str(path),
    )
    return str(path)


def parsed_as_given(config, override):
    """Whether `config` holds what the override `section.key=value` (a top-level key) says."""
    dotted, _, raw = override.partition("=")
    section, _, key = dotted.partition(".")
    expected, got = yaml.safe_load(raw) if raw.strip() else None, config[section][key]
    return got == expected or (isinstance(got, float) and not isinstance(expected, bool) and float(expected) == got)


@SETTINGS
@given(overrides=st.lists(OVERRIDE, min_size=1, max_size=3))
def test_random_overrides(overrides, config_file):
    # what tools/eval.py and train.py do with -c and -o (cli.config_from_args): a config, or a ConfigError
    # that comes from the overrides, never another exception
    try:
        config = load_config(config_file, overrides)
    except ConfigError as err:
        assert str(err).startswith(("command line -o", "override ")), err
        return
    create_model_from_spec(config["model"])  # an accepted config builds its network
    for override in overrides:  # every override that was accepted is in the config as given
        dotted = override.partition("=")[0]
        if dotted.count(".") == 1 and dotted.partition(".")[2] in SCHEMA.get(dotted.partition(".")[0], {}):
            assert parsed_as_given(config, override) or any(
                o.startswith(dotted + "=") for o in overrides[overrides.index(override) + 1 :]
            )


def test_property_tests_are_reproducible():
    assert SETTINGS.derandomize and SETTINGS.max_examples == 25  # conftest's profile, not a random seed per run


@pytest.mark.parametrize(
    "model, option, value, message",
    [
        (
            "resnet18_eca",
            "attention_kwargs.kernel_size",
            "4",
            "EfficientChannelAttention options {'kernel_size': 4}: ECA kernel_size must be a positive odd number, got 4",
        ),
        (
            "resnet18_eca",
            "stage_attention_kwargs.kernel_size",
            "[3, 5, 4, 7]",
            "EfficientChannelAttention options {'kernel_size': 4}: ECA kernel_size must be a positive odd number, got 4",
        ),
        (
            "resnet18_se",
            "attention_kwargs.reduction",
            "0",
            "SqueezeExcitation options {'reduction': 0}: SE reduction must be a positive integer, got 0",
        ),
        (
            "resnet18_cbam",
            "attention_kwargs.kernel_size",
            "4",
            "CBAM options {'kernel_size': 4}: CBAM kernel_size must be a positive odd integer, got 4",
        ),
        (
            "resnet18_cbam",
            "attention_kwargs.reduction",
            "2.5",
            "CBAM options {'reduction': 2.5}: CBAM reduction must be a positive integer, got 2.5",
        ),
    ],
)
def test_invalid_attention_values_are_refused_with_the_config(config_file, monkeypatch, model, option, value, message):
    def build(*args, **kwargs):
        raise AssertionError("a network was built")

    # refused from the config, before any network is built (wraps: the signature the option check reads is kept)
    monkeypatch.setattr(ResNet, "__init__", functools.wraps(ResNet.__init__)(build))
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, [f"model.name={model}", f"model.kwargs.{option}={value}"])
    assert str(caught.value) == f"command line -o: model.kwargs: {message}"


def test_a_bad_override_reaches_the_parser_through_the_tool(capsys, checkpoint_dir, config_file):
    code, stderr = run_tool(
        "eval.py", ["--checkpoint", checkpoint_dir, "-c", config_file, "-o", "train.epochs=ten"], capsys
    )
    assert code == 2 and "error: command line -o: train.epochs must be int, got 'ten'" in stderr


@SETTINGS
@given(data=st.binary(max_size=2048), file=st.sampled_from([ckpt.MODEL_FILE, ckpt.STATE_FILE]))
def test_random_bytes_as_checkpoint(data, file, capsys, tmp_path, checkpoint_dir, config_file):
    broken = tmp_path / "broken"
    broken.mkdir(exist_ok=True)
    for name in (ckpt.MODEL_FILE, ckpt.STATE_FILE):
        source = os.path.join(checkpoint_dir, name)
        (broken / name).write_bytes(data if name == file else open(source, "rb").read())
    code, stderr = run_tool("eval.py", ["--checkpoint", str(broken), "-c", config_file], capsys)
    assert_clean_failure(code, stderr)
    # the message comes from reading the broken file (a pickle of an empty dict is read, then lacks every tensor)
    assert file in stderr or (file == ckpt.MODEL_FILE and "does not fit the model" in stderr), stderr


@SETTINGS
@given(data=st.binary(max_size=4096), name=st.sampled_from(["x.png", "x.jpg", "x.bmp"]))
def test_random_bytes_as_images(data, name, capsys, tmp_path, checkpoint_dir):
    image = tmp_path / name
    image.write_bytes(data)
    # --dygraph: the images are read the same way, without exporting the network for every example
    code, stderr = run_tool("infer.py", ["--checkpoint", checkpoint_dir, str(image), "--dygraph"], capsys)
    assert_clean_failure(code, stderr)
    assert str(image) in stderr


def test_a_state_json_of_the_wrong_shape(tmp_path, checkpoint_dir, capsys):
    broken = tmp_path / "wrong"
    broken.mkdir()
    (broken / ckpt.STATE_FILE).write_text(json.dumps([1, 2, 3]))
    (broken / ckpt.MODEL_FILE).write_bytes(open(os.path.join(checkpoint_dir, ckpt.MODEL_FILE), "rb").read())
    image = tmp_path / "x.png"
    Image.new("RGB", (32, 32)).save(image)  # a readable image: the tool gets as far as the checkpoint
    code, stderr = run_tool("infer.py", ["--checkpoint", str(broken), str(image)], capsys)
    assert_clean_failure(code, stderr)
    assert f"{ckpt.STATE_FILE} holds a list, not a mapping" in stderr
