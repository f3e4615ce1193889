"""Stopping a run safely: on SIGINT/SIGTERM after the current step, and on a non-finite loss at once."""

import math
import signal

import numpy as np
from paddle.callbacks import Callback

from paddle_attn.errors import TrainingStopped


class NonFiniteLoss(TrainingStopped):
    pass


class StopOnSignal(Callback):
    """SIGINT or SIGTERM: finish the current step, save a resumable checkpoint through `save(step_in_epoch)`, stop.

    A second signal while saving is ignored, so an impatient Ctrl-C cannot break the save.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, save):
        super().__init__()
        self.save, self.received, self._previous = save, None, {}

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name

    def on_train_begin(self, logs=None):
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def on_train_batch_end(self, step, logs=None):
        if self.received:
            path = self.save(step + 1)
            raise TrainingStopped(
                f"stopped by {self.received} after step {step + 1} of the epoch; "
                f"resume with -o run.resume=auto (checkpoint: {path})"
            )

    def on_train_end(self, logs=None):
        self.restore()

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class StopOnNonFinite(Callback):
    """Stops the run at the first training step whose loss is NaN or infinite; no checkpoint is written after it."""

    def __init__(self, step_offset=0, last_checkpoint=lambda: None):
        super().__init__()
        self.step, self.last_checkpoint = step_offset, last_checkpoint

    def on_train_batch_end(self, step, logs=None):
        self.step += 1
        loss = float(np.mean(logs["loss"]))
        if not math.isfinite(loss):
            kept = self.last_checkpoint()
            raise NonFiniteLoss(
                f"loss is {loss} at step {self.step} (batch {step + 1} of the epoch); run stopped. "
                + (f"The last good checkpoint is {kept}." if kept else "No checkpoint was written yet.")
            )
