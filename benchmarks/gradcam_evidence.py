"""Does Grad-CAM point at the evidence? On the quick start's generated test shapes, the share of images whose
mean Grad-CAM inside the shape's box is at least twice the mean outside it (the generator knows the boxes).

python benchmarks/gradcam_evidence.py [--run output/quickstart]
Trains the quick start into --run first if it holds no checkpoint (about 5 minutes on 2 cores). Prints the
share for the predicted and the true class through each ResNet stage and through "auto" (tools/visualize.py's
default), with the median inside/outside ratio; exits 1 if "auto" on the predicted class stays under half.
"""

import argparse
import os
import sys

import numpy as np
import paddle

from paddle_attn.analysis import gates as am
from paddle_attn.analysis import gradcam
from paddle_attn.checkpoint import find_latest
from paddle_attn.config import load_config
from paddle_attn.cpu import apply_cpu_settings
from paddle_attn.data.preprocessing import inference_info
from paddle_attn.data.synthetic import make_images
from paddle_attn.data.transforms import build_transform
from paddle_attn.training import train
from paddle_attn.weights import load_model

RATIO = 2.0
TEST_SEED = 1  # write_synthetic_cifar draws the test split with seed + 1, and the data sets use seed 0


def test_split(data, transform):
    """The run's test images as the evaluation sees them, their labels and the boxes of their shapes."""
    dataset = paddle.vision.datasets.Cifar10(
        data_file=data["data_file"], mode="test", transform=transform, download=False
    )
    images, labels, boxes = make_images(data["synthetic_test_per_class"], TEST_SEED, with_boxes=True)
    stored = np.stack([flat for flat, _ in dataset.data])
    if not np.array_equal(stored, images.transpose(0, 3, 1, 2).reshape(len(images), -1)):
        raise SystemExit(f"{data['data_file']} does not hold the images make_images draws: the boxes would not fit")
    return np.stack([dataset[i][0] for i in range(len(dataset))]).astype("float32"), labels, boxes


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="output/quickstart")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    apply_cpu_settings()  # as tools/*.py do, before the first conv
    if find_latest(args.run) is None:
        print(f"{args.run} holds no checkpoint: training the quick start there first")
        train(load_config("quickstart", [f"run.output_dir={args.run}", "train.verbose=0"]))
    config = load_config(os.path.join(args.run, "config.yaml"), saved_run=True)
    if config["data"]["dataset"] != "synthetic":
        raise SystemExit(f"{args.run} did not train on the synthetic shapes: no boxes to compare with")
    net, state = load_model(args.run)
    info = inference_info(state)
    images, labels, boxes = test_split(
        config["data"], build_transform(info["transform"], False, info["image_size"], info["mean"], info["std"])
    )
    print(f"{state['model']['name']} epoch {state['epoch']}, {len(images)} test images at {info['image_size']} px")
    shares = {}
    for layer in ("auto",) + am.STAGES:
        for name in ("predicted", "true"):
            ratios, used, correct = [], None, []
            for start in range(0, len(images), args.batch_size):
                batch = slice(start, start + args.batch_size)
                maps = am.attention_maps(net, images[batch], labels[batch] if name == "true" else None, layer)
                cams = maps.cam if name == "predicted" else maps.target_cam
                ratios.append(gradcam.box_ratios(cams, boxes[batch]))
                correct.append(maps.predicted == labels[batch])
                used = f"{maps.cam_layer} {maps.cam_size[0]}x{maps.cam_size[1]}"
            ratios = np.concatenate(ratios)
            shares[layer, name] = share = float(np.mean(ratios >= RATIO))
            print(
                f"Grad-CAM through {layer:6s} ({used}, {name:9s} class): inside >= {RATIO:g}x outside on {share:6.1%} "
                f"of images, median ratio {np.median(ratios):.2f}; top-1 {np.mean(np.concatenate(correct)):.3f}"
            )
    sys.exit(0 if shares["auto", "predicted"] >= 0.5 else 1)
