"""Coordinate attention in PyTorch as the authors' coordatt.py builds it (houqb/CoordAttention; Hou, Zhou, Feng,
CVPR 2021): pool along W and along H, concatenate, shared 1x1 conv C -> max(8, C // 32) with bias, BatchNorm,
h-swish, split, one 1x1 conv with bias and a sigmoid per axis; x * a_w * a_h. Named `attention.conv1/bn1/conv_h/
conv_w` in each block: the torchvision layout converts it by name."""

import torch
import torch.nn as nn

from .resnet import ResNet


class HardSwish(nn.Module):
    """x * ReLU6(x + 3) / 6, spelled out as the authors' h_swish(h_sigmoid) is."""

    def forward(self, x):
        return x * torch.clamp(x + 3, 0, 6) / 6


class CoordAtt(nn.Module):
    def __init__(self, channels, reduction=32):
        super().__init__()
        hidden = max(8, channels // reduction)
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))
        self.conv1 = nn.Conv2d(channels, hidden, 1)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.act = HardSwish()
        self.conv_h = nn.Conv2d(hidden, channels, 1)
        self.conv_w = nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        h, w = x.shape[2:]
        y = torch.cat([self.pool_h(x), self.pool_w(x).permute(0, 1, 3, 2)], dim=2)
        y = self.act(self.bn1(self.conv1(y)))
        y_h, y_w = torch.split(y, [h, w], dim=2)
        a_h = self.conv_h(y_h).sigmoid()
        a_w = self.conv_w(y_w.permute(0, 1, 3, 2)).sigmoid()
        return x * a_w * a_h


def resnet_ca(depth, num_classes=1000, stem="imagenet"):
    return ResNet(depth, num_classes, stem, [("attention", CoordAtt)] * 4)


# found by torch_reference/__init__.py: resnet{depth}_ca is resnet_ca(depth, ...), converted with this layout
REFERENCES = {"_ca": (resnet_ca, "torchvision")}  # torchvision's names, any stem
