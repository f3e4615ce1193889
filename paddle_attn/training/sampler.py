"""The batch sampler of a run's loaders: a shard per rank, reshuffled per epoch, able to resume mid-epoch."""

import paddle

from paddle_attn.data.loader import ErrorReportingLoader
from paddle_attn.training.seeding import EpochSeed


class ResumableBatchSampler(paddle.io.DistributedBatchSampler):
    """DistributedBatchSampler whose next epoch can skip the batches a run already trained on.

    `skip_batches(n)` applies to the next epoch only: a run stopped after step n of an epoch
    resumes with batch n + 1 of the same shuffled order (the order depends on the epoch seed only).
    """

    _skip = 0

    def skip_batches(self, count):
        self._skip = int(count)

    def __iter__(self):
        skip, self._skip = self._skip, 0
        for index, batch in enumerate(super().__iter__()):
            if index >= skip:
                yield batch

    def __len__(self):
        return super().__len__() - self._skip


def loader(dataset, batch_size, shuffle, num_workers, worker_init=None):
    # one shard per rank under paddle.distributed.launch, the whole set otherwise
    sampler = ResumableBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle)
    return ErrorReportingLoader(dataset, sampler, num_workers, worker_init)


def eval_loader(config, test_set):
    """The test split's loader, in order, `train.eval_batch_size` images a batch (default `train.batch_size`)."""
    train = config["train"]
    return loader(test_set, train["eval_batch_size"] or train["batch_size"], False, config["data"]["num_workers"])


def run_loaders(config, train_set, test_set):
    """(train loader, test loader, EpochSeed): the training loader shuffled, its order and augmentations
    reseeded each epoch by the EpochSeed callback."""
    seeding = EpochSeed(None, config["train"]["seed"])
    train_loader = loader(
        train_set, config["train"]["batch_size"], True, config["data"]["num_workers"], seeding.worker_init
    )
    seeding.sampler = train_loader.batch_sampler
    return train_loader, eval_loader(config, test_set), seeding
