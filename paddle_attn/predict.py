"""Top-k classes of image files, through an exported model (Paddle Inference) or a checkpoint.

Images get the evaluation pipeline, `build_transform(preset, train=False, image_size)`, after
conversion to RGB; every evaluation preset ends in image_size x image_size.
"""

import os

import numpy as np
import paddle

from paddle_attn.acceleration import create_predictor, export_predictor
from paddle_attn.checkpoint import load_model
from paddle_attn.data.datasets import IMAGE_EXTENSIONS, DataError, load_image
from paddle_attn.data.transforms import build_transform
from paddle_attn.export import model_files, model_info, read_info


class ExportedModel:
    """An export directory run by Paddle Inference on the CPU with oneDNN kernels (`acceleration.inference_config`)."""

    def __init__(self, model_dir, threads=None, precision="auto"):
        self.info = read_info(model_dir)
        self.predictor = create_predictor(*model_files(model_dir), threads=threads, precision=precision)

    def __call__(self, images):
        return self.predictor(images)


class CheckpointModel:
    """A checkpoint's network, eval mode, for inputs of `image_size` (default: the training size): exported
    on the fly to Paddle Inference with oneDNN (a few seconds, then ~2.4x faster), or in dygraph if `dygraph`."""

    def __init__(self, checkpoint, image_size=None, threads=None, precision="auto", dygraph=False):
        self.net, state = load_model(checkpoint)
        self.info = model_info(state, image_size)
        self.net.eval()
        self.predictor = None if dygraph else export_predictor(self.net, self.info["image_size"], threads=threads,
                                                              precision=precision)

    def __call__(self, images):
        if self.predictor is not None:
            return self.predictor(images)
        with paddle.no_grad():
            return self.net(paddle.to_tensor(images)).numpy()


def open_model(model_dir=None, checkpoint=None, image_size=None, threads=None, precision="auto", dygraph=False):
    """An `ExportedModel` (`model_dir`) or a `CheckpointModel` (`checkpoint`); logits = model(N x 3 x H x W).

    precision: "fp32", "bf16" or "auto" (bf16 where the CPU computes it natively, see `inference_config`).
    """
    if (model_dir is None) == (checkpoint is None):
        raise ValueError("give an exported model directory or a checkpoint, not both or neither")
    if checkpoint is not None:
        return CheckpointModel(checkpoint, image_size, threads, precision, dygraph)
    if dygraph:
        raise ValueError("an exported model runs through Paddle Inference only; --dygraph needs a checkpoint")
    exported = read_info(model_dir)["image_size"]
    if image_size is not None and image_size != exported:
        raise ValueError(f"{model_dir!r} was exported for {exported}x{exported} inputs, not {image_size}x{image_size}: "
                         f"export it again with tools/export.py --input-size {image_size}, or predict from the checkpoint")
    return ExportedModel(model_dir, threads, precision)


def find_images(paths):
    """Image files named by `paths`: files as given, folders searched recursively for image extensions."""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
        elif os.path.isdir(path):
            inside = sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in names
                            if name.lower().endswith(IMAGE_EXTENSIONS))
            if not inside:
                raise DataError(f"folder {path!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            found += inside
        else:
            raise FileNotFoundError(f"image path {path!r} does not exist")
    return found


def read_labels(path):
    """Class names from a text file, one per line."""
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f"labels file {path!r} holds no class names")
    return names


def predict(model, paths, top_k=5, batch_size=16, class_names=None):
    """`(predictions, errors)`: for each readable image {"image", "top_k": [{"class", "index",
    "probability"}]}, highest first; for each unreadable one the reason, naming the file."""
    info = model.info
    num_classes = info["model"]["num_classes"]
    names = class_names or info.get("class_names") or [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class name(s) given for a model of {num_classes} classes")
    size = info["image_size"]
    transform = build_transform(info["transform"], False, size, info.get("mean"), info.get("std"))
    predictions, errors = [], []
    for start in range(0, len(paths), batch_size):
        batch, images = [], []
        for path in paths[start:start + batch_size]:
            try:
                images.append(transform(load_image(path)).astype("float32"))
                batch.append(path)
            except DataError as err:
                errors.append(str(err))
        if not batch:
            continue
        probabilities = softmax(model(np.stack(images)))
        for path, row in zip(batch, probabilities):
            best = np.argsort(-row)[:top_k]
            predictions.append({"image": path, "top_k": [
                {"class": names[i], "index": int(i), "probability": float(row[i])} for i in best]})
    return predictions, errors


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
