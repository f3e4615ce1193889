"""The one place weights are loaded: from a checkpoint, a `.pdparams` or `.safetensors` file, or a `.pth` through the
converter; `create_model(..., pretrained=)` and `load_model(checkpoint)` call it."""

from paddle_attn.weights.factory import create_model, create_model_from_spec, load_model
from paddle_attn.weights.files import read_weights
from paddle_attn.weights.pretrained import load_pretrained

__all__ = ["create_model", "create_model_from_spec", "load_model", "load_pretrained", "read_weights"]
