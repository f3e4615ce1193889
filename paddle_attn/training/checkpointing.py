"""Checkpoints during training: `epoch_NNNN` with `best` and `latest` links, and a mid-epoch one when stopped.

`epoch_offset` is the number of epochs finished before this `fit` call (non-zero after a resume),
so epochs and steps are numbered across the whole run.
"""

import os

import numpy as np
from paddle.callbacks import Callback

from paddle_attn import checkpoint as ckpt
from paddle_attn.training.distributed import is_main_process


class CheckpointSaver(Callback):
    """Saves `checkpoints/epoch_NNNN` every `save_freq` epochs and at the last, switching `latest` to it,
    and whenever eval top-1 beats the best so far, switching `best` to it. Older epochs are removed.

    Saving waits for the epoch's evaluation (so `fit` needs `eval_data`), and `state.json` carries its metrics
    (`EvalLossMean` earlier in the callbacks adds the eval loss). `run_description` goes into every `state.json`
    too (`train()`'s: `resume.describe_run`, which `tools/evaluate.py` and `run.resume` read); `paddle_attn.
    checkpoint.load_params` reads the weights back.
    """

    def __init__(
        self,
        run_dir,
        optimizer,
        save_freq,
        total_epochs,
        run_description=None,
        epoch_offset=0,
        best_top1=-1.0,
        step_offset=0,
    ):
        super().__init__()
        self.directory, self.optimizer = os.path.join(run_dir, "checkpoints"), optimizer
        self.save_freq, self.total_epochs, self.run_description = save_freq, total_epochs, run_description or {}
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
        state = {
            **self.run_description,
            "epoch": self.epoch,
            "step": self.step,
            **position,
            "best_top1": self.best_top1,
            "metrics": metrics,
        }
        net = self.model.network
        optimizer_state = ckpt.portable_optimizer_state(self.optimizer.state_dict(), net)
        ckpt.save_checkpoint(self.directory, name, net.state_dict(), optimizer_state, state)

    def _remove_unreferenced(self):
        keep = {os.path.basename(os.path.realpath(os.path.join(self.directory, link))) for link in ("latest", "best")}
        for entry in os.listdir(self.directory):
            if entry.startswith("epoch_") and entry not in keep:
                ckpt.remove(os.path.join(self.directory, entry))
