"""What every tools/*.py shares: `-c/-o` config arguments and user errors as one line, not a traceback."""

import argparse
import sys

from paddle_attn.checkpoint import CheckpointError
from paddle_attn.config import ConfigError, load_config
from paddle_attn.data.datasets import DataError
from paddle_attn.training.guards import TrainingStopped

# errors caused by the user's input, and runs stopped early: printed as one message, exit status 2
USER_ERRORS = (ConfigError, CheckpointError, DataError, TrainingStopped, OSError, ValueError)


def config_parser(description, config_required=True):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-c", "--config", required=config_required, help="YAML config file (see configs/)")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value (YAML syntax); may be repeated")
    return parser


def config_from_args(args):
    return load_config(args.config, args.override)


def run(main):
    """Call `main()`; report a user error as `error: ...` on stderr and exit 2, Ctrl-C as exit 130."""
    try:
        return main()
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
