"""Interrupted, killed and diverging runs, and the clear errors of issue 5."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from paddle_attn import checkpoint as ckpt
from paddle_attn.data.datasets import DataError
from paddle_attn.training import train
from tests.helpers import ROOT, read_points, tiny_config, tiny_overrides, write_lying_images

TRAIN = [
    sys.executable,
    os.path.join(ROOT, "tools", "train.py"),
    "-c",
    os.path.join(ROOT, "configs", "quickstart.yaml"),
]
EVAL = [sys.executable, os.path.join(ROOT, "tools", "eval.py")]


def start_training(tmp_path, *extra, epochs=3):
    args = sum((["-o", o] for o in tiny_overrides(tmp_path, epochs=epochs) + list(extra)), [])
    return subprocess.Popen(TRAIN + args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_training(tmp_path, *extra, epochs=3):
    args = sum((["-o", o] for o in tiny_overrides(tmp_path, epochs=epochs) + list(extra)), [])
    return subprocess.run(TRAIN + args, cwd=tmp_path, capture_output=True, text=True, timeout=600)


def wait_for(condition, process, timeout=300, poll=0.002):
    deadline = time.time() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.time() < deadline, "timed out"
        time.sleep(poll)


def assert_resumes_to_the_end(tmp_path, *extra):
    done = finish_training(tmp_path, "run.resume=auto", *extra)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed from" in done.stdout
    state = ckpt.read_state(ckpt.find_latest(str(tmp_path / "run")))
    assert (state["epoch"], state["step"], state["step_in_epoch"]) == (3, 15, 0)
    steps = [s for s, _ in read_points(str(tmp_path / "run"))["train/lr"]]
    assert steps == list(range(1, 16))  # every step logged once: no step lost, none repeated


def test_sigterm_saves_at_the_step_and_resumes_there(tmp_path):
    """Stopped mid-epoch and resumed, the run ends with the weights of the same run left alone, with the recipe's
    random augmentation (quickstart: data.transform=cifar) on: each sample's draws depend on (seed, epoch, index)
    only, so the batches after the resume are augmented as they would have been."""
    whole = start_training(tmp_path, f"run.output_dir={tmp_path / 'whole'}")
    run = start_training(tmp_path)
    checkpoints = tmp_path / "run" / "checkpoints"
    wait_for(lambda: (checkpoints / "epoch_0001").is_dir(), run)
    time.sleep(0.3)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 2
    assert "error: stopped by SIGTERM after step" in stderr and "Traceback" not in stderr
    state = ckpt.read_state(str(checkpoints / "latest"))
    assert state["epoch"] >= 1 and 1 <= state["step_in_epoch"] <= 5
    assert state["step"] == state["epoch"] * 5 + state["step_in_epoch"]
    assert (
        os.path.basename(os.path.realpath(checkpoints / "latest"))
        == f"epoch_{state['epoch']:04d}_step_{state['step_in_epoch']:05d}"
    )
    assert_resumes_to_the_end(tmp_path)
    assert whole.wait(timeout=600) == 0, whole.communicate()[1][-2000:]
    whole.communicate()
    assert_same_final_weights(tmp_path / "run", tmp_path / "whole")


def assert_same_final_weights(run, reference):
    a, b = (ckpt.load_params(str(directory / "checkpoints" / "latest")) for directory in (reference, run))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(b[key].numpy(), a[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


def test_ctrl_c_to_the_process_group_with_loader_workers_saves_and_exits_2(tmp_path):
    """SIGINT to the whole group, as Ctrl-C in a terminal sends it: the 2 loader workers get it too."""
    args = sum((["-o", o] for o in tiny_overrides(tmp_path, epochs=3) + ["data.num_workers=2"]), [])
    run = subprocess.Popen(
        TRAIN + args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    checkpoints = tmp_path / "run" / "checkpoints"
    try:
        wait_for(lambda: (checkpoints / "epoch_0001").is_dir(), run)
        time.sleep(0.3)
        os.killpg(run.pid, signal.SIGINT)
        _, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 2, stderr[-2000:]
    assert "error: stopped by SIGINT after step" in stderr and "Traceback" not in stderr, stderr[-2000:]
    state = ckpt.read_state(str(checkpoints / "latest"))
    assert state["step"] == state["epoch"] * 5 + state["step_in_epoch"] and state["step_in_epoch"] >= 1


def test_sigkill_mid_epoch_resumes_from_the_last_checkpoint(tmp_path):
    run = start_training(tmp_path)
    wait_for(lambda: (tmp_path / "run" / "checkpoints" / "epoch_0001").is_dir(), run)
    time.sleep(0.4)
    run.kill()
    run.communicate()
    assert ckpt.read_state(ckpt.find_latest(str(tmp_path / "run")))["epoch"] >= 1
    with open(tmp_path / "run" / ".run.lock") as f:  # the killed run held the folder; the kernel released it
        assert json.load(f)["pid"] == run.pid
    assert_resumes_to_the_end(tmp_path)


def test_sigkill_mid_save_leaves_a_loadable_checkpoint(tmp_path):
    run = start_training(tmp_path)
    checkpoints = tmp_path / "run" / "checkpoints"
    partial = checkpoints / ".epoch_0002.tmp"
    wait_for(lambda: (partial / "model.pdparams").exists(), run, poll=0.0005)
    run.kill()
    run.communicate()
    assert partial.is_dir(), "the kill should have landed during the save"
    newest = ckpt.find_latest(str(tmp_path / "run"))
    assert ckpt.read_state(newest)["epoch"] == 1
    assert set(ckpt.load_params(newest)) and set(ckpt.load_params(newest, ckpt.OPTIMIZER_FILE))
    assert_resumes_to_the_end(tmp_path)
    assert not partial.exists()


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    first = finish_training(tmp_path, epochs=1)
    assert first.returncode == 0, first.stderr[-2000:]
    kept = ckpt.find_latest(str(tmp_path / "run"))
    diverging = finish_training(tmp_path, "run.resume=auto", "lr.base=1.0e+30", "run.resume_strict=false", epochs=2)
    assert diverging.returncode == 2
    assert "error: loss is nan at step" in diverging.stderr or "error: loss is inf at step" in diverging.stderr
    assert f"The last good checkpoint is {kept}" in diverging.stderr and "Traceback" not in diverging.stderr
    assert ckpt.find_latest(str(tmp_path / "run")) == kept
    assert ckpt.read_state(kept)["epoch"] == 1


def tiny_checkpoint(tmp_path, model="resnet18_nam"):
    config = tiny_config(tmp_path, f"model.name={model}", run=model, epochs=1)
    train(config)
    return os.path.join(config["run"]["output_dir"], "checkpoints", "latest")


def test_truncated_checkpoint(tmp_path):
    path = tiny_checkpoint(tmp_path)
    weights = os.path.join(path, "model.pdparams")
    with open(weights, "r+b") as f:
        f.truncate(os.path.getsize(weights) // 2)
    result = subprocess.run(EVAL + ["--checkpoint", path], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"weights file {os.path.realpath(weights)!r} is truncated or corrupt" in result.stderr


def test_checkpoint_of_another_model_lists_the_tensors(tmp_path):
    other = tiny_checkpoint(tmp_path, model="resnet18_se")
    config = tiny_config(tmp_path, f"run.resume={other}", run="nam", epochs=2)
    with pytest.raises(
        ckpt.CheckpointError, match=r"does not fit the model:\n  missing \(32\): layer1.0.attention.channel._mean"
    ):
        train(config)
    with pytest.raises(ckpt.CheckpointError, match=r"unexpected \(32\): layer1.0.attention.se.fc1.bias"):
        train(config)


def test_checkpoint_of_another_class_count(tmp_path):
    net_path = tiny_checkpoint(tmp_path)
    state = ckpt.read_state(net_path)
    params = {k: v for k, v in ckpt.load_params(net_path).items()}
    params["fc.weight"], params["fc.bias"] = params["fc.weight"][:, :7], params["fc.bias"][:7]
    ckpt.save_checkpoint(str(tmp_path), "seven", params, None, {**state, "step_in_epoch": 0})
    config = tiny_config(tmp_path, f"run.resume={tmp_path / 'seven'}", run="ten", epochs=2)
    with pytest.raises(
        ckpt.CheckpointError,
        match=r"misshapen \(2\): fc.weight: checkpoint \[512, 7\] vs model \[512, 10\], "
        r"fc.bias: checkpoint \[7\] vs model \[10\]",
    ):
        train(config)


@pytest.mark.parametrize(
    "workers, bad", [(0, "notes.png"), (2, "notes.png"), (2, "bomb_20000x20000.png"), (2, "truncated.jpg")]
)
def test_non_image_file_in_image_folder(tmp_path, workers, bad):
    for split in ("train", "test"):
        for name in ("a", "b"):
            os.makedirs(tmp_path / "images" / split / name)
            for i in range(2):
                Image.fromarray(np.full((20, 24, 3), 40 * i, np.uint8)).save(
                    tmp_path / "images" / split / name / f"{i}.png"
                )
    (tmp_path / "images" / "train" / "b" / "notes.png").write_text("not an image")
    for lying in write_lying_images(tmp_path):  # headers that lie: too many pixels, a cut-off JPEG
        os.replace(lying, tmp_path / "images" / "train" / "b" / os.path.basename(lying))
    for name in {"notes.png", "bomb_20000x20000.png", "truncated.jpg"} - {bad}:
        os.remove(tmp_path / "images" / "train" / "b" / name)
    config = tiny_config(
        tmp_path,
        "data.dataset=folder",
        f"data.root={tmp_path / 'images'}",
        "model.num_classes=2",
        f"data.num_workers={workers}",
        "train.batch_size=2",
        epochs=1,
    )
    with pytest.raises(DataError, match=rf"images/train/b/{bad}' is not a readable image"):
        train(config)


def test_output_directory_that_cannot_be_written(tmp_path):
    (tmp_path / "taken").write_text("a file where the run directory should go")
    result = finish_training(tmp_path, f"run.output_dir={tmp_path / 'taken' / 'run'}", epochs=1)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: cannot write to output directory '{tmp_path / 'taken' / 'run'}' (run.output_dir)" in result.stderr


def test_override_that_does_not_parse(tmp_path):
    result = finish_training(tmp_path, "lr.base=[0.1", epochs=1)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: override 'lr.base=[0.1' does not parse as a YAML value" in result.stderr


def descendants(pid):
    """Every process below `pid` (Linux /proc)."""
    found, stack = [], [pid]
    while stack:
        parent = stack.pop()
        for task in os.listdir(f"/proc/{parent}/task") if os.path.isdir(f"/proc/{parent}/task") else []:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            found += kids
            stack += kids
    return found


def forked_children(pid):
    """The processes below `pid` that are forks of it (same command line): a DataLoader's workers, not a shell it ran."""

    def cmdline(p):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                return f.read()
        except OSError:
            return None

    return [child for child in descendants(pid) if cmdline(child) == cmdline(pid)]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def test_sigkill_leaves_no_loader_worker_behind(tmp_path):
    # batches of 64 from 1000 images: the workers are busy filling their queues when the kill lands, the case
    # in which Paddle's own parent check never runs and they would live on, re-parented to init
    run = start_training(
        tmp_path, "data.num_workers=2", "data.synthetic_train_per_class=100", "train.batch_size=64", epochs=20
    )
    wait_for(lambda: len(forked_children(run.pid)) >= 2, run)  # the training loader's workers are up
    workers = set(forked_children(run.pid))
    time.sleep(0.5)
    workers |= set(forked_children(run.pid))
    run.kill()
    run.wait(timeout=30)  # not communicate(): surviving workers would hold its pipes open forever
    run.stdout.close(), run.stderr.close()
    deadline = time.time() + 12  # Paddle's workers check their parent every 5 s when idle
    while any(alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:  # leave the machine clean whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "loader workers outlived the killed trainer"


def test_a_new_run_never_deletes_or_mixes_with_an_earlier_one(tmp_path):
    from tests.helpers import make_checkpoint

    earlier = make_checkpoint(str(tmp_path / "run"), "resnet18_nam")
    kept = sorted(os.listdir(tmp_path / "run" / "checkpoints"))
    refused = finish_training(tmp_path, epochs=1)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (
        f"error: run.output_dir '{earlier}' already holds a run (checkpoints/epoch_0001); a new run there would "
        f"delete its checkpoints"
    ) in refused.stderr
    assert "-o run.resume=auto" in refused.stderr and "-o run.move_existing_run=true" in refused.stderr
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == kept and not (tmp_path / "run" / "vdl").exists()

    moved = finish_training(tmp_path, "run.move_existing_run=true", epochs=1)
    assert moved.returncode == 0, moved.stderr[-2000:]
    aside = [p for p in os.listdir(tmp_path) if p.startswith("run.old-")]
    assert len(aside) == 1 and f"moved the earlier run in {earlier} to {tmp_path / aside[0]}" in moved.stdout
    assert sorted(os.listdir(tmp_path / aside[0] / "checkpoints")) == kept  # the earlier run, whole
    assert ckpt.read_state(str(tmp_path / "run"))["epoch"] == 1 and len(os.listdir(tmp_path / "run" / "vdl")) == 1


def test_a_failed_save_removes_its_partial_checkpoint_and_names_the_last_one(tmp_path, monkeypatch):
    import errno

    import paddle

    from paddle_attn.errors import CheckpointError, UserError

    saves, real_save = [], paddle.save

    def save_then_fill_the_disk(obj, path, *args, **kwargs):  # epoch 2's weights: half written, then ENOSPC
        saves.append(path)
        if len(saves) == 3:
            with open(path, "wb") as f:
                f.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(paddle, "save", save_then_fill_the_disk)
    config = tiny_config(tmp_path, epochs=2)
    checkpoints = os.path.join(config["run"]["output_dir"], "checkpoints")
    with pytest.raises(CheckpointError) as raised:
        train(config)
    assert isinstance(raised.value, UserError) and len(str(raised.value).splitlines()) == 1
    assert str(raised.value) == (
        f"cannot save checkpoint epoch_0002 in {checkpoints!r}: No space left on device; the partial checkpoint was "
        f"removed, resume from {os.path.realpath(os.path.join(checkpoints, 'epoch_0001'))} (-o run.resume=auto) once "
        f"the disk has room"
    )
    assert saves[2].endswith(os.path.join(".epoch_0002.tmp", "model.pdparams"))
    assert sorted(os.listdir(checkpoints)) == ["best", "epoch_0001", "latest"]  # no .epoch_0002.tmp
    assert set(ckpt.load_params(os.path.join(checkpoints, "epoch_0001")))


def test_lying_image_headers_raise_the_data_error_naming_the_file(tmp_path):
    """What the loader reports with the sample's index (above), without a training run."""
    from paddle_attn.data.datasets import LabeledImageFiles

    paths = write_lying_images(tmp_path)
    files = LabeledImageFiles([(path, 0) for path in paths], ["a"])
    for index, path in enumerate(paths):
        with pytest.raises(DataError, match=f"{path!r} is not a readable image"):
            files[index]
        assert files.file_of(index) == path
