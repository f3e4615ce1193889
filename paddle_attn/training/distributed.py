"""Data parallelism under `paddle.distributed.launch`: which process writes, how many there are, and the
BatchNorm statistics they share."""

import os

import paddle
from paddle.callbacks import Callback


def is_main_process():
    return paddle.distributed.get_rank() == 0


def world_size():
    return int(os.environ.get("PADDLE_TRAINERS_NUM", 1))


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
