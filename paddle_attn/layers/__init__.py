"""Attention blocks, each usable alone on an NCHW tensor."""

from paddle_attn.layers.attention import GATE_KINDS, NORM_LAYERS, AttentionGate, check_nchw
from paddle_attn.layers.cbam import CBAM, ChannelAttention, SpatialAttention
from paddle_attn.layers.coordinate_attention import CoordinateAttention
from paddle_attn.layers.eca import EfficientChannelAttention, eca_kernel_size
from paddle_attn.layers.nam import NAMChannelAttention, NAMPixelAttention, NormalizationAttention
from paddle_attn.layers.psa import PSAModule
from paddle_attn.layers.se import SEWeightModule, SqueezeExcitation

# The attention blocks a ResNet can carry, by the suffix of their model names (resnet50_se, ...).
# A new block is one module in this folder and one line here.
ATTENTION_LAYERS = {
    "se": SqueezeExcitation,
    "eca": EfficientChannelAttention,
    "cbam": CBAM,
    "nam": NormalizationAttention,
    "ca": CoordinateAttention,
}

__all__ = [
    "ATTENTION_LAYERS",
    "AttentionGate",
    "GATE_KINDS",
    "NORM_LAYERS",
    "CBAM",
    "ChannelAttention",
    "CoordinateAttention",
    "EfficientChannelAttention",
    "NAMChannelAttention",
    "NAMPixelAttention",
    "NormalizationAttention",
    "PSAModule",
    "SEWeightModule",
    "SpatialAttention",
    "SqueezeExcitation",
    "check_nchw",
    "eca_kernel_size",
]
