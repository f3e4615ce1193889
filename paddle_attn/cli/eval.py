"""Evaluate a checkpoint: python tools/eval.py -c CONFIG [--checkpoint PATH] [--json out.json]

Without --checkpoint, the run's best checkpoint (run.output_dir); without -c, the config saved
beside the checkpoint's run. Prints top-1 and top-5.
"""

import json
import os

from paddle_attn import cli
from paddle_attn.checkpoint import resolve
from paddle_attn.training import evaluate


def build_parser():
    """The command line (checks across options are in `main`); tests read it to check README commands."""
    parser = cli.config_parser(__doc__, config_required=False)
    parser.add_argument("--checkpoint", help="checkpoint directory or run directory (default: the run's best)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--trusted", action="store_true", help=cli.TRUSTED_HELP)
    parser.add_argument("--quiet", action="store_true", help="no progress lines while evaluating")
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()

    if args.config is None:
        if args.checkpoint is None:
            parser.error("give -c CONFIG, --checkpoint PATH, or both")
        run_dir = os.path.dirname(os.path.dirname(resolve(args.checkpoint)))  # run/checkpoints/epoch_NNNN
        args.config = os.path.join(run_dir, "config.yaml")
        saved_run = True  # written by the run, maybe before the train section was split
    else:
        saved_run = False
    config = cli.config_from_args(args, saved_run)
    cli.set_up_process_for(config)
    result = evaluate(
        config, args.checkpoint or config["run"]["output_dir"], verbose=0 if args.quiet else 2, trusted=args.trusted
    )
    print(
        f"top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  loss {result['loss']:.4f}  "
        f"({result['samples']} images, {result['checkpoint']})"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
