"""Pretrained weights for `create_model(..., pretrained=PATH)`: a paddle_attn checkpoint, a `.pdparams` or
`.safetensors` file, or a PyTorch file through the converter; every tensor checked, a classifier of another size
replaced (fine-tuning). None of them runs code from the file unless `trusted`."""

import os

import paddle_attn.checkpoint as ckpt
from paddle_attn.convert import ConversionError, Layout, infer_model_spec
from paddle_attn.weights.files import read_weights

CLASSIFIER = ("fc.weight", "fc.bias")


def load_pretrained(net, path, layout=None, spec=None, trusted=False):
    """Load the weights at `path` into `net`, built by `create_model` with `spec` ({"name", "stem", "kwargs"}).

    `path`: a checkpoint directory (or a run directory: its best), a `.pdparams` or `.safetensors` file, or with
    `layout` (a `paddle_attn.convert.LAYOUTS` name) a PyTorch state dict converted on the fly. `trusted` lets a
    pickled file hold objects other than arrays, running whatever code it holds (old files only). Every tensor must be
    there with its shape, else a CheckpointError names the ones that are not; the classifier `fc` is the
    exception: when the weights have another number of classes it keeps its initialization, and a line
    says so. Returns `net`.
    """
    path = os.fspath(path)
    params, origins, saved_spec = read_weights(path, layout, trusted)
    params = dict(params)
    _keep_other_classifier(net, params, path)
    try:
        if origins:  # converted: name each tensor's PyTorch source too
            ckpt.check_tensors(
                net,
                params,
                f"pretrained {path!r} read as layout {layout!r} does not fit the model",
                origins,
                source="converted",
            )
        else:
            ckpt.check_tensors(net, params, f"checkpoint {path!r} does not fit the model")
    except ckpt.CheckpointError as err:
        raise type(err)(f"{err}{_arguments_hint(saved_spec, params, layout, spec)}") from None
    net.set_state_dict(params)
    return net


def _keep_other_classifier(net, params, path):
    """Where the weights' classifier has another number of classes, put `net`'s own in its place."""
    own = net.state_dict()
    if (
        all(k in params and k in own for k in CLASSIFIER)
        and getattr(params["fc.bias"], "ndim", None) == 1  # else check_tensors names it
        and list(params["fc.bias"].shape) != list(own["fc.bias"].shape)
    ):
        print(
            f"pretrained {path}: classifier fc replaced, {params['fc.bias'].shape[0]} classes in the weights, "
            f"{own['fc.bias'].shape[0]} in the model; it starts from its initialization (fine-tuning)"
        )
        for key in CLASSIFIER:
            params[key] = own[key]


def _arguments_hint(saved_spec, params, layout, spec):
    """A line naming the create_model arguments the weights were saved with, when they differ from `spec`'s."""
    if saved_spec is None:
        try:
            arrays = {key: value for key, value in params.items() if getattr(value, "ndim", 0) >= 1}  # what it reads
            saved_spec = infer_model_spec(arrays, layout or Layout("paddle_attn", "paddle_attn's own names"))
        except ConversionError:
            return ""
    wanted = spec or {}
    if all(saved_spec.get(key) == wanted.get(key) for key in ("name", "stem", "kwargs")):
        return ""
    return (
        f"\n  the weights are of create_model({saved_spec['name']!r}, stem={saved_spec['stem']!r}, "
        f"**{saved_spec.get('kwargs', {})}): build the model with these arguments"
    )
