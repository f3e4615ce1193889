import os
import subprocess
import sys

import numpy as np
import paddle

from paddle_attn import checkpoint as ckpt
from tests.helpers import ROOT, read_points, tiny_overrides


def test_two_cpu_ranks_through_paddle_launch(tmp_path):
    overrides = tiny_overrides(tmp_path, epochs=2) + ["train.threads=1"]
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(tmp_path / "log"),
           os.path.join(ROOT, "tests", "distributed_run.py"), "-c", os.path.join(ROOT, "configs", "quickstart.yaml")]
    run = subprocess.run(cmd + sum((["-o", o] for o in overrides), []), capture_output=True, text=True, cwd=tmp_path,
                         timeout=600)
    logs = "".join((tmp_path / "log" / f"workerlog.{r}").read_text()[-1500:] for r in range(2)) if run.returncode else ""
    assert run.returncode == 0, run.stderr[-1500:] + logs

    run_dir = tmp_path / "run"
    rank0, rank1 = paddle.load(str(run_dir / "rank0.pdparams")), paddle.load(str(run_dir / "rank1.pdparams"))
    for key in rank0:  # parameters by DataParallel, BatchNorm statistics by their per-epoch average
        np.testing.assert_array_equal(rank0[key].numpy(), rank1[key].numpy(), err_msg=key)

    # one writer: one log file, one set of checkpoints
    assert len(os.listdir(run_dir / "vdl")) == 1
    assert sorted(os.listdir(run_dir / "checkpoints")) in (["best", "epoch_0002", "latest"],
                                                             ["best", "epoch_0001", "epoch_0002", "latest"])
    state = ckpt.read_state(str(run_dir / "checkpoints" / "latest"))
    # each rank trains on its half: 20 images, batch 8 -> 3 steps an epoch; eval covers all 30 test images once
    assert state["step"] == 6 and state["epoch"] == 2
    assert state["metrics"]["eval_samples"] == 30
    assert len(read_points(str(run_dir))["train/lr"]) == 6
