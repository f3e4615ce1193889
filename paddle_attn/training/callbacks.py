"""Callbacks for paddle.Model.fit: per-epoch seeding, VisualDL curves, checkpoints with best and latest.

`epoch_offset` is the number of epochs finished before this `fit` call (non-zero after a resume),
so epochs and steps are numbered across the whole run.
"""

import os
import random

import numpy as np
import paddle
from paddle.callbacks import Callback

from paddle_attn import checkpoint as ckpt
from paddle_attn.analysis.run_logs import EVAL_TAGS, TRAIN_TAGS  # noqa: F401  (the tags written here)



def is_main_process():
    return paddle.distributed.get_rank() == 0


class EpochSeed(Callback):
    """Reseed the shuffling sampler and the augmentation RNGs from (seed, epoch) at each epoch's start,
    so a resumed run sees the same data order and augmentations as an uninterrupted one."""

    def __init__(self, sampler, seed, epoch_offset=0):
        super().__init__()
        self.sampler, self.seed, self.epoch_offset = sampler, seed, epoch_offset
        self.epoch = epoch_offset

    def epoch_seed(self, worker_id=0):
        return (self.seed * 100_003 + self.epoch * 1_009 + worker_id) % 2**32

    def worker_init(self, worker_id):
        """`worker_init_fn` of the training DataLoader: workers fork after `on_epoch_begin`."""
        random.seed(self.epoch_seed(worker_id + 1))
        np.random.seed(self.epoch_seed(worker_id + 1))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = self.epoch_offset + epoch
        self.sampler.set_epoch(self.epoch_seed())
        random.seed(self.epoch_seed())
        np.random.seed(self.epoch_seed())
        paddle.seed(self.epoch_seed())


class AverageBatchNormStats(Callback):
    """Under data parallelism, average the BatchNorm running statistics over the ranks at each epoch's end.

    DataParallel keeps the parameters equal but each rank's running mean/variance follow its own
    shard; averaging them (timm's distribute_bn "reduce") makes evaluation and checkpoints rank-independent.
    Not SyncBatchNorm: that is GPU-only in Paddle and would replace NAM's BatchNorm-based layers.
    """

    def on_epoch_end(self, epoch, logs=None):
        world = paddle.distributed.get_world_size()
        if world < 2:
            return
        for name, buffer in self.model.network.state_dict().items():
            if name.endswith(("_mean", "_variance")):
                paddle.distributed.all_reduce(buffer)
                buffer.set_value(buffer / world)


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


class VisualDLLogger(Callback):
    """Train loss, top-1, top-5 and LR every step; eval loss, top-1, top-5 every epoch (see TRAIN_TAGS, EVAL_TAGS).

    Train top-1/top-5 are Paddle's running accuracy over the epoch so far, as its progress bar shows.
    """

    def __init__(self, log_dir, scheduler, epoch_offset=0, step_offset=0):
        super().__init__()
        self.log_dir, self.scheduler = log_dir, scheduler
        self.epoch_offset, self.step = epoch_offset, step_offset
        self.writer, self.epoch, self._lr = None, epoch_offset, None

    def on_train_begin(self, logs=None):
        if is_main_process():
            from visualdl import LogWriter  # imported here: only the writing rank needs it

            self.writer = LogWriter(logdir=self.log_dir)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = self.epoch_offset + epoch + 1

    def on_train_batch_begin(self, step, logs=None):
        self._lr = self.scheduler()  # the LR this batch trains with, before Paddle's LRScheduler callback steps it

    def on_train_batch_end(self, step, logs=None):
        self.step += 1
        if self.writer is None:
            return
        values = {"train/loss": np.mean(logs["loss"]), "train/top1": logs.get("acc_top1"),
                  "train/top5": logs.get("acc_top5"), "train/lr": self._lr}
        self._write(values, self.step)

    def on_eval_end(self, logs=None):
        if self.writer is None:
            return
        values = {"eval/loss": logs.get("loss_mean"), "eval/top1": logs.get("acc_top1"), "eval/top5": logs.get("acc_top5")}
        self._write(values, self.epoch)
        self.writer.flush()

    def _write(self, values, step):
        for tag, value in values.items():
            if value is not None:
                self.writer.add_scalar(tag, float(value), step)

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


