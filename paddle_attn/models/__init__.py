"""Networks, registered by name and built without weights (`paddle_attn.create_model` loads them)."""

from paddle_attn.models import epsanet, resnet  # noqa: F401  (importing registers the networks)
from paddle_attn.models.registry import (
    build_model,
    build_model_from_spec,
    check_model_kwargs,
    list_models,
    register_model,
)
from paddle_attn.models.resnet import STEMS, BasicBlock, Bottleneck, ResNet

__all__ = [
    "STEMS",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "build_model",
    "build_model_from_spec",
    "check_model_kwargs",
    "list_models",
    "register_model",
]
