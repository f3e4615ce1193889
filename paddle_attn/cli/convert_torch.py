"""Convert PyTorch weights (.pth) to a paddle_attn model's .pdparams or .safetensors, optionally as a checkpoint directory too.

    python tools/convert_torch.py --layout eca_official --input eca_resnet50_k3557.pth --output eca_resnet50.pdparams
    python tools/convert_torch.py --layout cbam_tutorial --input cbam.pth --output cbam.pdparams \
        --checkpoint-dir runs/cbam
"""

import argparse

from paddle_attn import cli
from paddle_attn.convert import LAYOUTS, convert_file
from paddle_attn.models import STEMS


def build_parser():
    """The command line; tests read it to check README commands."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--layout",
        required=True,
        choices=sorted(LAYOUTS),
        metavar="LAYOUT",
        help="the code base that saved the weights: "
        + "; ".join(f"{name}: {layout.source}" for name, layout in LAYOUTS.items()),
    )
    parser.add_argument("--input", required=True, help="PyTorch checkpoint (.pth, .pth.tar, .pt)")
    parser.add_argument(
        "--output",
        required=True,
        help="Paddle weights to write (.pdparams, or .safetensors: tensors only, safe for anyone to open)",
    )
    parser.add_argument("--checkpoint-dir", help="also write a paddle_attn checkpoint directory here")
    parser.add_argument("--model", help="paddle_attn model name (default: inferred from the weights)")
    parser.add_argument("--num-classes", type=int, help="classifier outputs (default: inferred from fc)")
    parser.add_argument("--stem", choices=STEMS, help="default: inferred from conv1's kernel")
    parser.add_argument(
        "--trusted",
        action="store_true",
        help="let the file unpickle objects other than tensors (numpy scalars, ...): runs code from it",
    )
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


@cli.command
def main(argv=None):
    args = parse_args(argv)
    spec = convert_file(
        args.input, args.layout, args.output, args.checkpoint_dir, args.model, args.num_classes, args.stem, args.trusted
    )
    where = f" and checkpoint {args.checkpoint_dir}" if args.checkpoint_dir else ""
    print(
        f"wrote {args.output}{where}: {spec['name']}, {spec['num_classes']} classes, "
        f"{spec['stem']} stem, kwargs {spec['kwargs']}"
    )


if __name__ == "__main__":
    main()
