"""Export a checkpoint for inference (dynamic batch), as Paddle's program and optionally as ONNX:
python tools/export.py --checkpoint output/run --out output/run/inference [--input-size 32] [--format onnx]
python tools/export.py --checkpoint output/run --out output/run/inference --format onnx --int8-calibration images/ \
    --int8-holdout other_images/
python tools/export.py --checkpoint output/run --out output/run/inference --format safetensors

Writes inference.json + inference.pdiparams (paddle.jit.save, input [N, 3, H, W] float32) and
model_info.json (network, preprocessing preset, image size, class names) for tools/infer.py; with
--format onnx also model.onnx (paddle2onnx, opset 17) for --backend onnxruntime|openvino, and with
--int8-calibration model_int8.onnx, calibrated on those images (checked on the --int8-holdout ones), for --backend openvino --precision int8; with
--format safetensors also model.safetensors, the weights alone, for create_model(..., pretrained=...).
H = W = the checkpoint's training image size unless --input-size is given.
"""

import argparse
import os
import sys

from paddle_attn import cli
from paddle_attn.data.images import find_images
from paddle_attn.inference.int8 import METHODS, TARGET_AGREEMENT, int8_summary, quantize_int8, read_int8_report
from paddle_attn.inference.onnx_conversion import ONNX_FILE, export_onnx
from paddle_attn.inference.predict import preprocess
from paddle_attn.inference.write_export import export


def build_parser():
    """The command line (checks across options are in `main`); tests read it to check README commands."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--checkpoint", required=True, help="checkpoint directory or run directory (its best checkpoint)"
    )
    parser.add_argument("--out", required=True, help="directory for the exported model")
    parser.add_argument(
        "--input-size", type=int, default=None, help="image height = width (default: the training size)"
    )
    parser.add_argument(
        "--format",
        default="paddle",
        choices=("paddle", "onnx", "safetensors"),
        help='paddle: Paddle\'s program only; onnx: also model.onnx (pip install -e ".[onnx]"); '
        "safetensors: also model.safetensors (weights only, safe for anyone to open)",
    )
    parser.add_argument("--trusted", action="store_true", help=cli.TRUSTED_HELP)
    parser.add_argument(
        "--int8-calibration",
        nargs="+",
        metavar="IMAGES",
        help="with --format onnx: image files or folders (a few hundred training images) to calibrate "
        "model_int8.onnx for OpenVINO's int8",
    )
    parser.add_argument(
        "--int8-holdout",
        nargs="+",
        metavar="IMAGES",
        help="with --int8-calibration: image files or folders of other training images (1,000 or more: 5 flips "
        "at 99.5 %%) to check int8 against fp32; default: 1 in 5 calibration images, too few to resolve the target",
    )
    parser.add_argument(
        "--int8-method",
        default="auto",
        choices=METHODS,
        help="int8 recipe: auto (each one, the one closer to fp32 on the held-out images kept; nncf needs "
        'pip install -e ".[int8]"), onnxruntime or nncf',
    )
    parser.add_argument(
        "--int8-target",
        type=float,
        default=TARGET_AGREEMENT,
        help="top-1 agreement with fp32 on the held-out images below which convolutions go back to fp32 "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--int8-max-fp32",
        type=int,
        default=None,
        metavar="CONVS",
        help="at most this many convolutions go back to fp32 (default: a quarter of them; more costs int8's speed)",
    )
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()
    if args.int8_calibration and args.format != "onnx":
        parser.error("--int8-calibration needs --format onnx")
    if args.int8_holdout and not args.int8_calibration:
        parser.error("--int8-holdout needs --int8-calibration")

    info = export(args.checkpoint, args.out, args.input_size, args.trusted, args.format == "safetensors")
    size = info["image_size"]
    print(
        f"exported {info['model']['name']} ({info['model']['num_classes']} classes) from {info['checkpoint']} "
        f"to {args.out}: input [N, 3, {size}, {size}], preprocessing {info['transform']!r}"
    )
    if args.format == "onnx":
        print(f"wrote {export_onnx(args.out)}")
    if args.int8_calibration:
        images, read, errors = preprocess(info, find_images(args.int8_calibration))
        holdout = None
        if args.int8_holdout:
            holdout, held, holdout_errors = preprocess(info, find_images(args.int8_holdout))
            errors += holdout_errors
            shared = {os.path.realpath(p) for p in read} & {os.path.realpath(p) for p in held}
            if shared:
                parser.error(f"--int8-holdout shares {len(shared)} images with --int8-calibration: use other images")
        for error in errors:
            print(f"skipped: {error}", file=sys.stderr)
        onnx_file = os.path.join(args.out, ONNX_FILE)
        written = quantize_int8(
            onnx_file,
            images,
            method=args.int8_method,
            target_agreement=args.int8_target,
            progress=cli.say,
            holdout_images=holdout,
            max_fp32_convs=args.int8_max_fp32,
        )
        print(f"wrote {written} ({int8_summary(read_int8_report(onnx_file))})")


if __name__ == "__main__":
    main()
