"""Export a checkpoint as a Paddle inference model (dynamic batch):
python tools/export.py --checkpoint output/run --out output/run/inference [--input-size 32]

Writes inference.json + inference.pdiparams (paddle.jit.save, input [N, 3, H, W] float32) and
model_info.json (network, preprocessing preset, image size, class names) for tools/infer.py.
H = W = the checkpoint's training image size unless --input-size is given.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from paddle_attn import cli  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory or run directory (its best checkpoint)")
    parser.add_argument("--out", required=True, help="directory for the exported model")
    parser.add_argument("--input-size", type=int, default=None, help="image height = width (default: the training size)")
    args = parser.parse_args()
    from paddle_attn.inference.export import export

    info = export(args.checkpoint, args.out, args.input_size)
    size = info["image_size"]
    print(f"exported {info['model']['name']} ({info['model']['num_classes']} classes) from {info['checkpoint']} "
          f"to {args.out}: input [N, 3, {size}, {size}], preprocessing {info['transform']!r}")


if __name__ == "__main__":
    cli.run(main)
