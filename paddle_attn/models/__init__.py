"""Networks, registered by name."""

from paddle_attn.models import epsanet, resnet  # noqa: F401  (importing registers the networks)
from paddle_attn.models.registry import check_model_kwargs, create_model, create_model_from_spec, list_models, register_model
from paddle_attn.models.resnet import BasicBlock, Bottleneck, ResNet

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "check_model_kwargs", "create_model", "create_model_from_spec",
           "list_models", "register_model"]
