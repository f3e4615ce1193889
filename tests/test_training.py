"""Training end to end: schedules, NAM sparsity, checkpoints, exact resume and its checks, evaluation."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
from paddle.callbacks import Callback

import paddle_attn
from paddle_attn import checkpoint as ckpt
from paddle_attn.analysis.run_logs import EVAL_TAGS, TRAIN_TAGS
from paddle_attn.config import MOVED_KEYS, load_config
from paddle_attn.data.datasets import DataError, build_dataset
from paddle_attn.optim import add_nam_sparsity, build_schedule, nam_gammas
from paddle_attn.training import evaluate, evaluation, train
from paddle_attn.training.resume import read_run_state
from paddle_attn.training.visualdl_logging import VisualDLLogger
from tests.helpers import ROOT, read_points, tiny_config, tiny_overrides


def test_warmup_then_cosine_values():
    lr = build_schedule(0.1, total_steps=110, warmup_steps=10, min_lr=0.0)
    values = []
    for _ in range(111):
        values.append(lr())
        lr.step()
    assert values[0] == 0.0 and values[5] == pytest.approx(0.05) and values[10] == pytest.approx(0.1)
    assert values[60] == pytest.approx(0.05)  # halfway through the cosine
    assert values[35] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.25)))
    assert values[110] == pytest.approx(0.0, abs=1e-12)
    resumed = build_schedule(0.1, total_steps=110, warmup_steps=10)
    saved = build_schedule(0.1, total_steps=110, warmup_steps=10)
    for _ in range(37):
        saved.step()
    resumed.set_state_dict(saved.state_dict())
    assert resumed() == pytest.approx(values[37])


def test_nam_recipe_warmup_is_2000_steps():
    lr = build_schedule(0.01, total_steps=300 * 196, warmup_steps=2000)
    for _ in range(1000):
        lr.step()
    assert lr() == pytest.approx(0.005)


def test_sparsity_penalty_adds_lambda_sign_gamma_to_nam_scales_only():
    lam = 1e-4
    net = paddle_attn.create_model("resnet18_nam", num_classes=10)
    for scale in nam_gammas(net):  # signs of both kinds, so sign() is really exercised
        scale.set_value(paddle.to_tensor(np.random.uniform(-1, 1, scale.shape).astype("float32")))
    x, y = paddle.randn([4, 3, 32, 32]), paddle.randint(0, 10, [4])

    def gradients():
        net.clear_gradients()
        paddle.nn.functional.cross_entropy(net(x), y).backward()
        return {p.name: p.grad.numpy().copy() for p in net.parameters() if p.grad is not None}

    plain = gradients()
    hooks = add_nam_sparsity(net, lam)
    penalized = gradients()
    scales = {p.name: p for p in nam_gammas(net)}
    assert len(scales) == 8 and len(hooks) == 8
    for name, grad in plain.items():
        if name in scales:
            np.testing.assert_allclose(penalized[name] - grad, lam * np.sign(scales[name].numpy()), rtol=0, atol=1e-9)
        else:
            np.testing.assert_array_equal(penalized[name], grad)
    for hook in hooks:
        hook.remove()
    assert all(np.array_equal(g, plain[k]) for k, g in gradients().items())


def test_train_and_eval_end_to_end(tmp_path):
    overrides = tiny_overrides(tmp_path, epochs=2)
    cmd = [
        sys.executable,
        os.path.join(ROOT, "tools", "train.py"),
        "-c",
        os.path.join(ROOT, "configs", "quickstart.yaml"),
    ]
    run = subprocess.run(cmd + sum((["-o", o] for o in overrides), []), capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    run_dir = tmp_path / "run"
    assert (run_dir / "config.yaml").is_file()
    best, latest = (
        ckpt.resolve(str(run_dir / "checkpoints" / "best")),
        ckpt.resolve(str(run_dir / "checkpoints" / "latest")),
    )
    for path in (best, latest):
        assert sorted(os.listdir(path)) == ["model.pdopt", "model.pdparams", "state.json"]
    assert ckpt.read_state(latest)["epoch"] == 2

    # every documented tag, one point per step (5 steps x 2 epochs) or per epoch
    scalars = read_points(str(run_dir))
    assert set(scalars) == set(TRAIN_TAGS) | set(EVAL_TAGS)
    assert all(len(scalars[tag]) == 10 for tag in TRAIN_TAGS)
    assert all([step for step, _ in scalars[tag]] == [1, 2] for tag in EVAL_TAGS)
    # the LR each step trained with, from 0.0 through the 4-step warm-up: the schedule's, not one step late
    schedule = build_schedule(0.05, total_steps=10, steps_per_epoch=5, warmup_steps=4)
    expected = []
    for _ in range(10):
        expected.append(schedule())
        schedule.step()
    assert expected[0] == 0.0 and expected[4] == pytest.approx(0.05)
    assert [value for _, value in scalars["train/lr"]] == pytest.approx(expected, rel=1e-6, abs=1e-9)

    state = ckpt.read_state(best)
    out = tmp_path / "eval.json"
    evaluation = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "eval.py"), "--checkpoint", best, "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["samples"] == 30
    assert result["top1"] == pytest.approx(state["metrics"]["eval_top1"], abs=1e-6)
    assert result["top5"] == pytest.approx(state["metrics"]["eval_top5"], abs=1e-6)
    assert result["loss"] == pytest.approx(state["metrics"]["eval_loss"], rel=1e-4)
    logged = dict(scalars["eval/top1"])[state["epoch"]]
    assert result["top1"] == pytest.approx(logged, abs=1e-6)
    assert f"top-1 {result['top1']:.4f}" in evaluation.stdout
    assert "Eval samples: 30" in evaluation.stdout  # the evaluation shows its progress


class StopAfterEpoch(Callback):
    """Stands in for an interrupted run: asks fit to stop once `epoch` epochs are done."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            self.model.stop_training = True


