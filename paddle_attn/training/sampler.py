"""The training batch sampler: a shard per rank, reshuffled per epoch, able to resume mid-epoch."""

import paddle


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
