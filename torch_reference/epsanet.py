"""EPSANet as its authors name it (seed 003): the Bottleneck's conv2 is a PSAModule (conv_1..conv_4, se)."""

import math

import torch
import torch.nn as nn

from .resnet import ResNet


class SEWeightModule(nn.Module):
    """Channel weights sigmoid(fc2(relu(fc1(avgpool(x))))), both 1x1 convs with bias, C -> C/16 -> C."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class PSAModule(nn.Module):
    """Four grouped convs (kernels 3/5/7/9, groups 1/4/8/16) make a quarter of the channels each; one SE
    scores each quarter, a softmax across the quarters weights them; output in reverse order (conv_4 first)."""

    def __init__(self, in_planes, planes, stride=1, conv_kernels=(3, 5, 7, 9), conv_groups=(1, 4, 8, 16)):
        super().__init__()
        self.split_channel = planes // 4
        for i, (k, groups) in enumerate(zip(conv_kernels, conv_groups), start=1):
            self.add_module(
                f"conv_{i}",
                nn.Conv2d(in_planes, self.split_channel, k, stride=stride, padding=k // 2, groups=groups, bias=False),
            )
        self.se = SEWeightModule(self.split_channel)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        feats = [conv(x) for conv in (self.conv_1, self.conv_2, self.conv_3, self.conv_4)]
        weights = self.softmax(torch.stack([self.se(f) for f in feats], dim=1))  # (N, 4, C/4, 1, 1)
        weighted = [f * weights[:, i] for i, f in enumerate(feats)]
        return torch.cat(weighted[::-1], dim=1)


def init_weights(net):
    """The authors' init: conv weights ~ N(0, sqrt(2 / (k*k*out_channels))), BatchNorm scale 1, shift 0."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def epsanet(depth, num_classes=1000, stem="imagenet"):
    return init_weights(ResNet(depth, num_classes, stem, middle_conv=PSAModule))
