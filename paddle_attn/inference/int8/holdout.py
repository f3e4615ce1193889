"""How close an int8 graph's logits come to fp32's on held-out images, run as `--precision int8` runs it: OpenVINO,
fp32 for what is not quantized."""

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
    """{"agreement": share of images with fp32's top-1 class, "logit_error": mean over images of the largest
    logit difference relative to the image's largest fp32 logit}: the error decides between recipes when the
    agreement ties, since a hold-out of training images has few near-ties."""
    agreement = float(np.mean(logits.argmax(1) == reference.argmax(1)))
    scale = np.maximum(np.abs(reference).max(1), 1e-12)
    error = float(np.mean(np.abs(logits - reference).max(1) / scale))
    return {"agreement": agreement, "logit_error": error}
