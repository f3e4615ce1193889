"""A data set's samples through its pipeline, each sample's augmentation a function of (seed, epoch, index)."""

import numpy as np
import paddle

from paddle_attn.data.augment import sample_rng


class AugmentedSamples(paddle.io.Dataset):
    """(image, label) pairs of `source` (a data set of raw (image, label) pairs) through `transform`.

    `samples[(epoch, index)]` draws sample `index`'s augmentation in `epoch` from `augment.sample_rng(seed,
    epoch, index)`, so it is the same in any process, in any order; `samples[index]` is epoch 0. The training
    sampler (`training.sampler.ResumableBatchSampler`) hands out (epoch, index) keys. `name` says which data
    set and split this is in error messages.
    """

    def __init__(self, source, transform, name, seed=0):
        self.source, self.transform, self.name, self.seed = source, transform, name, seed

    def __len__(self):
        return len(self.source)

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        image, label = self.source[index]
        if getattr(self.transform, "is_random", False):  # an augment.Pipeline with random steps
            image = self.transform(image, sample_rng(self.seed, epoch, index))
        elif self.transform is not None:
            image = self.transform(image)
        return image, np.asarray(label, dtype="int64")

    @property
    def class_names(self):
        return getattr(self.source, "class_names", None)

    def file_of(self, index):
        """The file sample `index` is read from, or None (a sample inside an archive)."""
        file_of = getattr(self.source, "file_of", None)
        return file_of(index) if file_of else None
