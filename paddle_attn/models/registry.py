"""One registry of networks by name: `create_model(name, ...)`, `create_model_from_spec(spec)`, `list_models()`."""

import difflib
import fnmatch

from paddle_attn.errors import ModelError
from paddle_attn.models.pretrained import load_pretrained

_MODELS = {}


def register_model(name, builder):
    """Register `builder(num_classes=..., stem=..., **kwargs) -> paddle.nn.Layer` under `name`.

    A builder may carry `builder.check_kwargs(kwargs)`, raising ModelError for arguments it would
    refuse, so configs are checked before anything is built (see `check_model_kwargs`).
    """
    if name in _MODELS:
        raise ValueError(f"model name {name!r} is registered twice")
    _MODELS[name] = builder
    return builder


def list_models(pattern="*"):
    """Registered model names matching a shell-style `pattern`, sorted by family then depth."""
    return sorted(fnmatch.filter(_MODELS, pattern), key=_natural_key)


def create_model(name, num_classes=1000, stem="imagenet", pretrained=None, pretrained_layout=None, trusted=False, **kwargs):
    """Build the registered network `name` with `num_classes` outputs and the given stem.

    `stem="imagenet"`: 7x7 stride-2 conv + 3x3 max-pool; `stem="cifar"`: 3x3 stride-1 conv, no pool.
    Other keyword arguments go to the network (see `ResNet`). `pretrained`: weights to load, checked tensor
    by tensor: a checkpoint directory, a `.pdparams` or `.safetensors` file, or a PyTorch file with `pretrained_layout`
    (see `paddle_attn.models.pretrained.load_pretrained`; a classifier of another size is replaced). `trusted`: read
    a pickled `pretrained` holding objects other than arrays, which runs the code it holds (old files only).
    """
    net = _builder(name)(num_classes=num_classes, stem=stem, **kwargs)
    if pretrained is not None:
        load_pretrained(net, pretrained, pretrained_layout, {"name": name, "stem": stem, "kwargs": kwargs}, trusted)
    return net


def create_model_from_spec(spec, trusted=False):
    """The network a spec describes: {"name", "num_classes", "stem", "kwargs"}, as configs and checkpoints hold it,
    with the weights of its "pretrained" (and "pretrained_layout") where it names some; `trusted`: see `create_model`."""
    kwargs = spec.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ModelError(f"a model spec's kwargs must be a mapping, got {kwargs!r}")
    return create_model(spec["name"], num_classes=spec["num_classes"], stem=spec["stem"], pretrained=spec.get("pretrained"),
                        pretrained_layout=spec.get("pretrained_layout"), trusted=trusted, **kwargs)


def check_model_kwargs(name, kwargs):
    """Raise ModelError if `create_model(name, **kwargs)` would refuse `kwargs`, without building anything."""
    check = getattr(_builder(name), "check_kwargs", None)
    if check is not None:
        check(kwargs)


def _builder(name):
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), _MODELS, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ModelError(f"unknown model {name!r}.{hint} `paddle_attn.list_models()` lists all {len(_MODELS)}.")
    return _MODELS[name]


def _natural_key(name):
    family, _, rest = name.partition("_")
    digits = "".join(ch for ch in family if ch.isdigit())
    return family.rstrip("0123456789"), int(digits or 0), rest
