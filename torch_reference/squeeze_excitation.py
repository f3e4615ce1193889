"""SE-ResNet in PyTorch (Hu et al., 2018) as the PSA tutorial's SEWeightModule builds it: pool, 1x1 conv C -> C/16
with bias, ReLU, 1x1 conv back with bias, sigmoid; named `attention.se.fc1/fc2` in each block, as paddle_attn."""

import torch.nn as nn

from .resnet import ResNet


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.se = nn.Sequential()
        hidden = max(1, channels // reduction)
        self.se.add_module("avg_pool", nn.AdaptiveAvgPool2d(1))
        self.se.add_module("fc1", nn.Conv2d(channels, hidden, 1))
        self.se.add_module("relu", nn.ReLU(inplace=True))
        self.se.add_module("fc2", nn.Conv2d(hidden, channels, 1))
        self.se.add_module("sigmoid", nn.Sigmoid())

    def forward(self, x):
        return x * self.se(x)


def resnet_se(depth, num_classes=1000, stem="imagenet"):
    return ResNet(depth, num_classes, stem, [("attention", SqueezeExcitation)] * 4)


# found by torch_reference/__init__.py: resnet{depth}_se is resnet_se(depth, ...), converted with this layout
REFERENCES = {"_se": (resnet_se, "torchvision")}  # SE as the PSA tutorial's SEWeightModule (seed 000/003)
