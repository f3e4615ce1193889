"""A `.pth` file in, a `.pdparams` or `.safetensors` file (and optionally a paddle_attn checkpoint directory) out."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from paddle_attn.checkpoint import save_checkpoint, write_weights_file
from paddle_attn.convert.errors import ConversionError
from paddle_attn.convert.layouts import Layout
from paddle_attn.convert.mapping import convert_state_dict
from paddle_attn.convert.torch_reader import read_torch_state_dict
from paddle_attn.data.transforms import STEM_EVAL_PIPELINES


def convert_file(
    input_path: str | os.PathLike[str],
    layout: str | Layout,
    output_path: str | os.PathLike[str],
    checkpoint_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    num_classes: int | None = None,
    stem: str | None = None,
    trusted: bool = False,
) -> dict[str, Any]:
    """Convert the PyTorch checkpoint `input_path`, save its Paddle weights to `output_path` (safetensors if it
    ends in .safetensors, else Paddle's pickle) and, if
    `checkpoint_dir` is given, as a paddle_attn checkpoint there too. Returns the model spec.

    `trusted` lets the file unpickle objects other than tensors (see `read_torch_state_dict`).
    """
    state_dict = read_torch_state_dict(input_path, trusted)
    converted = convert_state_dict(state_dict, layout, name, num_classes, stem, source=input_path)
    params = converted.net.state_dict()
    with _writing(output_path):
        write_weights_file(params, output_path)
    if checkpoint_dir:
        directory = os.path.abspath(checkpoint_dir)
        with _writing(directory):
            save_checkpoint(
                os.path.dirname(directory), os.path.basename(directory), params, None, checkpoint_state(converted.spec)
            )
    return converted.spec


def checkpoint_state(spec):
    """The `state.json` of a converted model: epoch 0, its spec, and the evaluation pipeline its stem implies
    (`STEM_EVAL_PIPELINES`: the ImageNet papers' resize 256 + center crop 224, or CIFAR's 32 px)."""
    transform, image_size = STEM_EVAL_PIPELINES[spec["stem"]]
    return {"epoch": 0, "model": spec, "data": {"transform": transform, "image_size": image_size}}


@contextlib.contextmanager
def _writing(path):
    """Create the parent folder of `path`; an OS error while writing becomes a ConversionError naming `path`."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        yield
    except OSError as err:
        raise ConversionError(f"cannot write {path!r}: {err.strerror or err}") from err
