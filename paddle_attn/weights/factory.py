"""The front door's builders: a registered network with, where asked, its weights loaded; a checkpoint's network."""

from __future__ import annotations

import os
from typing import Any

import paddle

import paddle_attn.checkpoint as ckpt
from paddle_attn.errors import CheckpointError, ModelError
from paddle_attn.models import build_model
from paddle_attn.models.registry import spec_kwargs
from paddle_attn.weights.pretrained import load_pretrained


def create_model(
    name: str,
    num_classes: int = 1000,
    stem: str = "imagenet",
    pretrained: str | os.PathLike[str] | None = None,
    pretrained_layout: str | None = None,
    trusted: bool = False,
    **kwargs: Any,
) -> paddle.nn.Layer:
    """Build the registered network `name` with `num_classes` outputs and the given stem.

    `stem="imagenet"`: 7x7 stride-2 conv + 3x3 max-pool; `stem="cifar"`: 3x3 stride-1 conv, no pool.
    Other keyword arguments go to the network (see `ResNet`). `pretrained`: weights to load, checked tensor
    by tensor: a checkpoint directory, a `.pdparams` or `.safetensors` file, or a PyTorch file with `pretrained_layout`
    (see `paddle_attn.weights.load_pretrained`; a classifier of another size is replaced). `trusted`: read
    a pickled `pretrained` holding objects other than arrays, which runs the code it holds (old files only).
    """
    net = build_model(name, num_classes=num_classes, stem=stem, **kwargs)
    if pretrained is not None:
        load_pretrained(net, pretrained, pretrained_layout, {"name": name, "stem": stem, "kwargs": kwargs}, trusted)
    return net


def create_model_from_spec(spec: dict[str, Any], trusted: bool = False) -> paddle.nn.Layer:
    """The network a spec describes: {"name", "num_classes", "stem", "kwargs"}, as configs and checkpoints hold it,
    with the weights of its "pretrained" (and "pretrained_layout") where it names some; `trusted`: see `create_model`."""
    kwargs = spec_kwargs(spec)
    return create_model(
        spec["name"],
        num_classes=spec["num_classes"],
        stem=spec["stem"],
        pretrained=spec.get("pretrained"),
        pretrained_layout=spec.get("pretrained_layout"),
        trusted=trusted,
        **kwargs,
    )


def load_model(path: str | os.PathLike[str], trusted: bool = False) -> tuple[paddle.nn.Layer, dict[str, Any]]:
    """Rebuild the network a checkpoint was saved from and load its weights, in eval mode.

    Returns `(net, state)`, `state` being the checkpoint's `state.json`; `trusted`: see `paddle_attn.checkpoint.load_params`.
    """
    state = ckpt.read_state(path)
    spec = state.get("model")
    if not isinstance(spec, dict) or not {"name", "num_classes", "stem"} <= set(spec):
        raise CheckpointError(
            f"checkpoint {ckpt.resolve(path)!r}: {ckpt.STATE_FILE} lacks the model's name, num_classes or stem"
        )
    try:
        net = create_model_from_spec(spec)
    except ModelError as err:  # a hand-edited spec
        raise CheckpointError(
            f"checkpoint {ckpt.resolve(path)!r}: {ckpt.STATE_FILE} names a model that cannot be built: {err}"
        ) from err
    params = ckpt.load_params(path, trusted=trusted)
    ckpt.check_tensors(net, params, f"checkpoint {ckpt.resolve(path)!r} does not fit the model")
    net.set_state_dict(params)
    net.eval()
    return net, state
