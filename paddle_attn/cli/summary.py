"""Layer table, parameters and FLOPs of a registered network:
python tools/summary.py --model resnet50_nam --num-classes 100 --stem cifar --input-size 32

Prints `paddle.summary`'s table, then one line: total and trainable parameters ("trainable" is
PyTorch's count; total adds BatchNorm's running statistics) and GFLOPs for one image, counted as
multiply-adds by `paddle.flops`' rules (see paddle_attn/analysis/model_cost.py for what they leave out).
"""

import argparse
import json

from paddle_attn import cli
from paddle_attn.analysis.model_cost import summarize
from paddle_attn.config import load_config
from paddle_attn.data.transforms import STEM_EVAL_PIPELINES
from paddle_attn.models import STEMS
from paddle_attn.weights import create_model


def build_parser():
    """The command line (checks across options are in `main`); tests read it to check README commands."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="registered name, e.g. resnet50_nam (see paddle_attn.list_models())")
    cli.add_config_argument(
        parser,
        required=False,
        help="take the model, classes, stem and image size from this run config (a path or a name)",
    )
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--stem", default="imagenet", choices=STEMS)
    parser.add_argument(
        "--input-size", type=int, default=None, help="image height = width (default: 32 for the cifar stem, else 224)"
    )
    parser.add_argument(
        "--model-kwargs",
        default="{}",
        help='JSON keyword arguments for the network, e.g. \'{"attention_kwargs": {"mlp_bias": true}}\'',
    )
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()
    if (args.model is None) == (args.config is None):
        parser.error("give --model NAME or -c CONFIG")
    try:
        model_kwargs = json.loads(args.model_kwargs)
    except ValueError as err:
        parser.error(f"--model-kwargs is not valid JSON: {err}")
    if args.input_size is not None and args.input_size < 1:
        parser.error("--input-size must be at least 1")

    if args.config:
        config = load_config(args.config)
        model, data = config["model"], config["data"]
        args.model, args.num_classes, args.stem, model_kwargs = (
            model["name"],
            model["num_classes"],
            model["stem"],
            model["kwargs"],
        )
        args.input_size = args.input_size or data["image_size"]
    size = args.input_size if args.input_size is not None else STEM_EVAL_PIPELINES[args.stem][1]
    net = create_model(args.model, num_classes=args.num_classes, stem=args.stem, **model_kwargs)
    result = summarize(net, size)
    uncounted = ", ".join(result["uncounted"]) or "none"
    print(
        f"{args.model} ({args.num_classes} classes, {args.stem} stem, input 1x3x{size}x{size}): "
        f"total params {result['total_params']:,}  trainable params {result['trainable_params']:,}  "
        f"FLOPs {result['flops'] / 1e9:.3f} G (multiply-adds; layers counted as zero: {uncounted})"
    )


if __name__ == "__main__":
    main()
