"""Random overrides, checkpoints and images thrown at the tools: only the tool's own message and a non-zero exit."""

import json
import os
import runpy
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paddle_attn
from paddle_attn import checkpoint as ckpt
from paddle_attn.config import SCHEMA
from tests.helpers import ROOT

KEYS = [f"{section}.{key}" for section, keys in SCHEMA.items() for key in keys]
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
OVERRIDE = st.one_of(
    st.builds(lambda key, value: f"{key}={value}", st.sampled_from(KEYS + ["train.epoch", "trian.seed", "model"]),
              st.one_of(TEXT, st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(str),
                        st.sampled_from(["[", "{a: 1", "null", "-1", "true", "[1, 2]", "'", ": x"]))),
    TEXT,
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_tool(tool, args, capsys):
    """Run tools/<tool> in this process; return (exit code, stderr)."""
    sys_argv = sys.argv
    sys.argv = [tool, *args]
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(os.path.join(ROOT, "tools", tool), run_name="__main__")
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
    state = {"epoch": 1, "step": 1, "best_top1": 0.1, "metrics": {},
             "model": {"name": "resnet18_eca", "num_classes": 10, "stem": "cifar", "kwargs": {}},
             "data": {"dataset": "synthetic", "transform": "cifar", "image_size": 32}}
    return ckpt.save_checkpoint(str(directory), "epoch_0001", net.state_dict(), None, state)


@SETTINGS
@given(overrides=st.lists(OVERRIDE, min_size=1, max_size=3))
def test_random_overrides(overrides, capsys, tmp_path):
    args = sum((["-o", o] for o in overrides), ["--checkpoint", str(tmp_path / "missing")])
    assert_clean_failure(*run_tool("eval.py", args, capsys))


@SETTINGS
@given(data=st.binary(max_size=2048), file=st.sampled_from([ckpt.MODEL_FILE, ckpt.STATE_FILE]))
def test_random_bytes_as_checkpoint(data, file, capsys, tmp_path, checkpoint_dir):
    broken = tmp_path / "broken"
    broken.mkdir(exist_ok=True)
    for name in (ckpt.MODEL_FILE, ckpt.STATE_FILE):
        source = os.path.join(checkpoint_dir, name)
        (broken / name).write_bytes(data if name == file else open(source, "rb").read())
    assert_clean_failure(*run_tool("eval.py", ["--checkpoint", str(broken), "-o", "data.dataset=synthetic",
                                               "-o", f"data.data_file={tmp_path / 'never-read.tar.gz'}"], capsys))


@SETTINGS
@given(data=st.binary(max_size=4096), name=st.sampled_from(["x.png", "x.jpg", "x.bmp"]))
def test_random_bytes_as_images(data, name, capsys, tmp_path, checkpoint_dir):
    image = tmp_path / name
    image.write_bytes(data)
    code, stderr = run_tool("infer.py", ["--checkpoint", checkpoint_dir, str(image)], capsys)
    assert_clean_failure(code, stderr)
    assert str(image) in stderr


def test_a_state_json_of_the_wrong_shape(tmp_path, checkpoint_dir, capsys):
    broken = tmp_path / "wrong"
    broken.mkdir()
    (broken / ckpt.STATE_FILE).write_text(json.dumps([1, 2, 3]))
    (broken / ckpt.MODEL_FILE).write_bytes(open(os.path.join(checkpoint_dir, ckpt.MODEL_FILE), "rb").read())
    assert_clean_failure(*run_tool("infer.py", ["--checkpoint", str(broken), "x.png"], capsys))
