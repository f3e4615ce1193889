"""One run per output folder even when two start at the same moment (issue 18): an flock held for the run's life."""

import json
import os
import socket
import subprocess
import sys

import pytest

from paddle_attn.errors import ConfigError
from paddle_attn.training import train
from paddle_attn.training.run_lock import LOCK_FILE, RunLock
from tests.helpers import ROOT, tiny_config, tiny_overrides

TRAIN = [
    sys.executable,
    os.path.join(ROOT, "tools", "train.py"),
    "-c",
    os.path.join(ROOT, "configs", "quickstart.yaml"),
]


def test_a_run_into_a_held_folder_stops_before_anything_is_built(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    run_dir = config["run"]["output_dir"]
    os.makedirs(run_dir)
    holder = RunLock(run_dir)
    try:
        with pytest.raises(
            ConfigError,
            match=rf"run.output_dir '{run_dir}' is in use by another run "
            rf"\(PID {os.getpid()} on {socket.gethostname()}, started 20",
        ):
            train(config)
        assert sorted(os.listdir(run_dir)) == [LOCK_FILE]  # no config.yaml, no checkpoint, no VisualDL file
    finally:
        holder.release()
    train(config)  # released: the folder is free again
    assert json.load(open(os.path.join(run_dir, LOCK_FILE)))["pid"] == os.getpid()


def test_two_runs_started_together_never_share_the_folder(tmp_path):
    args = sum((["-o", o] for o in tiny_overrides(tmp_path, epochs=1)), [])
    runs = [
        subprocess.Popen(TRAIN + args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(run.wait(timeout=600), run.communicate()[1]) for run in runs]
    assert sorted(code for code, _ in results) == [0, 2], results
    stopped = next(stderr for code, stderr in results if code == 2)
    # which message depends on how far the first run got: holding the lock, its PID written, its run begun
    held = ("is in use by another run (PID", "is in use by another run (its PID is not written yet)")
    assert any(message in stopped for message in held) or "already holds a run" in stopped, stopped
    assert "Traceback" not in stopped
    assert len(os.listdir(tmp_path / "run" / "vdl")) == 1  # one run's curves
