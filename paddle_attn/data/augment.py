"""Random augmentation steps that draw from a generator they are handed, never from a global random state.

A sample's generator is `sample_rng(seed, epoch, index)`: its crops and flips are a function of those three,
whichever process reads it, in whatever order, after however many other samples (a mid-epoch resume, any
number of loader workers, any number of data-parallel ranks see the same). Each step draws its parameters
as Paddle's own transform of the same name does (paddle.vision.transforms, Paddle 3.3) and applies them
with paddle.vision.transforms.functional.
"""

import math

import numpy as np
import paddle.vision.transforms.functional as F


def sample_rng(seed, epoch, index):
    """The generator of sample `index`'s augmentation in epoch `epoch` of a run seeded `seed`."""
    return np.random.default_rng(np.random.SeedSequence([seed % 2**32, epoch, index]))


class RandomStep:
    """A step of a `Pipeline` that draws from the generator it is called with: `step(img, rng)`."""

    def __call__(self, img, rng):
        raise NotImplementedError


class Pipeline:
    """Steps applied in order; `RandomStep`s get the sample's generator, the others the image alone."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    @property
    def is_random(self):
        return any(isinstance(step, RandomStep) for step in self.transforms)

    def __call__(self, img, rng=None):
        if rng is None and self.is_random:
            raise ValueError("a random pipeline needs the sample's generator (augment.sample_rng)")
        for step in self.transforms:
            img = step(img, rng) if isinstance(step, RandomStep) else step(img)
        return img


class RandomApply(RandomStep):
    """Apply `transform` (a RandomStep) with probability `p`."""

    def __init__(self, transform, p=0.5):
        self.transform, self.p = transform, p

    def __call__(self, img, rng):
        return self.transform(img, rng) if rng.random() < self.p else img


class RandomCrop(RandomStep):
    """Zero-pad by `padding` on every side, then a `size` x `size` window at a uniformly drawn offset."""

    def __init__(self, size, padding=0):
        self.size, self.padding = (size, size), padding

    def __call__(self, img, rng):
        if self.padding:
            img = F.pad(img, self.padding)
        width, height = _size(img)
        th, tw = self.size
        top, left = int(rng.integers(0, height - th + 1)), int(rng.integers(0, width - tw + 1))
        return F.crop(img, top, left, th, tw)


class RandomHorizontalFlip(RandomStep):
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img, rng):
        return F.hflip(img) if rng.random() < self.p else img


class RandomBrightness(RandomStep):
    """Brightness times a factor uniform in [1 - value, 1 + value] (Paddle's BrightnessTransform)."""

    def __init__(self, value):
        self.value = value

    def __call__(self, img, rng):
        return F.adjust_brightness(img, rng.uniform(max(0.0, 1 - self.value), 1 + self.value))


class RandomContrast(RandomStep):
    """Contrast times a factor uniform in [1 - value, 1 + value] (Paddle's ContrastTransform)."""

    def __init__(self, value):
        self.value = value

    def __call__(self, img, rng):
        return F.adjust_contrast(img, rng.uniform(max(0.0, 1 - self.value), 1 + self.value))


class RandomRotation(RandomStep):
    """Rotation by an angle uniform in [-degrees, degrees], nearest-neighbour, corners filled with 0."""

    def __init__(self, degrees):
        self.degrees = degrees

    def __call__(self, img, rng):
        return F.rotate(img, rng.uniform(-self.degrees, self.degrees), "nearest")


class RandomResizedCrop(RandomStep):
    """A crop of a random share of the area (`scale`) and aspect ratio (`ratio`, drawn log-uniformly), resized
    to `size`; after 10 draws that do not fit, the center crop of the nearest allowed ratio (Paddle's
    RandomResizedCrop, after Szegedy et al. 2015)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation="bilinear"):
        self.size, self.scale, self.ratio, self.interpolation = (size, size), scale, ratio, interpolation

    def __call__(self, img, rng):
        top, left, height, width = self.window(img, rng)
        return F.resize(F.crop(img, top, left, height, width), self.size, self.interpolation)

    def window(self, img, rng, attempts=10):
        width, height = _size(img)
        area, log_ratio = width * height, (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(attempts):
            target = rng.uniform(*self.scale) * area
            aspect = math.exp(rng.uniform(*log_ratio))
            w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            w, h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            w, h = int(round(height * max(self.ratio))), height
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w


def _size(img):
    """(width, height) of a PIL image or an HWC array."""
    return img.size if hasattr(img, "size") and not isinstance(img, np.ndarray) else (img.shape[1], img.shape[0])
