"""EPSANet (Zhang et al., arXiv:2105.14447): the ResNet Bottleneck with its 3x3 conv replaced by PSA."""

import math

import paddle.nn as nn

from paddle_attn.layers import PSAModule
from paddle_attn.models.registry import register_model
from paddle_attn.models.resnet import Bottleneck, ResNet, check_inner_widths, check_network_kwargs


def init_epsanet_weights(net):
    """Every conv weight ~ N(0, sqrt(2 / (k_h * k_w * out_channels))), as both PSA tutorials do;
    BatchNorm keeps scale 1, shift 0 and the Linear layer Paddle's default."""
    for layer in net.sublayers():
        if isinstance(layer, nn.Conv2D):
            out_channels, _, kh, kw = layer.weight.shape
            nn.initializer.Normal(0.0, math.sqrt(2.0 / (kh * kw * out_channels)))(layer.weight)
    return net


def _epsanet_builder(layers):
    def build(num_classes=1000, stem="imagenet", **kwargs):
        net = ResNet(Bottleneck, layers, num_classes, stem, conv_layer=PSAModule, **kwargs)
        return init_epsanet_weights(net)

    def check_kwargs(kwargs):
        check_network_kwargs(kwargs, attention=None, fixed=("conv_layer",))
        check_inner_widths(kwargs.get("inner_widths"), Bottleneck, layers, PSAModule)

    build.check_kwargs = check_kwargs
    return build


register_model("epsanet50", _epsanet_builder((3, 4, 6, 3)))
register_model("epsanet101", _epsanet_builder((3, 4, 23, 3)))
