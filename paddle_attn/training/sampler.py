"""The batch sampler of a run's loaders: a shard per rank, reshuffled per epoch, able to resume mid-epoch."""

import paddle

from paddle_attn.data.loader import ErrorReportingLoader
from paddle_attn.training.seeding import EpochSeed, epoch_seed


class ResumableBatchSampler(paddle.io.DistributedBatchSampler):
    """DistributedBatchSampler whose next epoch can skip the batches a run already trained on.

    `skip_batches(n)` applies to the next epoch only: a run stopped after step n of an epoch
    resumes with batch n + 1 of the same shuffled order (the order depends on the epoch seed only).
    After `start_epoch`, batches hold (epoch, index) keys, which seed each sample's augmentation
    (`data.samples.AugmentedSamples`): the same on any rank, in any worker, after any resume.
    """

    _skip = 0
    run_epoch = None

    def start_epoch(self, epoch, seed):
        """Shuffle for epoch `epoch` of a run seeded `seed`, and key its samples by (epoch, index)."""
        self.run_epoch = epoch
        self.set_epoch(epoch_seed(seed, epoch))

    def skip_batches(self, count):
        self._skip = int(count)

    def __iter__(self):
        skip, self._skip = self._skip, 0
        for index, batch in enumerate(super().__iter__()):
            if index >= skip:
                yield batch if self.run_epoch is None else [(self.run_epoch, i) for i in batch]

    def __len__(self):
        return super().__len__() - self._skip


def loader(dataset, batch_size, shuffle, data):
    """The loader of `dataset` by the config's `data` section (workers, timeout); one shard per rank under
    paddle.distributed.launch, the whole set otherwise."""
    sampler = ResumableBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle)
    return ErrorReportingLoader(dataset, sampler, data["num_workers"], timeout_s=data["timeout_s"])


def eval_loader(train, data, test_set):
    """The test split's loader, in order, by the config's `train` section (`eval_batch_size` images a batch,
    default `batch_size`) and `data` section."""
    return loader(test_set, train["eval_batch_size"] or train["batch_size"], False, data)


def run_loaders(train, data, train_set, test_set):
    """(train loader, test loader, EpochSeed) by the config's `train` and `data` sections: the training loader
    shuffled, its order and augmentation keys set each epoch by the EpochSeed callback."""
    train_loader = loader(train_set, train["batch_size"], True, data)
    seeding = EpochSeed(train_loader.batch_sampler, train["seed"])
    return train_loader, eval_loader(train, data, test_set), seeding
