"""Evaluation inside `paddle.Model.fit` and `.evaluate`: each test image counted once under data parallelism,
and on the CPU through Paddle Inference with oneDNN (the fast path), the path chosen when the model is built.

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
    through `evaluation`, its evaluation path chosen when it is built (`evaluation_path`; dygraph by default).

    After each batch, `eval_batch_samples` holds the number of test images it counted.
    """

    eval_set_size = None
    eval_batch_samples = 0
    _eval_seen = 0

    def __init__(self, network, inputs=None, labels=None, evaluation=None):
        super().__init__(network, inputs, labels)
        self.evaluation = DygraphEvaluation() if evaluation is None else evaluation

    def eval_callbacks(self):
        """The callbacks its evaluation path needs in `fit` / `evaluate` (the Paddle Inference runner's set-up)."""
        return [self.evaluation] if isinstance(self.evaluation, Callback) else []

    def prepare(self, optimizer=None, loss=None, metrics=None, amp_configs=None):
        self.loss_fn = loss
        self.metric_list = [] if metrics is None else list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        super().prepare(optimizer, loss, metrics, amp_configs)

    def eval_batch(self, inputs, labels=None):
        images = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        label = paddle.to_tensor(labels[0] if isinstance(labels, (list, tuple)) else labels)
        logits = self.evaluation.logits(self.network, images)
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


class DygraphEvaluation:
    """The evaluation path through the network itself, in eval mode without gradients: any device, any ranks."""

    def logits(self, network, images):
        network.eval()
        with paddle.no_grad():
            return network(paddle.to_tensor(images))


class InferenceEvaluation(Callback):
    """The evaluation path through Paddle Inference (oneDNN, fp32), and the callback that sets it up: at each
    evaluation's start it loads the network's weights into a new runner, so it always sees the weights just
    trained, and its logits equal dygraph's within 1e-5. The program is exported once per network
    (`NetworkExport`: each export keeps ~2 MB, a runner ~0.15 MB). The runner uses the process's CPU threads
    (`cpu.cpu_threads`).
    """

    def __init__(self, image_size):
        super().__init__()
        self.image_size = image_size
        self._export = None
        self._runner = None

    def logits(self, network, images):
        if self._runner is None:
            raise RuntimeError("InferenceEvaluation runs inside an evaluation: pass it to fit / evaluate's callbacks")
        images = images.numpy() if isinstance(images, paddle.Tensor) else np.asarray(images)
        return paddle.to_tensor(self._runner(np.ascontiguousarray(images, dtype=np.float32)))

    def on_eval_begin(self, logs=None):
        if self._export is None or self._export.net is not self.model.network:
            self._export = NetworkExport(self.model.network, self.image_size)
        self._runner = self._export.runner(threads=cpu_threads())

    def on_eval_end(self, logs=None):
        self._runner = None
        release_freed_memory()  # the predictor's blocks, which glibc would otherwise keep resident around live ones
        # a predictor's run resets the math library's threads its own way, and dygraph's kernels then sum
        # in another order (1e-4 apart after 3 steps): set them back so training goes on as without it
        set_cpu_threads(cpu_threads())


class EvalLossMean(Callback):
    """Puts the sample-weighted mean eval loss into the eval logs as `loss_mean`, `samples` the images counted.

    Paddle's `logs["loss"]` at eval end is the last batch's loss only; callbacks after this one
    in the list read `loss_mean` instead. Each batch's weight is the number of test images
    `EvaluatingModel` counted in it (all ranks', padding dropped); in a plain `paddle.Model`, the batch's size.
    """

    mean, samples = None, 0

    def on_eval_begin(self, logs=None):
        self._total, self._count, self.mean = 0.0, 0, None

    def on_eval_batch_end(self, step, logs=None):
        samples = getattr(self.model, "eval_batch_samples", None) or logs["batch_size"]
        self._total += float(np.mean(logs["loss"])) * samples
        self._count += samples

    def on_eval_end(self, logs=None):
        if self._count:
            self.mean, self.samples = self._total / self._count, self._count
            if logs is not None:
                logs["loss_mean"], logs["samples"] = self.mean, self.samples


def prepare(net, config, optimizer=None, amp=None, eval_set_size=None, evaluation=None):
    """EvaluatingModel with cross-entropy (label-smoothed on training steps), top-1/top-5 accuracy exact over
    `eval_set_size` test images, `amp` configs, and its evaluation path `evaluation` (`evaluation_path`)."""
    size = config["data"]["image_size"]
    model = EvaluatingModel(
        net,
        InputSpec([None, 3, size, size], "float32", "image"),
        InputSpec([None], "int64", "label"),
        evaluation,
    )
    model.prepare(
        optimizer,
        SmoothedCrossEntropy(config["loss"]["label_smoothing"]),
        paddle.metric.Accuracy(topk=(1, 5)),
        amp_configs=amp,
    )
    model.eval_set_size = eval_set_size
    return model


def evaluation_path(eval_backend, image_size, device):
    """The evaluation path, chosen once: Paddle Inference where `device.eval_backend` asks for it and it applies
    (the CPU, one process: under data parallelism the ranks evaluate in dygraph and gather), else dygraph."""
    if eval_backend == "inference" and device == "cpu" and world_size() == 1:
        return InferenceEvaluation(image_size)
    return DygraphEvaluation()
