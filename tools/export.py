"""Export a checkpoint for inference (dynamic batch), as Paddle's program and optionally as ONNX:
python tools/export.py --checkpoint output/run --out output/run/inference [--input-size 32] [--format onnx]
python tools/export.py --checkpoint output/run --out output/run/inference --format onnx --int8-calibration images/
python tools/export.py --checkpoint output/run --out output/run/inference --format safetensors

Writes inference.json + inference.pdiparams (paddle.jit.save, input [N, 3, H, W] float32) and
model_info.json (network, preprocessing preset, image size, class names) for tools/infer.py; with
--format onnx also model.onnx (paddle2onnx, opset 17) for --backend onnxruntime|openvino, and with
--int8-calibration model_int8.onnx, calibrated on those images, for --backend openvino --precision int8; with
--format safetensors also model.safetensors, the weights alone, for create_model(..., pretrained=...).
H = W = the checkpoint's training image size unless --input-size is given.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from paddle_attn import cli  # noqa: E402
from paddle_attn.inference.int8 import METHODS, TARGET_AGREEMENT  # noqa: E402


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
        "model_int8.onnx for OpenVINO's int8 (1 in 5 is held out to check it against fp32)",
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
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()
    if args.int8_calibration and args.format != "onnx":
        parser.error("--int8-calibration needs --format onnx")
    from paddle_attn.inference.write_export import export

    info = export(args.checkpoint, args.out, args.input_size, args.trusted, args.format == "safetensors")
    size = info["image_size"]
    print(
        f"exported {info['model']['name']} ({info['model']['num_classes']} classes) from {info['checkpoint']} "
        f"to {args.out}: input [N, 3, {size}, {size}], preprocessing {info['transform']!r}"
    )
    if args.format == "onnx":
        from paddle_attn.inference.onnx_conversion import export_onnx

        print(f"wrote {export_onnx(args.out)}")
    if args.int8_calibration:
        from paddle_attn.data.images import find_images
        from paddle_attn.inference.int8 import quantize_int8, read_int8_report
        from paddle_attn.inference.onnx_conversion import ONNX_FILE
        from paddle_attn.inference.predict import preprocess

        images, _, errors = preprocess(info, find_images(args.int8_calibration))
        for error in errors:
            print(f"skipped: {error}", file=sys.stderr)
        onnx_file = os.path.join(args.out, ONNX_FILE)
        written = quantize_int8(
            onnx_file, images, method=args.int8_method, target_agreement=args.int8_target, progress=cli.say
        )
        report = read_int8_report(onnx_file)
        print(
            f"wrote {written} ({report['method']}, calibrated on {report['calibration_images']} images; top-1 "
            f"agreement with fp32 {report['agreement']:.1%} on {report['holdout_images']} held-out images, target "
            f"{report['target_agreement']:.1%}{'' if report['met'] else ' NOT met'}; fp32: "
            f"{', '.join(report['fp32_layers'])})"
        )


if __name__ == "__main__":
    main()