def final_weights(run_dir):
    return ckpt.load_params(os.path.join(run_dir, "checkpoints", "latest"))


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    # through the default evaluation, whose predictor resets the CPU threads that training then sets back
    whole = tiny_config(tmp_path, "device.eval_backend=inference", run="whole", epochs=3)
    train(whole)
    parted = tiny_config(tmp_path, "device.eval_backend=inference", run="parted", epochs=3)
    train(parted, callbacks=[StopAfterEpoch(1)])
    assert ckpt.read_state(ckpt.find_latest(str(tmp_path / "parted")))["epoch"] == 1
    parted["run"]["resume"] = "auto"
    train(parted)
    assert ckpt.read_state(ckpt.find_latest(str(tmp_path / "parted")))["epoch"] == 3

    whole_log, parted_log = read_points(str(tmp_path / "whole")), read_points(str(tmp_path / "parted"))
    assert [s for s, _ in parted_log["train/lr"]] == list(range(1, 16))
    np.testing.assert_allclose([v for _, v in parted_log["train/lr"]], [v for _, v in whole_log["train/lr"]], rtol=1e-6)
    a, b = final_weights(str(tmp_path / "whole")), final_weights(str(tmp_path / "parted"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(b[key].numpy(), a[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    # best is the best epoch over the whole run, not just over the resumed part
    top1 = dict(parted_log["eval/top1"])
    best = ckpt.read_state(os.path.join(tmp_path / "parted", "checkpoints", "best"))
    assert best["metrics"]["eval_top1"] == pytest.approx(max(top1.values()), abs=1e-6)
    assert best["epoch"] == min(e for e, v in top1.items() if v == max(top1.values()))


def test_loader_workers_do_not_change_the_weights(tmp_path):
    """With the recipe's augmentation (quickstart: data.transform=cifar), 0 and 2 loader workers train alike:
    a sample's augmentation is drawn from (seed, epoch, index), not from the process that reads it."""
    for workers in (0, 2):
        train(tiny_config(tmp_path, f"data.num_workers={workers}", run=f"workers{workers}", epochs=1))
    a, b = final_weights(str(tmp_path / "workers0")), final_weights(str(tmp_path / "workers2"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(b[key].numpy(), a[key].numpy(), err_msg=key)


def test_inference_evaluation_gives_dygraphs_metrics(tmp_path, monkeypatch):
    assert load_config(os.path.join(ROOT, "configs", "quickstart.yaml"))["device"]["eval_backend"] == "inference"
    config = tiny_config(tmp_path, "device.eval_backend=inference", epochs=1)  # the default on the CPU
    train(config)
    exports = []
    export = evaluation.NetworkExport
    monkeypatch.setattr(evaluation, "NetworkExport", lambda *a, **k: exports.append(a) or export(*a, **k))
    fast = evaluate(config, config["run"]["output_dir"])
    assert len(exports) == 1
    config["device"]["eval_backend"] = "dygraph"
    plain = evaluate(config, config["run"]["output_dir"])
    assert len(exports) == 1
    assert fast["samples"] == plain["samples"] == 30
    assert (fast["top1"], fast["top5"]) == (plain["top1"], plain["top5"])
    assert fast["loss"] == pytest.approx(plain["loss"], rel=1e-5)


def test_resume_at_the_end_does_nothing(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    train(config)
    config["run"]["resume"] = "auto"
    assert train(config)["epoch"] == 1
    assert len(read_points(str(tmp_path / "run"))["train/lr"]) == 5


def test_missing_cifar_file_says_where_it_comes_from(tmp_path, monkeypatch):
    def offline(name, path):
        raise ConnectionError("network is unreachable (test)")

    monkeypatch.setattr("paddle_attn.data.datasets.fetch_cifar", offline)
    config = tiny_config(
        tmp_path, "data.dataset=cifar100", "model.num_classes=100", f"data.data_file={tmp_path / 'c.tar.gz'}"
    )
    with pytest.raises(
        DataError,
        match=r"cifar100 data file '.*c.tar.gz' does not exist and downloading it from "
        r"https://dataset.bj.bcebos.com/cifar/cifar-100-python.tar.gz failed "
        r"\(ConnectionError: network is unreachable \(test\)\). Put CIFAR's python version, "
        r"cifar-100-python.tar.gz \(from https://www.cs.toronto.edu/~kriz/cifar.html\)",
    ):
        build_dataset(config["data"], "train")


def test_broken_cifar_file(tmp_path):
    broken = tmp_path / "cifar-10-python.tar.gz"
    broken.write_bytes(b"not a tar file")
    config = tiny_config(tmp_path, "data.dataset=cifar10", f"data.data_file={broken}")
    with pytest.raises(DataError, match=r"cannot load cifar10 from file '.*cifar-10-python.tar.gz'"):
        build_dataset(config["data"], "test")


def test_nam_recipe_augmentation_runs_on_cifar_images(tmp_path):
    config = tiny_config(tmp_path)
    image, label = build_dataset(config["data"], "train")[0]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32 and label.dtype == np.int64


def test_resume_refuses_what_cannot_continue_exactly(tmp_path, capsys):
    config = tiny_config(tmp_path, epochs=1)
    train(config)
    for override, message in (
        ("train.batch_size=4", r"train.batch_size is 4 here but was 8 in that run"),
        ("lr.base=0.1", r"lr.base is 0.1 here but was 0.05"),
        (
            "model.kwargs.attention_kwargs.detach_weights=true",  # same tensors, another model
            r"model.kwargs is \{'attention_kwargs': \{'detach_weights': True\}\} here but was \{\}",
        ),
        ("train.seed=7", r"train.seed is 7 here but was 42"),
        (
            "data.synthetic_train_per_class=5",  # another data set (50 images, not 40)
            r"data.synthetic_train_per_class is 5 here but was 4",
        ),
        ("optimizer.name=adamw", r"optimizer.name is 'adamw' here but was 'momentum'"),
        ("optimizer.momentum=0.8", r"optimizer.momentum is 0.8 here but was 0.9"),
        ("loss.label_smoothing=0.1", r"loss.label_smoothing is 0.1 here but was 0.0"),
    ):
        with pytest.raises(ckpt.CheckpointError, match=message + r".* Resume with -o "):
            train(tiny_config(tmp_path, override, "run.resume=auto", epochs=1))
    stretched = tiny_config(tmp_path, "run.resume=auto", "run.resume_strict=false", "lr.base=0.04", epochs=2)
    assert train(stretched)["epoch"] == 2
    out = capsys.readouterr().out
    assert "continuing with changed settings (run.resume_strict is false): lr.base 0.05 -> 0.04" in out
    assert "train.epochs is 2, the run was started for 1: the LR schedule is stretched to end at epoch 2" in out


def test_synthetic_data_is_regenerated_when_its_parameters_change(tmp_path):
    from paddle_attn.data.synthetic import read_parameters, write_synthetic_cifar

    path = str(tmp_path / "shapes.tar.gz")
    write_synthetic_cifar(path, 2, 1)
    first = os.path.getmtime(path)
    assert write_synthetic_cifar(path, 2, 1) == path and os.path.getmtime(path) == first  # same parameters: reused
    write_synthetic_cifar(path, 3, 1)
    assert read_parameters(path) == {"train_per_class": 3, "test_per_class": 1, "seed": 0}
    config = tiny_config(tmp_path, f"data.data_file={path}", "data.synthetic_train_per_class=5")
    assert len(build_dataset(config["data"], "train")) == 50


def test_nam_sparsity_shrinks_the_nam_scales_of_a_real_run(tmp_path):
    """loss.nam_sparsity inside the trainer: the same run with lambda = 0.5 ends with smaller |gamma| in every
    NAM gate (its penalty's gradient, lambda * sign(gamma), pulls each scale towards 0 by up to lr * lambda a step)."""
    scales = {}
    for lam in (0.0, 0.5):
        train(tiny_config(tmp_path, f"loss.nam_sparsity={lam}", run=f"lam{lam}", epochs=1))
        params = ckpt.load_params(str(tmp_path / f"lam{lam}" / "checkpoints" / "latest"))
        scales[lam] = {
            k: np.abs(v.numpy() if hasattr(v, "numpy") else v).mean()
            for k, v in params.items()
            if k.endswith("attention.channel.weight")
        }
    assert len(scales[0.0]) == 8
    assert all(scales[0.5][k] < scales[0.0][k] - 0.01 for k in scales[0.0]), scales


def test_save_freq_saves_every_nth_epoch_and_the_last(tmp_path, monkeypatch):
    linked = []
    set_link = ckpt.set_link
    monkeypatch.setattr(
        ckpt, "set_link", lambda directory, link, name: linked.append((link, name)) or set_link(directory, link, name)
    )
    train(tiny_config(tmp_path, "train.save_freq=2", epochs=3))
    assert [name for link, name in linked if link == "latest"] == ["epoch_0002", "epoch_0003"]
    assert ckpt.read_state(str(tmp_path / "run" / "checkpoints" / "latest"))["epoch"] == 3


def old_layout(config):
    """`config` as saved before the `train` section was split: the moved keys back under `train`."""
    old = {section: dict(keys) for section, keys in config.items() if section not in ("run", "cpu", "device")}
    for old_key, new_key in MOVED_KEYS.items():
        section, key = new_key.split(".")
        old["train"][old_key.split(".")[1]] = old[section].pop(key) if section == "loss" else config[section][key]
    return old


def test_a_checkpoint_written_before_the_train_section_was_split_resumes(tmp_path, capsys):
    config = tiny_config(tmp_path, "visualdl.enabled=false", epochs=2)
    train(config, callbacks=[StopAfterEpoch(1)])
    latest = os.path.realpath(ckpt.find_latest(config["run"]["output_dir"]))
    state_file = os.path.join(latest, ckpt.STATE_FILE)
    with open(state_file) as f:
        state = json.load(f)
    saved = state["config"]
    state["config"] = old_layout(saved)
    assert "output_dir" in state["config"]["train"] and "run" not in state["config"]
    with open(state_file, "w") as f:
        json.dump(state, f)
    before_split = {  # cpu.kernels and device.precision came later
        **saved,
        "cpu": {k: v for k, v in saved["cpu"].items() if k != "kernels"},
        "device": {k: v for k, v in saved["device"].items() if k != "precision"},
    }
    assert read_run_state(latest)["config"] == before_split  # today's sections again

    with pytest.raises(ckpt.CheckpointError, match=r"loss.nam_sparsity is 0.5 here but was 0.0 in that run"):
        train(
            tiny_config(
                tmp_path,
                "visualdl.enabled=false",
                "run.resume=auto",
                "loss.nam_sparsity=0.5",
                epochs=2,
            )
        )
    resumed = tiny_config(tmp_path, "visualdl.enabled=false", "run.resume=auto", epochs=2)
    assert train(resumed)["epoch"] == 2
    assert "resumed from" in capsys.readouterr().out
    assert ckpt.read_state(ckpt.find_latest(config["run"]["output_dir"]))["epoch"] == 2


class RecordingWriter:
    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, step))

    def flush(self):
        pass


def test_the_visualdl_logger_writes_exactly_the_tags_the_curves_reader_reads():
    logger = VisualDLLogger("unused", scheduler=lambda: 0.1)
    logger.writer = RecordingWriter()
    logger.on_epoch_begin(0)
    logger.on_train_batch_begin(0)
    logger.on_train_batch_end(0, {"loss": [1.5], "acc_top1": 0.25, "acc_top5": 0.5})
    assert sorted(logger.writer.scalars) == sorted((tag, 1) for tag in TRAIN_TAGS)
    logger.writer.scalars.clear()
    logger.on_eval_end({"loss_mean": 1.2, "acc_top1": 0.3, "acc_top5": 0.6})
    assert sorted(logger.writer.scalars) == sorted((tag, 1) for tag in EVAL_TAGS)
