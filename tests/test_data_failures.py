"""A sample that fails, a loader worker that dies or stops answering: the run ends at once, with one line naming
the data set, the sample and the cause, its last checkpoint loadable and its folder free (issue 29)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from paddle.callbacks import Callback
from PIL import Image

from paddle_attn import checkpoint as ckpt
from paddle_attn.errors import DataError
from paddle_attn.training import train
from tests.helpers import ROOT, assert_user_error, make_checkpoint, run_tool, tiny_config, write_image_folder

# a data set of 40 samples whose sample 21 fails as FAULT says, read in batches of 4 through the project's loader,
# run as a tool runs (cli.run: a UserError is one line and exit status 2)
LOADER_RUN = """
import os, signal, time
import numpy as np, paddle
from paddle_attn import cli
from paddle_attn.data.loader import ErrorReportingLoader

class Lines(paddle.io.Dataset):
    name = "file list 'lines.txt'"

    def __len__(self):
        return 40

    def __getitem__(self, index):
        if index == 21:
            FAULT
        return np.full(3, index, "float32"), np.array(index % 2)

def main():
    data = Lines()
    for _ in ErrorReportingLoader(data, paddle.io.BatchSampler(data, batch_size=4), WORKERS, timeout_s=TIMEOUT):
        pass

cli.run(main)
"""


def run_loader(fault, workers, timeout_s=30):
    """The LOADER_RUN script with `fault` at sample 21, under a 60 s limit: a hang fails the test, not the suite."""
    code = textwrap.dedent(LOADER_RUN).replace("FAULT", fault).replace("WORKERS", str(workers))
    code = code.replace("TIMEOUT", str(timeout_s))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, env=_with_root_path()
    )


def _with_root_path():
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.mark.parametrize("workers", [0, 2])
def test_a_data_set_that_raises_ends_the_run_naming_the_sample_and_the_message(workers):
    result = run_loader('raise ValueError("line 22 has no label")', workers)
    assert_user_error(result, "error: sample 21 of file list 'lines.txt': ValueError: line 22 has no label")
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: sample 21 of file list 'lines.txt': ValueError: line 22 has no label"
    ]
    assert "Blocking queue" not in result.stderr, result.stderr


def test_a_killed_worker_is_reported():
    result = run_loader("os.kill(os.getpid(), signal.SIGKILL)", workers=2)
    assert_user_error(result, "error: the data loader's worker (pid ", "was killed by SIGKILL", "file list 'lines.txt'")


def test_a_worker_that_stops_answering_is_stopped_and_reported():
    result = run_loader("time.sleep(3600)", workers=2, timeout_s=1)
    assert_user_error(result, "sent no batch for 1 s (data.timeout_s)", "file list 'lines.txt'")


def test_a_read_that_stops_answering_without_workers_is_reported():
    result = run_loader("time.sleep(3600)", workers=0, timeout_s=1)
    assert_user_error(result, "no sample was read for 1 s (data.timeout_s)", "file list 'lines.txt'")


def test_the_timeout_is_a_config_key_with_a_positive_default():
    from paddle_attn.config import ConfigError, load_config

    assert load_config(None)["data"]["timeout_s"] > 0
    assert load_config(None, ["data.timeout_s=2"])["data"]["timeout_s"] == 2.0
    with pytest.raises(ConfigError, match=r"data.timeout_s must be > 0, got 0.0"):
        load_config(None, ["data.timeout_s=0"])


class CorruptAfterEpoch1(Callback):
    """Overwrites `path` with text once epoch 1 is done: epoch 2 reads a file that is no image."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            with open(self.path, "rb") as f:
                self.saved = f.read()
            with open(self.path, "w") as f:
                f.write("not an image")


