"""Evaluation inside `paddle.Model.fit` and `.evaluate`: each test image counted once under data parallelism,
and on the CPU through Paddle Inference with oneDNN (the fast path).

Paddle's own `eval_batch` trims the padding `DistributedBatchSampler` adds only for loaders of its
own type and averages the loss of each rank's shard alone; here the ranks' logits and labels are
gathered, the padding dropped, and loss and metrics computed over the gathered batch, so top-1,
top-5 and the mean loss are those of the whole test set, each image once.
"""

import numpy as np
import paddle
from paddle.callbacks import Callback
from paddle.static import InputSpec

from paddle_attn.cpu import cpu_threads, release_freed_memory, set_cpu_threads
from paddle_attn.inference.network_export import NetworkExport
from paddle_attn.optim import SmoothedCrossEntropy
from paddle_attn.training.distributed import world_size


class EvaluatingModel(paddle.Model):
    """`paddle.Model` with an exact evaluation: over `eval_set_size` test images under data parallelism,
    through `eval_forward` (numpy images -> numpy logits, e.g. a Paddle Inference runner) when set.

    After each batch, `eval_batch_samples` holds the number of test images it counted.
    """

    eval_forward = None
    eval_set_size = None
    eval_batch_samples = 0
    _eval_seen = 0

    def prepare(self, optimizer=None, loss=None, metrics=None, amp_configs=None):
        self.loss_fn = loss
        self.metric_list = [] if metrics is None else list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        super().prepare(optimizer, loss, metrics, amp_configs)

    def eval_batch(self, inputs, labels=None):
        images = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        label = paddle.to_tensor(labels[0] if isinstance(labels, (list, tuple)) else labels)
        logits = self._logits(images)
        if paddle.distributed.get_world_size() > 1:
            logits, label = _gather(logits), _gather(label)
            logits, label = self._drop_padding(logits, label)
        self.eval_batch_samples = int(label.shape[0])
        with paddle.no_grad():
            loss = self.loss_fn(logits, label)
        metrics = [
            metric.update(*[np.asarray(t) for t in _as_list(metric.compute(logits, label))])
            for metric in self.metric_list
        ]
        return [loss.numpy()], metrics

    def _logits(self, images):
        if self.eval_forward is not None:
            images = images.numpy() if isinstance(images, paddle.Tensor) else np.asarray(images)
            return paddle.to_tensor(self.eval_forward(np.ascontiguousarray(images, dtype=np.float32)))
        self.network.eval()
        with paddle.no_grad():
            return self.network(paddle.to_tensor(images))

    def _drop_padding(self, logits, label):
        """The gathered batches follow the sampler's padded index order, the padding last: keep the set's size."""
        if self.eval_set_size is None:
            raise RuntimeError("EvaluatingModel.eval_set_size must be set for evaluation under data parallelism")
        keep = min(int(label.shape[0]), self.eval_set_size - self._eval_seen)
        self._eval_seen = (self._eval_seen + keep) % self.eval_set_size  # back to 0 when the set is done
        return logits[:keep], label[:keep]


def _gather(tensor):
    parts = []
    paddle.distributed.all_gather(parts, tensor)
    return paddle.concat(parts, axis=0)


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


class InferenceEvaluation(Callback):
    """At each evaluation's start, loads the network's weights into a new Paddle Inference runner (oneDNN, fp32)
    for `EvaluatingModel`: it always sees the weights just trained, and its logits equal dygraph's within 1e-5.
    The program is exported once per network (`NetworkExport`: each export keeps ~2 MB, a runner ~0.15 MB).
    The runner uses the process's CPU threads (`cpu.cpu_threads`).
    """

    def __init__(self, image_size):
        super().__init__()
        self.image_size = image_size
        self._export = None

    def on_eval_begin(self, logs=None):
        if self._export is None or self._export.net is not self.model.network:
            self._export = NetworkExport(self.model.network, self.image_size)
        self.model.eval_forward = self._export.runner(threads=cpu_threads())

    def on_eval_end(self, logs=None):
        self.model.eval_forward = None
        release_freed_memory()  # the predictor's blocks, which glibc would otherwise keep resident around live ones
        # a predictor's run resets the math library's threads its own way, and dygraph's kernels then sum
        # in another order (1e-4 apart after 3 steps): set them back so training goes on as without it
        set_cpu_threads(cpu_threads())


class EvalLossMean(Callback):
    """Puts the sample-weighted mean eval loss into the eval logs as `loss_mean`, `samples` the images counted.

    Paddle's `logs["loss"]` at eval end is the last batch's loss only; callbacks after this one
    in the list read `loss_mean` instead. Each batch's weight is the number of test images
    `EvaluatingModel` counted in it (all ranks', padding dropped).
    """

    mean, samples = None, 0

    def on_eval_begin(self, logs=None):
        self._total, self._count, self.mean = 0.0, 0, None

    def on_eval_batch_end(self, step, logs=None):
        samples = self.model.eval_batch_samples
        self._total += float(np.mean(logs["loss"])) * samples
        self._count += samples

    def on_eval_end(self, logs=None):
        if self._count:
            self.mean, self.samples = self._total / self._count, self._count
            if logs is not None:
                logs["loss_mean"], logs["samples"] = self.mean, self.samples


def prepare(net, config, optimizer=None, amp=None, eval_set_size=None):
    """paddle.Model with cross-entropy (label-smoothed on training steps), top-1/top-5 accuracy exact over
    `eval_set_size` test images, and `amp` configs."""
    size = config["data"]["image_size"]
    model = EvaluatingModel(
        net, InputSpec([None, 3, size, size], "float32", "image"), InputSpec([None], "int64", "label")
    )
    model.prepare(
        optimizer,
        SmoothedCrossEntropy(config["loss"]["label_smoothing"]),
        paddle.metric.Accuracy(topk=(1, 5)),
        amp_configs=amp,
    )
    model.eval_set_size = eval_set_size
    return model


def inference_evaluation(config, device):
    """The callback that evaluates through Paddle Inference, where the config asks for it (`device.eval_backend`)
    and it applies (the CPU, one process: under data parallelism the ranks evaluate in dygraph and gather), else None."""
    if config["device"]["eval_backend"] != "inference" or device != "cpu" or world_size() > 1:
        return None
    return InferenceEvaluation(config["data"]["image_size"])
