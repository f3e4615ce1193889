"""ResNet + CBAM as released by the CBAM authors (Jongchan/attention-module, MODELS/cbam.py, model_resnet.py):
block attribute `cbam`; ChannelGate's MLP is Flatten, Linear (bias), ReLU, Linear (bias) as `mlp.0..3`;
SpatialGate pools max before mean and runs `spatial` = conv 7x7 + BatchNorm(1). ImageNet stem.

The authors' final AvgPool2d(7) equals this global average pool at 224 px; global pooling lets small inputs through.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from .resnet import ResNet


class BasicConv(nn.Module):
    """conv, then BatchNorm (PyTorch momentum 0.01) and ReLU if asked: the authors' `BasicConv`."""

    def __init__(self, in_planes, out_planes, kernel_size, padding=0, relu=True, bn=True):
        super().__init__()
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_planes, eps=1e-5, momentum=0.01) if bn else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x):
        x = self.conv(x)
        x = x if self.bn is None else self.bn(x)
        return x if self.relu is None else self.relu(x)


class ChannelGate(nn.Module):
    """x * sigmoid(MLP(avgpool(x)) + MLP(maxpool(x))), the MLP two Linear layers with bias, C -> C/16 -> C."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = channels // reduction
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x):
        logits = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        return x * torch.sigmoid(logits)[:, :, None, None]


class ChannelPool(nn.Module):
    """[max over channels, mean over channels]: max first, as the authors order them."""

    def forward(self, x):
        return torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], dim=1)


class SpatialGate(nn.Module):
    def __init__(self, kernel_size=7):
        super().__init__()
        self.compress = ChannelPool()
        self.spatial = BasicConv(2, 1, kernel_size, padding=(kernel_size - 1) // 2, relu=False)

    def forward(self, x):
        return x * torch.sigmoid(self.spatial(self.compress(x)))


class CBAM(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.ChannelGate = ChannelGate(channels, reduction)
        self.SpatialGate = SpatialGate()

    def forward(self, x):
        return self.SpatialGate(self.ChannelGate(x))


def cbam_resnet(depth, num_classes=1000, stem="imagenet"):
    return ResNet(depth, num_classes, stem, attention=[("cbam", CBAM)] * 4)


# found by torch_reference/__init__.py: resnet{depth}_cbam_official is cbam_resnet(depth, ...), converted with this layout
REFERENCES = {"_cbam_official": (cbam_resnet, "cbam_official")}  # ImageNet stem
