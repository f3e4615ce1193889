"""Compare networks: parameters, FLOPs, CPU forward latency and throughput, optional eval top-1.

python tools/compare.py --models 'resnet18*' --num-classes 100 --stem cifar --input-size 32 --out output/compare
python tools/compare.py --results output/run_nam output/run_base --out output/compare

Writes compare.md, compare.csv and compare.png (parameters vs GFLOPs, and top-1 vs GFLOPs for
runs) to --out. Latency: eval mode, no gradients, --warmup untimed passes, then the median of
--iterations timed forward passes of one batch on this machine's CPU threads.
"""

import argparse
import os
import platform

import paddle

from paddle_attn import cli
from paddle_attn.analysis import comparison
from paddle_attn.analysis.run_figures import plot_comparison
from paddle_attn.models import STEMS


def build_parser():
    """The command line (checks across options are in `main`); tests read it to check README commands."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="registered names or shell patterns (default: every registered model unless --results is given)",
    )
    parser.add_argument(
        "--results",
        nargs="+",
        default=[],
        metavar="RUN_DIR",
        help="training runs: their networks and the eval top-1 of their best checkpoints",
    )
    parser.add_argument("--num-classes", type=int, default=100, help="classes of the --models networks")
    parser.add_argument("--stem", default="cifar", choices=STEMS, help="stem of the --models networks")
    parser.add_argument("--input-size", type=int, default=32, help="image height = width for FLOPs and timing")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: every core)")
    parser.add_argument("--out", default="output/compare", help="output directory")
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()
    if min(args.batch_size, args.iterations, args.input_size) < 1 or args.warmup < 0:
        parser.error("--batch-size, --iterations and --input-size must be at least 1, --warmup at least 0")

    threads = cli.set_up_process(args.threads)["threads"]
    patterns = args.models if args.models is not None else ([] if args.results else ["*"])
    entries = comparison.registry_entries(patterns, args.num_classes, args.stem)
    entries += [comparison.run_entry(run) for run in args.results]
    size = args.input_size
    print(f"comparing {len(entries)} networks: batch {args.batch_size}, input 3x{size}x{size}, {threads} CPU threads")
    rows = comparison.compare(entries, args.batch_size, size, args.warmup, args.iterations, progress=print)

    setting = (
        f"batch {args.batch_size}, input 3x{size}x{size}, {threads} CPU threads ({platform.machine()}), "
        f"Paddle {paddle.__version__}, eval mode, no gradients, "
        f"{args.warmup} warm-up + median of {args.iterations} timed passes"
    )
    caption = (
        f"Forward pass on this machine: {setting}. Params: trainable (PyTorch's count). "
        f"GFLOPs: multiply-adds per image by paddle.flops' rules."
    )
    os.makedirs(args.out, exist_ok=True)
    paths = [os.path.join(args.out, f"compare.{ext}") for ext in ("md", "csv", "png")]
    with open(paths[0], "w") as f:
        f.write(comparison.markdown_table(rows, caption))
    comparison.write_csv(rows, paths[1])
    plot_comparison(rows, paths[2], setting)
    print("wrote " + ", ".join(paths))


if __name__ == "__main__":
    main()
