"""How close an int8 graph's logits come to fp32's on held-out images, run as `--precision int8` runs it: OpenVINO,
fp32 for what is not quantized; and how much they move fp32's near-ties, the images int8 can flip."""

import os
import tempfile

import numpy as np

from paddle_attn.inference.backend_options import import_backend

_BATCH = 50


def openvino_logits(model, images, threads=None):
    """Logits of an onnx.ModelProto under OpenVINO's CPU plugin (f32 precision hint) on float32 NCHW `images`."""
    ov = import_backend("openvino", "openvino")
    with tempfile.TemporaryDirectory(prefix="int8_holdout_") as tmp:
        path = os.path.join(tmp, "model.onnx")
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        network = ov.Core().read_model(path)
    batch = min(_BATCH, len(images))
    network.reshape([batch, *images.shape[1:]])
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    request = ov.Core().compile_model(network, "CPU", config).create_infer_request()
    padded = np.concatenate([images, images[: (-len(images)) % batch]])  # whole batches: one compiled shape
    out = [request.infer({0: padded[i : i + batch]})[0].copy() for i in range(0, len(padded), batch)]
    return np.concatenate(out)[: len(images)]


def closeness(logits, reference):
    """{"agreement": share of images with fp32's top-1 class, "flips": count of images without it, "logit_error":
    mean over images of the largest logit difference relative to the image's largest fp32 logit}: the error decides
    between recipes when the flips tie."""
    agree = logits.argmax(1) == reference.argmax(1)
    scale = np.maximum(np.abs(reference).max(1), 1e-12)
    error = float(np.mean(np.abs(logits - reference).max(1) / scale))
    return {"agreement": float(np.mean(agree)), "flips": int((~agree).sum()), "logit_error": error}


def _top1_margin(logits, classes):
    """Per image: the logit of `classes` (fp32's top-1) minus the largest other logit; below 0, the class flipped."""
    rows = np.arange(len(logits))
    chosen = logits[rows, classes]
    others = logits.copy()
    others[rows, classes] = -np.inf
    return chosen - others.max(1)


def near_tie_weights(reference, typical_error):
    """Per image: exp(-fp32's top-2 margin / `typical_error`), 1 for a tie, 1/e at a margin of the error int8
    typically adds (an absolute logit difference): the images an int8 error of that size can flip."""
    margin = _top1_margin(reference, reference.argmax(1))
    return np.exp(-margin / max(float(typical_error), 1e-12))


def near_tie_loss(logits, reference, weights):
    """How far `logits` move held-out near-ties towards a flip: the mean over images of each one's weight times the
    top-2 margin it lost against fp32 (0 where the margin grew)."""
    classes = reference.argmax(1)
    lost = np.maximum(_top1_margin(reference, classes) - _top1_margin(logits, classes), 0)
    return float(np.mean(weights * lost))
