"""ECA-ResNet of the ECA-Net tutorial (seed 002): the gate is `channel`, its Conv1d `channel.conv1`."""

import math

import torch.nn as nn

from .tutorial_resnet import TutorialResNet


class EfficientChannelAttention(nn.Module):
    """Returns the gate: sigmoid(conv1d_k(avgpool(x))), k the odd number nearest (log2(C) + b) / gamma."""

    def __init__(self, channels, b=1, gamma=2):
        super().__init__()
        t = int(abs((math.log2(channels) + b) / gamma))
        k = t if t % 2 else t + 1
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = nn.Conv1d(1, 1, kernel_size=k, padding=k // 2, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        y = self.avg_pool(x).squeeze(-1).transpose(-1, -2)  # (N, 1, C): channels along the conv's length
        return self.sigmoid(self.conv1(y).transpose(-1, -2).unsqueeze(-1))


def resnet_eca(depth, num_classes=1000):
    return TutorialResNet(depth, lambda c: [("channel", EfficientChannelAttention(c))], num_classes)


# found by torch_reference/__init__.py: resnet{depth}_eca is resnet_eca(depth, ...), converted with this layout
REFERENCES = {"_eca": (resnet_eca, "eca_tutorial")}  # seed 002, CIFAR stem
