"""One registry of networks by name: `create_model(name, ...)`, `list_models()`."""

import difflib
import fnmatch

from paddle_attn.models.pretrained import load_pretrained

_MODELS = {}


def register_model(name, builder):
    """Register `builder(num_classes=..., stem=..., **kwargs) -> paddle.nn.Layer` under `name`."""
    if name in _MODELS:
        raise ValueError(f"model name {name!r} is registered twice")
    _MODELS[name] = builder
    return builder


def list_models(pattern="*"):
    """Registered model names matching a shell-style `pattern`, sorted by family then depth."""
    return sorted(fnmatch.filter(_MODELS, pattern), key=_natural_key)


def create_model(name, num_classes=1000, stem="imagenet", pretrained=None, pretrained_layout=None, **kwargs):
    """Build the registered network `name` with `num_classes` outputs and the given stem.

    `stem="imagenet"`: 7x7 stride-2 conv + 3x3 max-pool; `stem="cifar"`: 3x3 stride-1 conv, no pool.
    Other keyword arguments go to the network (see `ResNet`). `pretrained`: weights to load, checked tensor
    by tensor: a checkpoint directory, a `.pdparams` file, or a PyTorch file with `pretrained_layout`
    (see `paddle_attn.models.pretrained.load_pretrained`; a classifier of another size is replaced).
    """
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), _MODELS, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} `paddle_attn.list_models()` lists all {len(_MODELS)}.")
    net = _MODELS[name](num_classes=num_classes, stem=stem, **kwargs)
    if pretrained is not None:
        load_pretrained(net, pretrained, pretrained_layout, {"name": name, "stem": stem, "kwargs": kwargs})
    return net


def _natural_key(name):
    family, _, rest = name.partition("_")
    digits = "".join(ch for ch in family if ch.isdigit())
    return family.rstrip("0123456789"), int(digits or 0), rest
