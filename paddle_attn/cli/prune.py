"""Prune a trained run by its BatchNorm scales (network slimming) into a new run folder:
python tools/prune.py --checkpoint RUN --flops-reduction 0.4 --output RUN_pruned

Removes the inner channels of every residual block with the smallest |gamma|, ranked across all layers, until the
FLOPs fall by --flops-reduction (or --ratio of the channels go), keeping at least --min-keep of every layer. Prints
the parameters and FLOPs before and after. Fine-tune the pruned network with
python tools/train.py -c RUN_pruned/config.yaml  (a new run in RUN_pruned/finetune; -o train.epochs=N, ...).
"""

import argparse
import os

from paddle_attn import cli
from paddle_attn.checkpoint import resolve
from paddle_attn.pruning import MIN_KEEP
from paddle_attn.pruning.run_folder import prune_run


def build_parser():
    """The command line; tests read it to check README commands."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory or run directory (its best)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--flops-reduction", type=float, help="share of the FLOPs to remove, e.g. 0.4")
    target.add_argument("--ratio", type=float, help="share of all inner channels to remove, e.g. 0.5")
    parser.add_argument("--output", required=True, help="new run folder for the pruned checkpoint and its config")
    parser.add_argument(
        "--min-keep", type=float, default=MIN_KEEP, help=f"share of every layer always kept (default {MIN_KEEP})"
    )
    parser.add_argument(
        "--round-to", type=int, default=1, help="keep a multiple of this many channels per layer (e.g. 8: faster)"
    )
    parser.add_argument("--finetune-epochs", type=int, help="epochs of the fine-tuning config (default: the run's)")
    parser.add_argument("--trusted", action="store_true", help=cli.TRUSTED_HELP)
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()
    if args.round_to < 1 or (args.finetune_epochs is not None and args.finetune_epochs < 1):
        parser.error("--round-to and --finetune-epochs must be >= 1")
    source = resolve(args.checkpoint)  # a path that is no checkpoint stops here, before anything is set up
    cli.set_up_process()
    pruned, checkpoint = prune_run(
        source,
        args.output,
        args.ratio,
        args.flops_reduction,
        args.min_keep,
        args.round_to,
        args.finetune_epochs,
        args.trusted,
    )
    (params_before, params_after), (flops_before, flops_after) = pruned.params, pruned.flops
    print(f"params  {params_before:,} -> {params_after:,} ({1 - params_after / params_before:.1%} fewer)")
    print(f"FLOPs   {flops_before:,} -> {flops_after:,} ({1 - flops_after / flops_before:.1%} fewer)")
    print(f"pruned checkpoint: {checkpoint}")
    print(f"fine-tune: python tools/train.py -c {os.path.join(args.output, 'config.yaml')}")


if __name__ == "__main__":
    main()
