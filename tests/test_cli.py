"""Only the user's mistakes become one-line errors: a bug anywhere else keeps its traceback."""

import ast
import importlib
import importlib.util
import os
import subprocess
import sys

import pytest

from paddle_attn import cli
from paddle_attn.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    InferenceError,
    ModelError,
    TrainingStopped,
)
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
        "import sys, runpy; import paddle_attn; "
        "paddle_attn.create_model = lambda *a, **k: (_ for _ in ()).throw(ValueError('internal failure')); "
        "sys.argv = ['summary.py', '--model', 'resnet18']; runpy.run_path('tools/summary.py', run_name='__main__')"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1
    assert "Traceback" in run.stderr and "ValueError: internal failure" in run.stderr
    assert "error: internal failure" not in run.stderr


def setup_commands():
    """{command: "module:function"} of setup.py's console entry points, read without running setup()."""
    tree = ast.parse(open(os.path.join(ROOT, "setup.py")).read())
    tools = next(node.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "TOOLS")
    return {
        f"paddle-attn-{tool.replace('_', '-')}": f"paddle_attn_tools.{tool}:main" for tool in ast.literal_eval(tools)
    }


@pytest.fixture
def installed_tools(monkeypatch):
    """tools/ as the package `paddle_attn_tools`, as setup.py's package_dir installs it."""
    folder = os.path.join(ROOT, "tools")
    spec = importlib.util.spec_from_file_location(
        "paddle_attn_tools", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
    )
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    monkeypatch.setitem(sys.modules, "paddle_attn_tools", package)
    yield
    for name in [name for name in sys.modules if name.startswith("paddle_attn_tools.")]:
        del sys.modules[name]


def test_every_tool_is_a_console_command(installed_tools):
    commands = setup_commands()
    assert sorted(commands) == sorted(
        f"paddle-attn-{name[:-3].replace('_', '-')}"
        for name in os.listdir(os.path.join(ROOT, "tools"))
        if name.endswith(".py") and name != "__init__.py"
    )
    for target in commands.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_the_train_command_runs_the_tool(installed_tools, monkeypatch, capsys):
    main = importlib.import_module("paddle_attn_tools.train").main
    monkeypatch.setattr(sys, "argv", ["paddle-attn-train", "--help"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0 and "Train a model from a YAML config" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["paddle-attn-train", "-c", "missing.yaml"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2 and "error: cannot read config file 'missing.yaml'" in capsys.readouterr().err


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
