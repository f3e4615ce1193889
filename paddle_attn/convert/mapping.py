"""A PyTorch state dict in, the matching paddle_attn model with those weights out."""

import collections

from paddle_attn.checkpoint import check_tensors
from paddle_attn.convert.errors import ConversionError
from paddle_attn.convert.layouts import get_layout
from paddle_attn.convert.spec import infer_model_spec
from paddle_attn.convert.tensors import as_float_array
from paddle_attn.errors import ModelError
from paddle_attn.models import build_model_from_spec

# net: the paddle model with the converted weights, in eval mode; spec: its create_model arguments
Converted = collections.namedtuple("Converted", "net spec")


def map_state_dict(state_dict, layout):
    """Rename and reshape a PyTorch state dict for paddle_attn under `layout`.

    Returns `(params, origins)`: float32 numpy arrays by Paddle name, and the PyTorch name of each.
    """
    layout = get_layout(layout)
    params, origins = {}, {}
    for key, value in state_dict.items():
        if layout.drops(key):
            continue
        new_key = layout.rename(key)
        if new_key in origins:
            raise ConversionError(f"PyTorch tensors {origins[new_key]!r} and {key!r} both map to {new_key!r}")
        params[new_key] = layout.reshape(new_key, as_float_array(value, key))
        origins[new_key] = key
    return params, origins


def convert_state_dict(state_dict, layout, name=None, num_classes=None, stem=None, source="state dict"):
    """Convert a PyTorch `state_dict` saved by the code base `layout` names (see `LAYOUTS`).

    The model is inferred from the tensors unless `name`, `num_classes` or `stem` are given;
    every tensor must map onto it with its shape, else a ConversionError names the ones that do not.
    Returns `Converted(net, spec)`.
    """
    layout = get_layout(layout)
    params, origins = map_state_dict(state_dict, layout)
    spec = infer_model_spec(params, layout, name, num_classes, stem)
    try:
        net = build_model_from_spec(spec)
    except ModelError as err:
        raise ConversionError(f"cannot build the model for {source!r}: {err}") from err
    check_tensors(
        net,
        params,
        f"{source!r} read as layout {layout.name!r} does not fit {spec['name']}",
        origins,
        source="converted",
        error=ConversionError,
    )
    net.set_state_dict(params)
    net.eval()
    return Converted(net, spec)
