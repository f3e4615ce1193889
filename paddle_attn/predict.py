"""Top-k classes of image files, through an exported model (Paddle Inference) or a checkpoint.

Images get the evaluation pipeline, `build_transform(preset, train=False, image_size)`, after
conversion to RGB; both presets resize to image_size x image_size.
"""

import contextlib
import ctypes
import os
import sys

import numpy as np
import paddle

from paddle_attn.checkpoint import load_model
from paddle_attn.data.datasets import IMAGE_EXTENSIONS, DataError, load_image
from paddle_attn.data.transforms import build_transform
from paddle_attn.export import model_files, model_info, read_info


class ExportedModel:
    """An export directory run by Paddle Inference on the CPU with oneDNN kernels."""

    def __init__(self, model_dir, threads=1):
        self.info = read_info(model_dir)
        config = paddle.inference.Config(*model_files(model_dir))
        config.disable_gpu()
        config.enable_mkldnn()  # oneDNN
        config.set_cpu_math_library_num_threads(threads)
        config.disable_glog_info()
        self.predictor = paddle.inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])
        size = self.info["image_size"]
        with _stdout_to_stderr():  # the first run's oneDNN kernel checks print debug lines on stdout
            self(np.zeros((1, 3, size, size), dtype="float32"))

    def __call__(self, images):
        self.input.reshape(list(images.shape))
        self.input.copy_from_cpu(images)
        self.predictor.run()
        return self.output.copy_to_cpu()


class CheckpointModel:
    """A checkpoint's network in dygraph, eval mode, for inputs of `image_size` (default: the training size)."""

    def __init__(self, checkpoint, image_size=None):
        self.net, state = load_model(checkpoint)
        self.info = model_info(state, image_size)

    def __call__(self, images):
        with paddle.no_grad():
            return self.net(paddle.to_tensor(images)).numpy()


def open_model(model_dir=None, checkpoint=None, image_size=None, threads=1):
    """An `ExportedModel` (`model_dir`) or a `CheckpointModel` (`checkpoint`); logits = model(N x 3 x H x W)."""
    if (model_dir is None) == (checkpoint is None):
        raise ValueError("give an exported model directory or a checkpoint, not both or neither")
    if checkpoint is not None:
        return CheckpointModel(checkpoint, image_size)
    exported = read_info(model_dir)["image_size"]
    if image_size is not None and image_size != exported:
        raise ValueError(f"{model_dir!r} was exported for {exported}x{exported} inputs, not {image_size}x{image_size}: "
                         f"export it again with tools/export.py --input-size {image_size}, or predict from the checkpoint")
    return ExportedModel(model_dir, threads)


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


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what C++ code writes to file descriptor 1 to descriptor 2 meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers what it writes to a pipe
        os.dup2(saved, 1)
        os.close(saved)
