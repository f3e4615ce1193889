"""The weights at a path, as Paddle-named tensors: a checkpoint directory, a `.pdparams` or `.safetensors` file, or a
PyTorch file through the converter. None of them runs code from the file unless `trusted`."""

import os

import paddle_attn.checkpoint as ckpt
from paddle_attn.convert import LAYOUTS, map_state_dict, read_torch_state_dict

TORCH_SUFFIXES = (".pth", ".pt", ".pth.tar", ".tar")


def read_weights(path, layout=None, trusted=False):
    """`(params, origins, spec)` of the weights at `path`: Paddle-named tensors, the PyTorch name of each
    (converted files only, else {}) and the model spec a checkpoint's `state.json` records (else None)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        directory = ckpt.resolve(path)
        return ckpt.load_params(directory, trusted=trusted), {}, ckpt.read_state(directory).get("model")
    if not os.path.isfile(path):
        raise ckpt.CheckpointError(f"pretrained weights {path!r} do not exist")
    if layout is not None:
        params, origins = map_state_dict(read_torch_state_dict(path, trusted), layout)
        return params, origins, None
    if path.endswith(TORCH_SUFFIXES):
        raise ckpt.CheckpointError(
            f"pretrained weights {path!r} look like a PyTorch file: give pretrained_layout, "
            f"the code base that saved them ({', '.join(LAYOUTS)})"
        )
    return ckpt.as_tensors(ckpt.read_weights_file(path, trusted)), {}, None
