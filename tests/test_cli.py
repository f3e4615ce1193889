"""Only the user's mistakes become one-line errors: a bug anywhere else keeps its traceback."""

import importlib
import os
import subprocess
import sys

import pytest

from paddle_attn import cli
from paddle_attn.config import builtin_configs
from paddle_attn.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    InferenceError,
    ModelError,
    TrainingStopped,
)
from tests.doc_commands import setup_commands
from tests.helpers import ROOT


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("bad key"),
        CheckpointError("bad file"),
        DataError("no image"),
        ModelError("no model"),
        InferenceError("no bf16"),
        TrainingStopped("stopped"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(error, capsys):
    def main():
        raise error

    with pytest.raises(SystemExit) as exit_info:
        cli.run(main)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: {error}\n"


@pytest.mark.parametrize(
    "bug", [ValueError("a library bug"), OSError("disk"), KeyError("x"), FileNotFoundError("/lib/x")]
)
def test_other_errors_keep_their_traceback(bug):
    def main():
        raise bug

    with pytest.raises(type(bug)):
        cli.run(main)


def test_a_bug_inside_a_tool_shows_its_traceback():
    # a library failure the user did not cause (here: the registry broken from inside) must not pass as "error: ..."
    code = (
        "import sys, runpy; import paddle_attn.weights; "
        "paddle_attn.weights.create_model = lambda *a, **k: (_ for _ in ()).throw(ValueError('internal failure')); "
        "sys.argv = ['summary.py', '--model', 'resnet18']; runpy.run_module('paddle_attn.cli.summary', run_name='__main__')"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1
    assert "Traceback" in run.stderr and "ValueError: internal failure" in run.stderr
    assert "error: internal failure" not in run.stderr


def cli_modules():
    return sorted(name[:-3] for name in os.listdir(os.path.dirname(cli.__file__)) if name.endswith(".py"))


def test_every_tool_is_a_console_command_and_a_checkout_script():
    tools = [name for name in cli_modules() if not name.startswith("_")]
    assert {"train", "eval", "summary", "convert_torch"} <= set(tools)
    assert setup_commands() == {
        f"paddle-attn-{tool.replace('_', '-')}": f"paddle_attn.cli.{tool}:main" for tool in tools
    }
    scripts = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "tools")) if name.endswith(".py"))
    assert scripts == ["_shim"] + tools
    for tool in tools:
        assert callable(importlib.import_module(f"paddle_attn.cli.{tool}").main), tool


def test_the_train_command_runs_the_tool(monkeypatch, capsys):
    main = importlib.import_module("paddle_attn.cli.train").main
    monkeypatch.setattr(sys, "argv", ["paddle-attn-train", "--help"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0 and "Train a model from a YAML config" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["paddle-attn-train", "-c", "missing.yaml"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2 and "error: no config file 'missing.yaml'" in capsys.readouterr().err


@pytest.mark.parametrize("tool", ["train", "eval", "summary"])
def test_config_tools_list_the_builtin_configs(tool, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [f"paddle-attn-{tool}", "--list-configs"])
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"paddle_attn.cli.{tool}").main()
    assert exit_.value.code == 0 and capsys.readouterr().out.split() == builtin_configs()


def test_a_checkout_script_runs_the_installed_tool(tmp_path):
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--list-configs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},  # this checkout's package, as an editable install gives it
    )
    assert run.returncode == 0 and run.stdout.split() == builtin_configs(), run.stderr


def test_a_checkout_script_without_the_package_prints_the_install_command(tmp_path):
    # -S: no site-packages, -E: no PYTHONPATH: paddle_attn cannot be imported
    run = subprocess.run(
        [sys.executable, "-S", "-E", os.path.join(ROOT, "tools", "summary.py"), "--model", "resnet18"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == f'error: paddle_attn is not installed; from the checkout ({ROOT}): pip install -e ".[cpu]"\n'


def test_run_script_prints_the_child_output_and_raises_on_failure(tmp_path, capsys):
    script = tmp_path / "child.py"
    script.write_text(
        "import sys\nprint('out', sys.argv[1:])\nprint('err', file=sys.stderr)\nsys.exit(int(sys.argv[1]))\n"
    )
    assert cli.run_script(script, 0) is None  # a notebook cell ending with it shows the printed output once
    assert capsys.readouterr().out == "out ['0']\nerr\n\n"
    with pytest.raises(subprocess.CalledProcessError) as failed:
        cli.run_script(script, 3)
    assert failed.value.returncode == 3


def test_run_tool_runs_the_packaged_command_outside_a_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no tools/ folder here: the tool comes from the package this process imported
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert cli.run_tool("train", "--list-configs") is None
    assert "resnet50_nam_cifar100_authors" in capsys.readouterr().out.split("\n")
    with pytest.raises(subprocess.CalledProcessError) as failed:
        cli.run_tool("train", "--no-such-option")
    assert failed.value.returncode == 2  # argparse's usage error
