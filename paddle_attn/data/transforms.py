"""The tutorials' image pipelines, by preset name: "cifar" (NAM tutorial) and "imagenet" (EPSANet tutorial)."""

import random

import numpy as np
import paddle.vision.transforms as T

from paddle_attn.errors import ConfigError

CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.1942, 0.1918, 0.1958)  # NAM tutorial
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)       # EPSANet tutorial
PRESETS = {"cifar": (CIFAR100_MEAN, CIFAR100_STD), "imagenet": (IMAGENET_MEAN, IMAGENET_STD)}
# the evaluation pipeline (preset, image size) of weights that name only their stem, e.g. converted ones
STEM_PIPELINES = {"cifar": ("cifar", 32), "imagenet": ("imagenet", 224)}


class RandomApply:
    """Apply `transform` with probability `p`."""

    def __init__(self, transform, p=0.5):
        self.transform, self.p = transform, p

    def __call__(self, img):
        return self.transform(img) if random.random() < self.p else img


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


def build_transform(preset, train, image_size=None, mean=None, std=None):
    """The pipeline of `preset` for training (`train=True`) or evaluation and prediction.

    "cifar": NAM tutorial; training adds random crop 32 pad 4, brightness and contrast 0.1
    (each with p=0.5), horizontal flip and rotation 15 degrees. "imagenet": resize to `image_size`
    (224, EPSANet tutorial), the same for training and evaluation. Both end in CHW float32
    normalized by the preset's mean/std unless others are given.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown transform preset {preset!r}; choose one of {', '.join(PRESETS)}")
    mean = mean or PRESETS[preset][0]
    std = std or PRESETS[preset][1]
    tail = [ToCHWFloat(), T.Normalize(mean, std)]
    if preset == "cifar":
        size = image_size or 32
        head = [ResizeTo(size)]  # images of a folder or file list come in any size
        if train:
            head += [
                T.RandomCrop(size, padding=4),
                RandomApply(T.BrightnessTransform(0.1)),
                RandomApply(T.ContrastTransform(0.1)),
                T.RandomHorizontalFlip(),
                T.RandomRotation(15),
            ]
        return T.Compose(head + tail)
    return T.Compose([ResizeTo(image_size or 224)] + tail)
