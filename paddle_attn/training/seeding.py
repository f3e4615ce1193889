"""Per-epoch seeding of the data order (and of Paddle's generator), so a resumed run sees what an uninterrupted one
would. The augmentations need none: each sample's is drawn from (seed, epoch, index) (`data.augment.sample_rng`).

`epoch_offset` is the number of epochs finished before this `fit` call (non-zero after a resume),
so epochs are numbered across the whole run.
"""

import paddle
from paddle.callbacks import Callback


def epoch_seed(seed, epoch):
    """The seed of epoch `epoch`'s shuffled order (and of Paddle's generator during it) in a run seeded `seed`."""
    return (seed * 100_003 + epoch * 1_009) % 2**32


class EpochSeed(Callback):
    """At each epoch's start, hand the training sampler the epoch (its order and the samples' augmentation keys)
    and reseed Paddle's generator from (seed, epoch)."""

    def __init__(self, sampler, seed, epoch_offset=0):
        super().__init__()
        self.sampler, self.seed, self.epoch_offset = sampler, seed, epoch_offset
        self.epoch = epoch_offset

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = self.epoch_offset + epoch
        self.sampler.start_epoch(self.epoch, self.seed)
        paddle.seed(epoch_seed(self.seed, self.epoch))
