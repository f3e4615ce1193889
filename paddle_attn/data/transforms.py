"""Image pipelines by preset name: the tutorials' "cifar" (NAM) and "imagenet" (EPSANet), the ImageNet papers'
"imagenet_train" (random resized crop + flip) and "imagenet_eval" (shorter side 256, center crop 224), and
the CIFAR papers' "cifar_crop_flip" (training only)."""

import math

import numpy as np
import paddle.vision.transforms as T

from paddle_attn.data import augment as A
from paddle_attn.errors import ConfigError

CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.1942, 0.1918, 0.1958)  # NAM tutorial
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # EPSANet tutorial
PRESETS = {
    "cifar": (CIFAR100_MEAN, CIFAR100_STD),
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "imagenet_train": (IMAGENET_MEAN, IMAGENET_STD),
    "imagenet_eval": (IMAGENET_MEAN, IMAGENET_STD),
    "cifar_crop_flip": (CIFAR100_MEAN, CIFAR100_STD),
}
TRAIN_PRESETS = ("cifar", "imagenet", "imagenet_train", "cifar_crop_flip")  # presets a training split can use
EVAL_PRESETS = ("cifar", "imagenet", "imagenet_eval")
BOTH_SPLITS_PRESETS = tuple(name for name in TRAIN_PRESETS if name in EVAL_PRESETS)  # data.transform: both splits
EVAL_CROP_FRACTION = 0.875  # center 224 of 256: the evaluation crop of ResNet (He et al. 2016) and its successors
# the evaluation pipeline and input size a stem implies, for weights that name none (converted ones)
STEM_EVAL_PIPELINES = {"cifar": ("cifar", 32), "imagenet": ("imagenet_eval", 224)}


class ResizeTo:
    """Resize to (size, size) unless the image already has that size (CIFAR's 32x32 pass through untouched)."""

    def __init__(self, size):
        self.size, self.resize = size, T.Resize((size, size))

    def __call__(self, img):
        return img if getattr(img, "size", None) == (self.size, self.size) else self.resize(img)


class ToCHWFloat:
    """HWC image (PIL or uint8 array) to a CHW float32 array in [0, 1]."""

    def __call__(self, img):
        arr = np.asarray(img, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return np.ascontiguousarray(arr.transpose(2, 0, 1)) / 255.0


def split_presets(data):
    """`(training, evaluation)` preset names of a config's `data` section: `train_transform` and
    `eval_transform`, each `transform` when not set."""
    return data.get("train_transform") or data["transform"], data.get("eval_transform") or data["transform"]


def build_transform(preset, train, image_size=None, mean=None, std=None):
    """The pipeline of `preset` for training (`train=True`) or evaluation and prediction.

    "cifar": NAM tutorial; training adds random crop 32 pad 4, brightness and contrast 0.1
    (each with p=0.5), horizontal flip and rotation 15 degrees. "imagenet": resize to `image_size`
    (224, EPSANet tutorial), the same for training and evaluation. "imagenet_train" (whatever `train`):
    a random crop of 8-100% of the area and aspect ratio 3/4-4/3 resized to `image_size` (bilinear), then a
    horizontal flip with p=0.5. "imagenet_eval" (whatever `train`): the shorter side resized (bilinear) to
    `image_size / 0.875` (256 for 224), then the center `image_size` square. All end in CHW float32
    normalized by the preset's mean/std unless others are given. "cifar_crop_flip" (whatever `train`): random
    crop 32 pad 4 and horizontal flip only, the standard CIFAR augmentation (He et al. 2016; NAM's authors).
    An `augment.Pipeline`: its random steps draw from the generator it is called with, `pipeline(img, rng)`.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown transform preset {preset!r}; choose one of {', '.join(PRESETS)}")
    mean = mean or PRESETS[preset][0]
    std = std or PRESETS[preset][1]
    tail = [ToCHWFloat(), T.Normalize(mean, std)]
    if preset in ("cifar", "cifar_crop_flip"):
        size = image_size or 32
        head = [ResizeTo(size)]  # images of a folder or file list come in any size
        if preset == "cifar_crop_flip":
            head += [A.RandomCrop(size, padding=4), A.RandomHorizontalFlip()]
        elif train:
            head += [
                A.RandomCrop(size, padding=4),
                A.RandomApply(A.RandomBrightness(0.1)),
                A.RandomApply(A.RandomContrast(0.1)),
                A.RandomHorizontalFlip(),
                A.RandomRotation(15),
            ]
        return A.Pipeline(head + tail)
    size = image_size or 224
    if preset == "imagenet_train":
        head = [
            A.RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation="bilinear"),
            A.RandomHorizontalFlip(),
        ]
    elif preset == "imagenet_eval":
        head = [T.Resize(math.floor(size / EVAL_CROP_FRACTION), interpolation="bilinear"), T.CenterCrop(size)]
    else:
        head = [ResizeTo(size)]
    return A.Pipeline(head + tail)