@pytest.mark.parametrize("workers", [0, 2])
def test_a_failed_sample_in_training_keeps_the_last_checkpoint_and_frees_the_run(tmp_path, workers):
    root = write_image_folder(tmp_path / "images", per_class=2)
    bad = os.path.join(root, "train", "b", "1.jpg")  # sample 3 of the training split
    config = tiny_config(
        tmp_path,
        "data.dataset=folder",
        f"data.root={root}",
        "model.num_classes=3",
        f"data.num_workers={workers}",
        "train.batch_size=2",
        epochs=2,
    )
    corrupt = CorruptAfterEpoch1(bad)
    with pytest.raises(DataError) as raised:
        train(config, callbacks=[corrupt])
    assert str(raised.value).startswith(f"sample 3 of the training split of folder {os.path.dirname(root)!r}"[:-1])
    assert f"{bad!r} is not a readable image" in str(raised.value)
    latest = ckpt.find_latest(str(tmp_path / "run"))
    assert ckpt.read_state(latest)["epoch"] == 1 and set(ckpt.load_params(latest))
    with open(bad, "wb") as f:
        f.write(corrupt.saved)
    config["run"]["resume"] = "auto"  # the run's folder was released: the same run continues
    assert train(config)["epoch"] == 2


def test_eval_tool_names_the_sample_that_fails(tmp_path):
    root = write_image_folder(tmp_path / "images", per_class=2)
    (tmp_path / "images" / "val" / "c" / "0.jpg").write_text("not an image")  # sample 4 of the test split
    run_dir = make_checkpoint(tmp_path / "run", "resnet18_se")
    overrides = ["data.dataset=folder", f"data.root={root}", "data.num_workers=2", "device.eval_backend=dygraph"]
    config = os.path.join(ROOT, "configs", "quickstart.yaml")
    result = run_tool(
        "eval.py", "-c", config, "--checkpoint", run_dir, *sum((["-o", o] for o in overrides), []), "--quiet"
    )
    assert_user_error(result, "error: sample 4 of the test split of folder", "val/c/0.jpg' is not a readable image")


def test_a_transform_that_raises_names_the_image_in_prediction(tmp_path, monkeypatch):
    from paddle_attn.inference import predict

    paths = []
    for name, size in (("fine.png", (8, 8)), ("odd.png", (5, 7))):
        paths.append(str(tmp_path / name))
        Image.fromarray(np.zeros(size[::-1] + (3,), np.uint8)).save(paths[-1])

    def transform(image):
        if image.size == (5, 7):
            raise ValueError("no crop fits a 5x7 image")
        return np.zeros((3, 8, 8), np.float32)

    monkeypatch.setattr(predict, "build_transform", lambda *args: transform)
    images, read, errors = predict.preprocess({"transform": "imagenet_eval", "image_size": 8}, paths)
    assert read == [paths[0]] and images.shape == (1, 3, 8, 8)
    assert errors == [f"{paths[1]!r} could not be preprocessed: ValueError: no crop fits a 5x7 image"]


def test_a_transform_that_raises_names_the_image_in_the_attention_report(tmp_path, monkeypatch):
    from paddle_attn.analysis import report

    paths = []
    for name, size in (("fine.png", (16, 16)), ("odd.png", (5, 7))):
        paths.append(str(tmp_path / name))
        Image.fromarray(np.full(size[::-1] + (3,), 90, np.uint8)).save(paths[-1])
    real = report.build_transform

    def build_transform(*args):
        pipeline = real(*args)

        def transform(image):
            if image.size == (5, 7):
                raise ValueError("no crop fits a 5x7 image")
            return pipeline(image)

        return transform

    monkeypatch.setattr(report, "build_transform", build_transform)
    net, info = report.open_network(model="resnet18_se", num_classes=10, stem="cifar", image_size=16)
    result = report.write_report(net, info, paths, str(tmp_path / "maps"), maps=["gradcam"], log=lambda line: None)
    assert len(result["images"]) == 1
    assert result["errors"] == [f"{paths[1]!r} could not be preprocessed: ValueError: no crop fits a 5x7 image"]
