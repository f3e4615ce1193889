"""One registry of networks by name: `build_model(name, ...)`, `build_model_from_spec(spec)` (no weights: those are
`paddle_attn.weights`), `list_models()`."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from typing import Any

import paddle

from paddle_attn.errors import ModelError

Builder = Callable[..., paddle.nn.Layer]  # builder(num_classes=..., stem=..., **kwargs)

_MODELS: dict[str, Builder] = {}


def register_model(name: str, builder: Builder) -> Builder:
    """Register `builder(num_classes=..., stem=..., **kwargs) -> paddle.nn.Layer` under `name`.

    A builder may carry `builder.check_kwargs(kwargs)`, raising ModelError for arguments it would
    refuse, so configs are checked before anything is built (see `check_model_kwargs`).
    """
    if name in _MODELS:
        raise ValueError(f"model name {name!r} is registered twice")
    _MODELS[name] = builder
    return builder


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style `pattern`, sorted by family then depth."""
    return sorted(fnmatch.filter(_MODELS, pattern), key=_natural_key)


def build_model(name: str, num_classes: int = 1000, stem: str = "imagenet", **kwargs: Any) -> paddle.nn.Layer:
    """Build the registered network `name` with `num_classes` outputs and the given stem, without weights.

    `stem="imagenet"`: 7x7 stride-2 conv + 3x3 max-pool; `stem="cifar"`: 3x3 stride-1 conv, no pool.
    Other keyword arguments go to the network (see `ResNet`). Weights: `paddle_attn.create_model(..., pretrained=)`.
    """
    return _builder(name)(num_classes=num_classes, stem=stem, **kwargs)


def build_model_from_spec(spec: dict[str, Any]) -> paddle.nn.Layer:
    """The network a spec describes: {"name", "num_classes", "stem", "kwargs"}, as configs and checkpoints hold it,
    without weights (its "pretrained" is `paddle_attn.create_model_from_spec`'s)."""
    return build_model(spec["name"], num_classes=spec["num_classes"], stem=spec["stem"], **spec_kwargs(spec))


def spec_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec's "kwargs", checked to be a mapping."""
    kwargs = spec.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ModelError(f"a model spec's kwargs must be a mapping, got {kwargs!r}")
    return kwargs


def check_model_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    """Raise ModelError if `build_model(name, **kwargs)` would refuse `kwargs`, without building anything."""
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
