"""Per-epoch seeding of the data order and augmentations, so a resumed run sees what an uninterrupted one would.

`epoch_offset` is the number of epochs finished before this `fit` call (non-zero after a resume),
so epochs are numbered across the whole run.
"""

import random

import numpy as np
import paddle
from paddle.callbacks import Callback


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
