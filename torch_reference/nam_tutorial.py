"""The NAM tutorial's ResNet (seed 001, Paddle) in PyTorch: torchvision names, CIFAR stem, `nam.Channel_Att.bn2`."""

import torch
import torch.nn as nn

from .resnet import ResNet


class ChannelAtt(nn.Module):
    """x * sigmoid(BN(x) * |gamma| / sum|gamma|): the BatchNorm's own normalized scales weight its output."""

    def __init__(self, channels):
        super().__init__()
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        scale = self.bn2.weight.abs() / self.bn2.weight.abs().sum()
        return torch.sigmoid(self.bn2(x) * scale.view(1, -1, 1, 1)) * x


class Att(nn.Module):
    """NAM as the tutorial ships it: the channel branch only."""

    def __init__(self, channels):
        super().__init__()
        self.Channel_Att = ChannelAtt(channels)

    def forward(self, x):
        return self.Channel_Att(x)


def resnet_nam(depth, num_classes=1000, stem="cifar"):
    return ResNet(depth, num_classes, stem, attention=[("nam", Att)] * 4)


# found by torch_reference/__init__.py: resnet{depth}_nam is resnet_nam(depth, ...), converted with this layout
REFERENCES = {"_nam": (resnet_nam, "nam_tutorial")}  # seed 001 ported, CIFAR stem
