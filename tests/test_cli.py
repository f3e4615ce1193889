"""Only the user's mistakes become one-line errors: a bug anywhere else keeps its traceback."""

import subprocess
import sys

import pytest

from paddle_attn import cli
from paddle_attn.errors import CheckpointError, ConfigError, DataError, InferenceError, ModelError, TrainingStopped
from tests.helpers import ROOT


@pytest.mark.parametrize("error", [ConfigError("bad key"), CheckpointError("bad file"), DataError("no image"),
                                   ModelError("no model"), InferenceError("no bf16"), TrainingStopped("stopped")])
def test_user_errors_print_one_line_and_exit_2(error, capsys):
    def main():
        raise error

    with pytest.raises(SystemExit) as exit_info:
        cli.run(main)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: {error}\n"


@pytest.mark.parametrize("bug", [ValueError("a library bug"), OSError("disk"), KeyError("x"), FileNotFoundError("/lib/x")])
def test_other_errors_keep_their_traceback(bug):
    def main():
        raise bug

    with pytest.raises(type(bug)):
        cli.run(main)


def test_a_bug_inside_a_tool_shows_its_traceback():
    # a library failure the user did not cause (here: the registry broken from inside) must not pass as "error: ..."
    code = ("import sys, runpy; import paddle_attn; "
            "paddle_attn.create_model = lambda *a, **k: (_ for _ in ()).throw(ValueError('internal failure')); "
            "sys.argv = ['summary.py', '--model', 'resnet18']; runpy.run_path('tools/summary.py', run_name='__main__')")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1
    assert "Traceback" in run.stderr and "ValueError: internal failure" in run.stderr
    assert "error: internal failure" not in run.stderr
