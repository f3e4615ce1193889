"""A learnable stand-in for CIFAR-10, written in CIFAR's python tar.gz format so the real CIFAR code path reads it.

Ten classes: five shapes (disc, square, triangle, cross, ring) in two colour families (warm, cool),
each at a random position, size and shade on a noisy background. Deterministic for a given seed.
"""

import io
import json
import os
import pickle
import tarfile

import numpy as np
from PIL import Image

SHAPES = ("disc", "square", "triangle", "cross", "ring")
CLASS_NAMES = tuple(f"{tone}_{shape}" for tone in ("warm", "cool") for shape in SHAPES)
SIZE = 32
META_MEMBER = "synthetic-cifar/meta.json"  # the parameters a file was made with, first in the archive


def _shape_mask(shape, cy, cx, r):
    y, x = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    dy, dx = y - cy, x - cx
    if shape == "disc":
        return dy**2 + dx**2 <= r**2
    if shape == "square":
        return (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
    if shape == "triangle":
        return (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    if shape == "cross":
        return ((np.abs(dy) <= r * 0.3) & (np.abs(dx) <= r)) | ((np.abs(dx) <= r * 0.3) & (np.abs(dy) <= r))
    return (dy**2 + dx**2 <= r**2) & (dy**2 + dx**2 >= (r * 0.55) ** 2)  # ring


def make_images(count_per_class, seed, with_boxes=False):
    """(images (N, 32, 32, 3) uint8, labels (N,)) with classes interleaved; with `with_boxes`, also
    boxes (N, 4) int: each shape's drawn pixels span rows y0:y1 and columns x0:x1 of (y0, x0, y1, x1)."""
    rng = np.random.default_rng(seed)
    n = count_per_class * len(CLASS_NAMES)
    labels = np.arange(n) % len(CLASS_NAMES)
    images = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    boxes = np.empty((n, 4), dtype=np.int64)
    for i, label in enumerate(labels):
        tone, shape = divmod(label, len(SHAPES))
        background = rng.normal(110, 40, (SIZE, SIZE, 3))
        r = rng.uniform(6, 11)
        cy, cx = rng.uniform(r, SIZE - r, size=2)
        warm = rng.uniform([180, 40, 0], [255, 140, 60])
        colour = warm if tone == 0 else warm[::-1]  # cool: the warm colour with red and blue swapped
        mask = _shape_mask(SHAPES[shape], cy, cx, r)
        background[mask] = colour
        images[i] = np.clip(background, 0, 255).astype(np.uint8)
        rows, columns = np.nonzero(mask)
        boxes[i] = rows.min(), columns.min(), rows.max() + 1, columns.max() + 1
    return (images, labels, boxes) if with_boxes else (images, labels)


def write_synthetic_cifar(path, train_per_class=200, test_per_class=50, seed=0):
    """Write the data set to `path` (CIFAR-10 layout: data_batch_1, test_batch) unless a file made with the same
    parameters is there; a file made with other ones (or not by this function) is replaced. Returns path."""
    params = {"train_per_class": train_per_class, "test_per_class": test_per_class, "seed": seed}
    if os.path.exists(path):
        made_with = read_parameters(path)
        if made_with == params:
            return path
        print(
            f"regenerating {path}: it was made with {made_with or 'unknown parameters'}, the config asks for {params}"
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with tarfile.open(tmp, "w:gz") as tar:
        _add_member(tar, META_MEMBER, json.dumps(params).encode())
        for member, count, part_seed in (
            ("data_batch_1", train_per_class, seed),
            ("test_batch", test_per_class, seed + 1),
        ):
            images, labels = make_images(count, part_seed)
            batch = {b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1), b"labels": labels.tolist()}
            _add_member(tar, f"synthetic-cifar/{member}", pickle.dumps(batch))
    os.replace(tmp, path)  # a half-written file never carries the final name
    return path


def write_image_files(folder, count_per_class, seed):
    """`make_images(count_per_class, seed)` as PNG files `<index>_<class name>.png` in `folder` (its earlier PNG files
    removed, so a rerun shows only these), for tools that read image files; returns (paths, labels)."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".png"):
            os.remove(os.path.join(folder, name))
    images, labels = make_images(count_per_class, seed)
    paths = [os.path.join(folder, f"{index:02d}_{CLASS_NAMES[label]}.png") for index, label in enumerate(labels)]
    for path, image in zip(paths, images, strict=True):
        Image.fromarray(image).save(path)
    return paths, labels


def read_parameters(path):
    """The parameters the file at `path` was generated with, or None if it holds none (another file, an old one)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != META_MEMBER:
                return None
            return json.loads(tar.extractfile(first).read())
    except (OSError, tarfile.TarError, ValueError):
        return None


def _add_member(tar, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))
