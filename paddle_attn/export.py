"""A checkpoint as a Paddle inference model, ready for Paddle Inference or `paddle.jit.load`.

An export directory holds `inference.json` (Paddle 3's PIR program; `inference.pdmodel` with the
old IR), `inference.pdiparams` and `model_info.json`: the network spec, the evaluation
preprocessing (preset, image size, mean, std) and the class names, so prediction needs nothing else.
"""

import json
import os

import paddle
from paddle.static import InputSpec

from paddle_attn.checkpoint import load_model, resolve
from paddle_attn.data.class_names import for_dataset
from paddle_attn.data.transforms import STEM_EVAL_PIPELINES

MODEL_PREFIX = "inference"
PROGRAM_SUFFIXES = (".json", ".pdmodel")
PARAMS_SUFFIX = ".pdiparams"
INFO_FILE = "model_info.json"


def model_info(state, image_size=None):
    """What prediction needs from a checkpoint's `state.json`, for inputs of `image_size` (default:
    the training image size). A checkpoint without a `data` section gets its stem's evaluation
    pipeline (`STEM_EVAL_PIPELINES`): "cifar" at 32 or "imagenet_eval" at 224."""
    model, data = state["model"], state.get("data") or {}
    preset, default_size = STEM_EVAL_PIPELINES.get(model.get("stem"), STEM_EVAL_PIPELINES["imagenet"])
    size = image_size if image_size is not None else data.get("image_size") or default_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"the input size must be a positive integer, got {size!r}")
    return {
        "model": model,
        "transform": data.get("transform") or preset,
        "image_size": size,
        "mean": data.get("mean"),
        "std": data.get("std"),
        "class_names": data.get("class_names") or for_dataset(data.get("dataset")),
    }


def export(checkpoint, out_dir, image_size=None):
    """Save the checkpoint's network for `[batch, 3, image_size, image_size]` float32 inputs (any batch)
    to `out_dir`; return the model info written beside it."""
    net, state = load_model(checkpoint)
    info = {**model_info(state, image_size), "checkpoint": resolve(checkpoint)}
    size = info["image_size"]
    os.makedirs(out_dir, exist_ok=True)
    paddle.jit.save(net, os.path.join(out_dir, MODEL_PREFIX), input_spec=[InputSpec([None, 3, size, size], "float32", "image")])
    with open(os.path.join(out_dir, INFO_FILE), "w") as f:
        json.dump(info, f, indent=2)
    return info


def model_files(model_dir):
    """`(program file, params file)` of an export directory."""
    params = os.path.join(model_dir, MODEL_PREFIX + PARAMS_SUFFIX)
    for suffix in PROGRAM_SUFFIXES:
        program = os.path.join(model_dir, MODEL_PREFIX + suffix)
        if os.path.isfile(program) and os.path.isfile(params):
            return program, params
    raise FileNotFoundError(f"{model_dir!r} is not an exported model: no {MODEL_PREFIX}.json (or .pdmodel) "
                            f"with {MODEL_PREFIX}{PARAMS_SUFFIX}; write one with tools/export.py")


def read_info(model_dir):
    """The `model_info.json` of an export directory."""
    path = os.path.join(model_dir, INFO_FILE)
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"exported model directory {model_dir!r} does not exist")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{model_dir!r} has no {INFO_FILE}; export the model with tools/export.py") from err
    except ValueError as err:
        raise ValueError(f"{path!r} is not valid JSON: {err}") from err
