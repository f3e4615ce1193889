"""Writing a checkpoint as a Paddle inference model, ready for Paddle Inference or `paddle.jit.load`.

An export directory holds `inference.json` (Paddle 3's PIR program), `inference.pdiparams` and
`model_info.json`: the network spec, the evaluation preprocessing (preset, image size, mean, std)
and the class names, so prediction needs nothing else (`read_export.py` reads them).
"""

import json
import os

import paddle
from paddle.static import InputSpec

from paddle_attn.checkpoint import resolve, write_weights_file
from paddle_attn.data.preprocessing import inference_info
from paddle_attn.inference.read_export import INFO_FILE, MODEL_PREFIX, program_files
from paddle_attn.weights import load_model

WEIGHTS_FILE = "model.safetensors"


def save_program(net, prefix, image_size):
    """`net` (in eval mode) as a program for `[batch, 3, image_size, image_size]` float32 inputs, any batch;
    returns `(program file, params file)`. The network is put back in the mode it was in."""
    was_training = net.training
    net.eval()
    try:
        paddle.jit.save(net, prefix, input_spec=[InputSpec([None, 3, image_size, image_size], "float32", "image")])
    finally:
        net.train(was_training)
    return program_files(prefix)


def export(checkpoint, out_dir, image_size=None, trusted=False, safetensors=False):
    """Save the checkpoint's network to `out_dir` for square inputs of `image_size` (default: its training
    size), with its weights as `model.safetensors` too if `safetensors`; return the model info written beside it.
    `trusted`: see `checkpoint.load_params`."""
    net, state = load_model(checkpoint, trusted)
    info = write_export(net, {**inference_info(state, image_size), "checkpoint": resolve(checkpoint)}, out_dir)
    if safetensors:  # for create_model(pretrained=...): tensors only, nothing to run
        write_weights_file(net.state_dict(), os.path.join(out_dir, WEIGHTS_FILE))
    return info


def write_export(net, info, out_dir):
    """`net`'s program for `info["image_size"]` inputs and `info` as model_info.json in `out_dir`; returns `info`."""
    os.makedirs(out_dir, exist_ok=True)
    save_program(net, os.path.join(out_dir, MODEL_PREFIX), info["image_size"])
    with open(os.path.join(out_dir, INFO_FILE), "w") as f:
        json.dump(info, f, indent=2)
    return info
