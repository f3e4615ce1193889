"""Run by tests/test_distributed.py under paddle.distributed.launch: trains the tiny config and saves each
rank's final weights to <output_dir>/rank<N>.pdparams, so the test can compare the ranks."""

import os
import sys

import paddle
from paddle.callbacks import Callback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddle_attn import cli  # noqa: E402
from paddle_attn.training import train  # noqa: E402


class SaveRankWeights(Callback):
    def __init__(self, directory):
        super().__init__()
        self.directory = directory

    def on_train_end(self, logs=None):
        path = os.path.join(self.directory, f"rank{paddle.distributed.get_rank()}.pdparams")
        paddle.save(self.model.network.state_dict(), path)


if __name__ == "__main__":
    args = cli.config_parser(__doc__).parse_args()
    config = cli.config_from_args(args)
    cli.run(lambda: train(config, callbacks=[SaveRankWeights(config["run"]["output_dir"])]))
