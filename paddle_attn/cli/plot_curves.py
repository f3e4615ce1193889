"""Training curves of one or more runs from their VisualDL logs (<run_dir>/vdl/), side by side:
python tools/plot_curves.py output/run_nam output/run_base --names NAM baseline --out curves.png

Top row per step: train top-1, top-5, loss and learning rate (faint: raw; solid: moving average
with weight --smooth). Bottom row per epoch: eval top-1, top-5 and loss. Each run is one colour,
named by --names or its directory name.
"""

import argparse
import os

from paddle_attn import cli
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import read_scalars
from paddle_attn.errors import DataError


def build_parser():
    """The command line (checks across options are in `main`); tests read it to check README commands."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or their vdl/ folders)")
    parser.add_argument("--names", nargs="+", help="legend names, one per run (default: directory names)")
    parser.add_argument("--smooth", type=float, default=0.6, help="moving-average weight for train curves, 0 = none")
    parser.add_argument("--out", default="curves.png", help="PNG file to write")
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()
    if args.names and len(args.names) != len(args.runs):
        parser.error(f"--names gives {len(args.names)} names for {len(args.runs)} runs")
    if not 0 <= args.smooth < 1:
        parser.error("--smooth must be in [0, 1)")

    names = args.names or [os.path.basename(os.path.normpath(run)) for run in args.runs]
    if len(set(names)) != len(names):
        parser.error(f"runs need distinct legend names, got {names}; give --names")
    runs = {}
    for name, run in zip(names, args.runs):
        runs[name] = read_scalars(run)
        if not runs[name]:
            raise DataError(f"the VisualDL log of {run!r} holds none of the train/ or eval/ tags")
        print(f"{name}: " + ", ".join(f"{tag} ({len(steps)})" for tag, (steps, _) in runs[name].items()))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    plot_curves(runs, args.out, args.smooth)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
