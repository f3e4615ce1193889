"""Reading an export directory: its program and weights files, and its `model_info.json`."""

import json
import os

from paddle_attn.errors import InferenceError

MODEL_PREFIX = "inference"
PROGRAM_SUFFIXES = (".json", ".pdmodel")  # Paddle 3's PIR program; the old IR's
PARAMS_SUFFIX = ".pdiparams"
INFO_FILE = "model_info.json"


def program_files(prefix):
    """`(program file, params file)` that `paddle.jit.save(net, prefix)` wrote, or None."""
    params = prefix + PARAMS_SUFFIX
    for suffix in PROGRAM_SUFFIXES:
        if os.path.isfile(prefix + suffix) and os.path.isfile(params):
            return prefix + suffix, params
    return None


def export_files(model_dir):
    """`(program file, params file)` of an export directory, or an InferenceError saying what is missing."""
    files = program_files(os.path.join(model_dir, MODEL_PREFIX))
    if files is None:
        raise InferenceError(
            f"{model_dir!r} is not an exported model: no {MODEL_PREFIX}.json (or .pdmodel) "
            f"with {MODEL_PREFIX}{PARAMS_SUFFIX}; write one with tools/export.py"
        )
    return files


def read_info(model_dir):
    """The `model_info.json` of an export directory."""
    path = os.path.join(model_dir, INFO_FILE)
    if not os.path.isdir(model_dir):
        raise InferenceError(f"exported model directory {model_dir!r} does not exist")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError as err:
        raise InferenceError(f"{model_dir!r} has no {INFO_FILE}; export the model with tools/export.py") from err
    except ValueError as err:
        raise InferenceError(f"{path!r} is not valid JSON: {err}") from err