class CheckpointSaver(Callback):
    """Saves `checkpoints/epoch_NNNN` every `save_freq` epochs and at the last, switching `latest` to it,
    and whenever eval top-1 beats the best so far, switching `best` to it. Older epochs are removed.

    Saving waits for the epoch's evaluation, so `state.json` carries its metrics. `run_description`
    goes into every `state.json` too (see `trainer.describe_run`).
    """

    def __init__(self, run_dir, optimizer, save_freq, total_epochs, run_description, epoch_offset=0, best_top1=-1.0,
                 step_offset=0):
        super().__init__()
        self.directory, self.optimizer = os.path.join(run_dir, "checkpoints"), optimizer
        self.save_freq, self.total_epochs, self.run_description = save_freq, total_epochs, run_description
        self.epoch_offset, self.best_top1, self.step = epoch_offset, best_top1, step_offset
        self.epoch, self._train_logs, self._pending = epoch_offset, {}, False

    def on_train_batch_end(self, step, logs=None):
        self.step += 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = self.epoch_offset + epoch  # epochs completed so far

    def on_epoch_end(self, epoch, logs=None):
        self.epoch = self.epoch_offset + epoch + 1
        names = {"loss": "train_loss", "acc_top1": "train_top1", "acc_top5": "train_top5"}
        self._train_logs = {names[k]: float(np.mean(v)) for k, v in (logs or {}).items() if k in names}
        self._pending = True

    def on_eval_end(self, logs=None):
        if self._pending:
            metrics = {f"eval_{k[4:]}": float(logs[k]) for k in ("acc_top1", "acc_top5") if k in logs}  # eval_top1
            if "loss_mean" in logs:
                metrics["eval_loss"], metrics["eval_samples"] = float(logs["loss_mean"]), int(logs["samples"])
            self._save(metrics)

    def save_interrupted(self, step_in_epoch):
        """A mid-epoch checkpoint after `step_in_epoch` steps of the current epoch; becomes `latest`."""
        if not is_main_process():
            return None
        name = f"epoch_{self.epoch:04d}_step_{step_in_epoch:05d}"
        self._write(name, {"step_in_epoch": step_in_epoch}, {})
        ckpt.set_link(self.directory, "latest", name)
        return os.path.join(self.directory, name)

    def _save(self, eval_metrics):
        self._pending = False
        top1 = eval_metrics.get("eval_top1", -1.0)
        improved = top1 > self.best_top1
        self.best_top1 = max(self.best_top1, top1)
        regular = self.epoch % self.save_freq == 0 or self.epoch == self.total_epochs
        if not (regular or improved) or not is_main_process():
            return
        name = f"epoch_{self.epoch:04d}"
        self._write(name, {"step_in_epoch": 0}, {**self._train_logs, **eval_metrics})
        if regular:
            ckpt.set_link(self.directory, "latest", name)
        if improved:
            ckpt.set_link(self.directory, "best", name)
        self._remove_unreferenced()

    def _write(self, name, position, metrics):
        os.makedirs(self.directory, exist_ok=True)
        state = {**self.run_description, "epoch": self.epoch, "step": self.step, **position, "best_top1": self.best_top1,
                 "metrics": metrics}
        net = self.model.network
        optimizer_state = ckpt.portable_optimizer_state(self.optimizer.state_dict(), net)
        ckpt.save_checkpoint(self.directory, name, net.state_dict(), optimizer_state, state)

    def _remove_unreferenced(self):
        keep = {os.path.basename(os.path.realpath(os.path.join(self.directory, link))) for link in ("latest", "best")}
        for entry in os.listdir(self.directory):
            if entry.startswith("epoch_") and entry not in keep:
                ckpt.remove(os.path.join(self.directory, entry))
