"""Top-k classes of images, with the evaluation preprocessing:
python tools/infer.py --model output/run/inference photos/ cat.png [--top-k 5] [--json out.json]
python tools/infer.py --checkpoint output/run cat.png [--input-size 64]

--model: an export of tools/export.py, run by Paddle Inference (oneDNN on the CPU, fp32 unless
--precision bf16, which needs a CPU with AVX-512 BF16 or AMX); --checkpoint: the network, exported on the fly to Paddle
Inference (--dygraph: run in Paddle's dygraph instead). Folders are searched recursively for images. Class names:
--labels (one per line), else the model's (CIFAR-10/100 built in), else class indices.
Prints one line per image; unreadable files are named on stderr and make the exit status 2.
"""

import argparse
import json
import sys
import time

from paddle_attn import cli
from paddle_attn.data.class_names import read_class_names
from paddle_attn.data.images import find_images
from paddle_attn.inference import predict


def build_parser():
    """The command line (checks across options are in `main`); tests read it to check README commands."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", help="image files or folders")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="exported model directory (tools/export.py)")
    source.add_argument("--checkpoint", help="checkpoint directory or run directory (its best checkpoint)")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--labels", help="text file of class names, one per line, in label order")
    parser.add_argument("--input-size", type=int, default=None, help="image height = width (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: every core)")
    parser.add_argument(
        "--backend",
        default="paddle",
        choices=("paddle", "onnxruntime", "openvino"),
        help="paddle: Paddle Inference with oneDNN (default); onnxruntime, openvino: the export's "
        "model.onnx (tools/export.py --format onnx; a checkpoint is exported on the fly)",
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16", "int8"),
        help="default fp32, the same numbers on every CPU; bf16 on CPUs with AVX-512 BF16 or AMX "
        "(paddle, openvino); int8 with openvino after tools/export.py --int8-calibration",
    )
    parser.add_argument(
        "--dygraph", action="store_true", help="with --checkpoint: no Paddle Inference, Paddle's dygraph"
    )
    parser.add_argument("--trusted", action="store_true", help=cli.TRUSTED_HELP)
    parser.add_argument("--json", help="also write the predictions to this JSON file")
    return parser


@cli.command
def main():
    parser = build_parser()
    args = parser.parse_args()
    if args.top_k < 1 or args.batch_size < 1:
        parser.error("--top-k and --batch-size must be at least 1")
    threads = cli.set_up_process(args.threads)["threads"]

    paths = find_images(args.images)
    labels = read_class_names(args.labels) if args.labels else None
    model = predict.open_model(
        args.model, args.checkpoint, args.input_size, threads, args.precision, args.dygraph, args.backend, args.trusted
    )
    start = time.perf_counter()
    progress = cli.progress_printer("predicted", "images") if len(paths) > 4 * args.batch_size else None
    predictions, errors = predict.predict(model, paths, args.top_k, args.batch_size, labels, progress)
    seconds = time.perf_counter() - start
    for item in predictions:
        print(f"{item['image']}: " + ", ".join(f"{top['class']} {top['probability']:.4f}" for top in item["top_k"]))
    print(
        f"{len(predictions)} image(s) in {seconds:.2f} s ({len(predictions) / seconds:.1f} images/s, "
        f"{model.info['image_size']}x{model.info['image_size']} input)",
        file=sys.stderr,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": model.info["model"], "predictions": predictions, "errors": errors}, f, indent=2)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        sys.exit(2)


if __name__ == "__main__":
    main()
