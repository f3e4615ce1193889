"""Data parallel training under paddle.distributed.launch, on one host (2 ranks) and as two nodes on this machine:
identical weights on every rank, one writer, and an evaluation that counts each of 31 test images once."""

import os
import socket
import subprocess
import sys

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_attn import checkpoint as ckpt
from paddle_attn.data.synthetic import make_images
from paddle_attn.training import evaluate, train
from tests.helpers import ROOT, read_points, tiny_config, tiny_overrides

TRAIN_IMAGES, TEST_IMAGES = 40, 31  # 31 does not divide by 2 ranks: the sampler pads the last batch
LAUNCH = [sys.executable, "-m", "paddle.distributed.launch"]
SCRIPT = [os.path.join(ROOT, "tests", "distributed_run.py"), "-c", os.path.join(ROOT, "configs", "quickstart.yaml")]


def file_lists(tmp_path):
    """Generated shapes as PNG files listed in train.txt (40) and test.txt (31)."""
    lists = {}
    for split, count, seed in (("train", TRAIN_IMAGES, 0), ("test", TEST_IMAGES, 1)):
        images, labels = make_images(4, seed)
        lines = []
        for i in range(count):
            path = tmp_path / "images" / split / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i % len(images)]).save(path)
            lines.append(f"{split}/{i}.png {labels[i % len(labels)]}")
        lists[split] = tmp_path / "images" / f"{split}.txt"
        lists[split].write_text("\n".join(lines) + "\n")
    return ["data.dataset=filelist", f"data.train_list={lists['train']}", f"data.test_list={lists['test']}"]


def overrides(tmp_path):
    return tiny_overrides(tmp_path, epochs=2) + file_lists(tmp_path) + ["cpu.threads=1"]


def as_args(items):
    return sum((["-o", o] for o in items), [])


def worker_logs(log_dirs):
    return "".join(
        open(os.path.join(d, name)).read()[-1500:]
        for d in log_dirs
        for name in os.listdir(d)
        if name.startswith("workerlog")
    )


def check_run(tmp_path, config_items):
    """Both ranks' weights are equal; rank 0 alone wrote; evaluation counted 31 images with the loss and
    accuracy of a single-process evaluation of the same checkpoint."""
    run_dir = tmp_path / "run"
    rank0, rank1 = paddle.load(str(run_dir / "rank0.pdparams")), paddle.load(str(run_dir / "rank1.pdparams"))
    for key in rank0:  # parameters by DataParallel, BatchNorm statistics by their per-epoch average
        np.testing.assert_array_equal(rank0[key].numpy(), rank1[key].numpy(), err_msg=key)
    assert len(os.listdir(run_dir / "vdl")) == 1
    assert sorted(os.listdir(run_dir / "checkpoints")) in (
        ["best", "epoch_0002", "latest"],
        ["best", "epoch_0001", "epoch_0002", "latest"],
    )
    state = ckpt.read_state(str(run_dir / "checkpoints" / "latest"))
    # each rank trains on its half: 20 images, batch 8 -> 3 steps an epoch
    assert state["step"] == 6 and state["epoch"] == 2 and len(read_points(str(run_dir))["train/lr"]) == 6
    metrics = state["metrics"]
    assert metrics["eval_samples"] == TEST_IMAGES
    single = evaluate(
        tiny_config(tmp_path, *config_items[len(tiny_overrides(tmp_path)) :], epochs=2),
        str(run_dir / "checkpoints" / "latest"),
    )
    assert single["samples"] == TEST_IMAGES
    assert metrics["eval_top1"] == pytest.approx(single["top1"], abs=1e-6)
    assert metrics["eval_top5"] == pytest.approx(single["top5"], abs=1e-6)
    assert metrics["eval_loss"] == pytest.approx(single["loss"], rel=1e-4)


def test_two_cpu_ranks_through_paddle_launch(tmp_path):
    items = overrides(tmp_path)
    cmd = LAUNCH + ["--nproc_per_node", "2", "--log_dir", str(tmp_path / "log")] + SCRIPT + as_args(items)
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-1500:] + worker_logs([tmp_path / "log"])
    check_run(tmp_path, items)
    # the 2-rank run resumed by one process would see other batches: refused before a step
    with pytest.raises(ckpt.CheckpointError, match=r"the run had 2 ranks \(processes\), this one has 1; the batches"):
        train(tiny_config(tmp_path, *items[len(tiny_overrides(tmp_path)) :], "run.resume=auto", epochs=3))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_on_this_machine(tmp_path):
    """The README's multi-host command, with 127.0.0.1 as the master and two launchers as the two nodes."""
    items = overrides(tmp_path)
    master = f"127.0.0.1:{free_port()}"
    nodes = [
        subprocess.Popen(
            LAUNCH
            + ["--nnodes", "2", "--master", master, "--nproc_per_node", "1", "--log_dir", str(tmp_path / f"log{n}")]
            + SCRIPT
            + as_args(items),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    try:
        outputs = [node.communicate(timeout=600) for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    logs = worker_logs([tmp_path / "log0", tmp_path / "log1"])
    assert all(node.returncode == 0 for node in nodes), "".join(err[-1500:] for _, err in outputs) + logs
    check_run(tmp_path, items)
