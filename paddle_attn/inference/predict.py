"""Top-k classes of image files, through an exported model (Paddle Inference) or a checkpoint.

Images get the evaluation pipeline, `build_transform(preset, train=False, image_size)`, after
conversion to RGB. Precision is fp32 unless bf16 is asked for, so every CPU gives the same numbers.
"""

import numpy as np
import paddle

from paddle_attn.checkpoint import load_model
from paddle_attn.data.images import load_image
from paddle_attn.data.transforms import build_transform
from paddle_attn.errors import DataError, InferenceError
from paddle_attn.inference.export import inference_info
from paddle_attn.inference.exported import export_files, read_info
from paddle_attn.inference.paddle_inference import PaddleInferenceRunner, runner_for_network


class ExportedModel:
    """An export directory run by Paddle Inference on the CPU with oneDNN kernels (see `inference_config`)."""

    def __init__(self, model_dir, threads=None, precision="fp32"):
        self.info = read_info(model_dir)
        self.runner = PaddleInferenceRunner(*export_files(model_dir), threads=threads, precision=precision)

    def __call__(self, images):
        return self.runner(images)


class CheckpointModel:
    """A checkpoint's network, eval mode, for inputs of `image_size` (default: the training size): exported
    on the fly to Paddle Inference with oneDNN (a few seconds, then ~2.4x faster), or in dygraph if `dygraph`."""

    def __init__(self, checkpoint, image_size=None, threads=None, precision="fp32", dygraph=False):
        self.net, state = load_model(checkpoint)
        self.info = inference_info(state, image_size)
        if dygraph and precision != "fp32":
            raise InferenceError(f"--dygraph runs in fp32 only, not {precision}")
        self.runner = None if dygraph else runner_for_network(self.net, self.info["image_size"], threads=threads,
                                                              precision=precision)

    def __call__(self, images):
        if self.runner is not None:
            return self.runner(images)
        with paddle.no_grad():
            return self.net(paddle.to_tensor(images)).numpy()


def open_model(model_dir=None, checkpoint=None, image_size=None, threads=None, precision="fp32", dygraph=False):
    """An `ExportedModel` (`model_dir`) or a `CheckpointModel` (`checkpoint`); logits = model(N x 3 x H x W).

    precision: "fp32" (default) or "bf16" (CPUs with AVX-512 BF16 or AMX; see `inference_config`).
    """
    if (model_dir is None) == (checkpoint is None):
        raise InferenceError("give an exported model directory or a checkpoint, not both or neither")
    if checkpoint is not None:
        return CheckpointModel(checkpoint, image_size, threads, precision, dygraph)
    if dygraph:
        raise InferenceError("an exported model runs through Paddle Inference only; --dygraph needs a checkpoint")
    exported = read_info(model_dir)["image_size"]
    if image_size is not None and image_size != exported:
        raise InferenceError(f"{model_dir!r} was exported for {exported}x{exported} inputs, not {image_size}x{image_size}: "
                             f"export it again with tools/export.py --input-size {image_size}, or predict from the checkpoint")
    return ExportedModel(model_dir, threads, precision)


def predict(model, paths, top_k=5, batch_size=16, class_names=None, progress=None):
    """`(predictions, errors)`: for each readable image {"image", "top_k": [{"class", "index",
    "probability"}]}, highest first; for each unreadable one the reason, naming the file.
    `progress(done, total)` is called after each batch."""
    info = model.info
    num_classes = info["model"]["num_classes"]
    names = class_names or info.get("class_names") or [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise DataError(f"{len(names)} class name(s) given for a model of {num_classes} classes")
    transform = build_transform(info["transform"], False, info["image_size"], info.get("mean"), info.get("std"))
    predictions, errors = [], []
    for start in range(0, len(paths), batch_size):
        batch, images = [], []
        for path in paths[start:start + batch_size]:
            try:
                images.append(transform(load_image(path)).astype("float32"))
                batch.append(path)
            except DataError as err:
                errors.append(str(err))
        if batch:
            probabilities = softmax(model(np.stack(images)))
            for path, row in zip(batch, probabilities):
                best = np.argsort(-row)[:top_k]
                predictions.append({"image": path, "top_k": [
                    {"class": names[i], "index": int(i), "probability": float(row[i])} for i in best]})
        if progress:
            progress(min(start + batch_size, len(paths)), len(paths))
    return predictions, errors


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
