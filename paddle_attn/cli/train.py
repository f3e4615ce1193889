"""Train a model from a YAML config: python tools/train.py -c configs/quickstart.yaml [-o train.epochs=3 ...]"""

import os

from paddle_attn import cli
from paddle_attn.training import train


def build_parser():
    """The command line; tests read it to check README commands."""
    return cli.config_parser(__doc__)


@cli.command
def main():
    args = build_parser().parse_args()
    config = cli.config_from_args(args)
    cli.set_up_process_for(config)  # before the first conv: MKL reads its CPU type once

    result = train(config)
    print(
        f"done: best eval top-1 {result['best_top1']:.4f}; checkpoints in {os.path.join(result['run_dir'], 'checkpoints')}"
    )


if __name__ == "__main__":
    main()
