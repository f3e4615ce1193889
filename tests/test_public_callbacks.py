"""The callbacks `paddle_attn.training` exports, in a hand-written `paddle.Model(net).prepare(...).fit(...)`."""

import json
import os
import warnings

import numpy as np
import paddle
import pytest
from visualdl import LogReader

import paddle_attn
from paddle_attn.analysis.run_logs import EVAL_TAGS, TRAIN_TAGS, log_files
from paddle_attn.data.datasets import build_dataset
from paddle_attn.optim import build_schedule
from paddle_attn.training import (
    CheckpointSaver,
    EvalLossMean,
    VisualDLLogger,
    attention_logger,
    describe_run,
    quiet_paddle,
    run_loaders,
)
from paddle_attn.weights import load_model
from tests.helpers import read_points, tiny_config

EPOCHS, BATCH = 2, 8  # 40 training images: 5 steps an epoch


def test_the_public_callbacks_log_warm_up_and_save_in_a_plain_fit(tmp_path):
    config = tiny_config(tmp_path)  # batch 8
    data = config["data"]
    train_set, test_set = build_dataset(data, "train"), build_dataset(data, "test")
    train_loader, test_loader, seeding = run_loaders(config["train"], data, train_set, test_set)
    steps = len(train_loader)
    net = paddle_attn.create_model("resnet18_nam", num_classes=10, stem="imagenet")
    scheduler = build_schedule(0.05, EPOCHS * steps, steps, warmup_steps=4)
    optimizer = paddle.optimizer.Momentum(scheduler, parameters=net.parameters())
    model = paddle.Model(net)
    model.prepare(optimizer, paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy(topk=(1, 5)))
    run_dir = tmp_path / "plain"
    curves = VisualDLLogger(str(run_dir / "vdl"), scheduler)
    callbacks = [
        seeding,  # a new order and new augmentations every epoch
        paddle.callbacks.LRScheduler(by_step=True, by_epoch=False),  # warm-up and decay count batches
        EvalLossMean(),
        curves,
        attention_logger(curves, test_set, data, num_classes=10, every=2),
        CheckpointSaver(str(run_dir), optimizer, 1, EPOCHS, run_description=describe_run(config, train_set)),
    ]
    model.fit(train_loader, test_loader, epochs=EPOCHS, verbose=0, callbacks=callbacks)
    assert train_loader.batch_sampler.run_epoch == EPOCHS - 1  # the seeding moved the augmentation keys on

    points = read_points(str(run_dir))
    assert {tag: len(points.get(tag, ())) for tag in TRAIN_TAGS + EVAL_TAGS} == {
        **{tag: EPOCHS * steps for tag in TRAIN_TAGS},
        **{tag: EPOCHS for tag in EVAL_TAGS},
    }
    lr = [value for _, value in points["train/lr"]]
    np.testing.assert_allclose(lr[:5], [0.0, 0.0125, 0.025, 0.0375, 0.05], rtol=1e-6)  # warm-up, a step at a time
    assert lr[5] > lr[-1] > 0  # then the cosine decay
    with open(run_dir / "checkpoints" / "latest" / "state.json") as f:
        state = json.load(f)
    assert state["epoch"] == EPOCHS and state["step"] == EPOCHS * steps
    assert state["metrics"]["eval_samples"] == len(test_set)
    assert state["metrics"]["eval_loss"] == pytest.approx(points["eval/loss"][-1][1], rel=1e-6)
    assert os.path.islink(run_dir / "checkpoints" / "best")
    rebuilt, saved = load_model(run_dir / "checkpoints" / "best")  # describe_run: the network can be rebuilt
    assert saved["model"]["name"] == "resnet18_nam" and isinstance(rebuilt, type(net))
    (log,) = log_files(str(run_dir))
    reader = LogReader(file_path=log)
    assert [r.id for r in reader.get_data("histogram", "attention/layer4/channel")] == [1, 2]  # NAM's gates
    assert [r.id for r in reader.get_data("image", "attention/gradcam")] == [2]  # every 2 epochs


def test_quiet_paddle_hides_paddles_per_run_warnings_only_inside():
    noise = "When training, we now always track global mean and variance."
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with quiet_paddle():
            warnings.warn(noise, UserWarning, stacklevel=1)
            warnings.warn("something else", UserWarning, stacklevel=1)
        warnings.warn(noise, UserWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["something else", noise]
