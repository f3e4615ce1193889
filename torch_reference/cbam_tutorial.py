"""CBAM-ResNet of the CBAM tutorial (seed 004): gates `channel` (fc1, fc2) then `spatial` (conv1)."""

import torch
import torch.nn as nn

from .tutorial_resnet import TutorialResNet


class ChannelAttention(nn.Module):
    """Returns sigmoid(MLP(avgpool(x)) + MLP(maxpool(x))), the MLP two bias-free 1x1 convs, C -> C/16 -> C."""

    def __init__(self, channels):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // 16, 1, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(channels // 16, channels, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        mlp = lambda v: self.fc2(self.relu(self.fc1(v)))  # noqa: E731
        return self.sigmoid(mlp(self.avg_pool(x)) + mlp(self.max_pool(x)))


class SpatialAttention(nn.Module):
    """Returns sigmoid(conv7x7([mean over channels, max over channels]))."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return self.sigmoid(self.conv1(pooled))


def resnet_cbam(depth, num_classes=1000):
    return TutorialResNet(
        depth, lambda c: [("channel", ChannelAttention(c)), ("spatial", SpatialAttention())], num_classes
    )


# found by torch_reference/__init__.py: resnet{depth}_cbam is resnet_cbam(depth, ...), converted with this layout
REFERENCES = {"_cbam": (resnet_cbam, "cbam_tutorial")}  # seed 004, CIFAR stem
