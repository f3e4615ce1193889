"""Evaluating every epoch through Paddle Inference keeps flat memory and always sees the weights just trained."""

import gc
import tempfile
import types

import numpy as np
import paddle
import psutil
import pytest

import paddle_attn
from paddle_attn.errors import InferenceError
from paddle_attn.inference.network_export import NetworkExport
from paddle_attn.training.evaluation import InferenceEvaluation
from tests.helpers import assert_close_to_scale as close

# median step, as glibc's arenas grow in rare jumps (+31 MiB once); measured (resnet18_nam, 32 px): flat 0.00-0.02 MiB,
# one export per evaluation (main before the fix) 2-8 MiB: a quarter of the smallest leak, 25x the flat case's largest
MAX_MIB_PER_EVALUATION = 0.5


def images(batch=4, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, 3, 32, 32), dtype=np.float32)


def evaluations(net, count):
    """RSS in MiB after each of `count` evaluations, each building and releasing the epoch's runner as training does."""
    model = types.SimpleNamespace(network=net)
    callback = InferenceEvaluation(32)
    callback.set_model(model)
    process, rss = psutil.Process(), []
    for _ in range(count):
        callback.on_eval_begin()
        callback.logits(net, images())
        callback.on_eval_end()
        gc.collect()
        rss.append(process.memory_info().rss / 2**20)
    return rss


def test_evaluating_every_epoch_keeps_flat_memory():
    net = paddle_attn.create_model("resnet18_nam", num_classes=10, stem="imagenet")
    rss = evaluations(net, 8)
    steps = np.diff(rss[3:])  # after the first few, which fill Paddle's and oneDNN's caches
    assert np.median(steps) < MAX_MIB_PER_EVALUATION, f"RSS per evaluation, MiB: {np.round(rss, 1).tolist()}"


def test_each_runner_computes_with_the_weights_of_now():
    net = paddle_attn.create_model("resnet18_cbam", num_classes=10, stem="imagenet")
    export = NetworkExport(net, 32)
    x = images(batch=3, seed=1)
    before = export.runner()(x)
    for param in net.parameters():  # as an optimizer step would
        param.set_value(param + 0.05 * paddle.randn(param.shape))
    net.train()
    net(paddle.to_tensor(images(batch=8, seed=2)))  # and BatchNorm's running statistics move
    net.eval()
    with paddle.no_grad():
        expected = net(paddle.to_tensor(x)).numpy()
    close(export.runner()(x), expected, 1e-4)
    assert np.abs(before - expected).max() > 0.1 * np.abs(expected).max()  # the old weights would not pass


class UnusedBuffer(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(3 * 32 * 32, 2)
        self.register_buffer("unused", paddle.zeros([4]))  # saved in the state, not in the program

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_a_state_the_export_does_not_hold_is_refused():
    with pytest.raises(InferenceError, match="UnusedBuffer's state_dict is not the weights its export holds"):
        NetworkExport(UnusedBuffer(), 32)


def test_an_export_leaves_no_file_behind_once_its_runner_is_built(tmp_path, monkeypatch):
    # a run killed during training (SIGKILL, out of memory) runs no finalizer: nothing may wait for one in /tmp
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    net = paddle_attn.create_model("resnet18_se", num_classes=10, stem="imagenet")
    export = NetworkExport(net, 32)
    runner = export.runner()
    assert list(tmp_path.iterdir()) == []
    net.eval()
    with paddle.no_grad():
        expected = net(paddle.to_tensor(images())).numpy()
    close(runner(images()), expected, 1e-4)
