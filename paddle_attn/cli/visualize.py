"""What the attention of a network does on images, as PNGs:
python tools/visualize.py --checkpoint output/quickstart photos/ cat.png --out output/quickstart/attention
python tools/visualize.py --model resnet18_cbam --pretrained cbam.pdparams --num-classes 10 --stem cifar cat.png --out maps

Per image (NNN_<name>.png): the input, Grad-CAM of the predicted class (and of --target-class), and for
CBAM networks the spatial gate of each stage over the image. Per model: channel_gates.png (SE, ECA, CBAM's
channel branch, NAM: gate values per stage over the images), psa_scales.png (EPSANet: the weight of each
kernel size per stage), nam_scales.png (NAM: |gamma|/sum|gamma| per stage, the share under --nam-threshold
times an equal share) and attention_stats.json. Preprocessing as tools/infer.py. --model without --pretrained
draws a randomly initialised network. Unreadable images are named and skipped (exit status 2 at the end).
"""

import argparse
import sys

from paddle_attn import cli
from paddle_attn.analysis.report import MAPS, open_network, write_report
from paddle_attn.data.images import find_images
from paddle_attn.models import STEMS


def build_parser():
    """The command line (checks across options are in `main`); tests read it to check README commands."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", help="image files or folders")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="checkpoint directory or run directory (its best checkpoint)")
    source.add_argument("--model", help="a registered model name (random weights unless --pretrained)")
    parser.add_argument(
        "--pretrained",
        help="with --model: weights to load (checkpoint, .pdparams, or .pth with "
        "--pretrained-layout), every tensor checked",
    )
    parser.add_argument("--pretrained-layout", help="with --pretrained FILE.pth: the code base that saved it")
    parser.add_argument("--trusted", action="store_true", help=cli.TRUSTED_HELP)
    parser.add_argument("--num-classes", type=int, default=1000, help="with --model (default 1000)")
    parser.add_argument(
        "--stem",
        default="imagenet",
        choices=STEMS,
        help="with --model; also picks the preprocessing (default imagenet: 224 px)",
    )
    parser.add_argument("--input-size", type=int, default=None, help="image height = width (default: the model's)")
    parser.add_argument("--out", required=True, help="directory for the PNGs")
    parser.add_argument("--target-class", help="also draw Grad-CAM of this class (index or name)")
    parser.add_argument(
        "--maps",
        default=None,
        help="comma-separated subset of gradcam,spatial,channel,psa,nam (default: all the model has)",
    )
    parser.add_argument(
        "--cam-layer",
        default="auto",
        help="sublayer for Grad-CAM, e.g. layer4 (default auto: the deepest stage with a map of at least 4x4)",
    )
    parser.add_argument(
        "--nam-threshold",
        type=float,
        default=0.1,
        help="NAM: count channels whose normalized scale is under this fraction of an equal share",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()
    if args.model is None and (args.pretrained or args.num_classes != 1000 or args.stem != "imagenet"):
        parser.error("--pretrained, --num-classes and --stem go with --model; a checkpoint knows its own")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if not args.nam_threshold > 0:
        parser.error("--nam-threshold must be above 0")

    maps = args.maps.split(",") if args.maps else None
    unknown = sorted(set(maps or ()) - set(MAPS))
    if unknown:
        parser.error(f"unknown --maps {', '.join(unknown)}; choose from {', '.join(MAPS)}")
    cli.set_up_process()
    paths = find_images(args.images)
    net, info = open_network(
        args.checkpoint,
        args.model,
        args.pretrained,
        args.num_classes,
        args.stem,
        args.input_size,
        args.pretrained_layout,
        args.trusted,
    )
    if args.model and not args.pretrained:
        print(f"{args.model}: random weights (no --pretrained given)", file=sys.stderr)
    result = write_report(
        net, info, paths, args.out, maps, args.target_class, args.cam_layer, args.nam_threshold, args.batch_size
    )
    for error in result["errors"]:
        print(f"error: {error}", file=sys.stderr)
    if result["errors"]:
        sys.exit(2)


if __name__ == "__main__":
    main()
