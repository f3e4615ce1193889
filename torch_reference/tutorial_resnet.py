"""The ResNet of the ECA and CBAM tutorials (seeds 002, 004): CIFAR stem, `shortcut` and `linear` names.

Each block ends with attention gates, each applied as `out = out * gate(out)` in order, under the
tutorials' attribute names (`channel`, `spatial`).
"""

import torch.nn as nn
import torch.nn.functional as F

from .resnet import DEPTHS


def _shortcut(in_planes, out_planes, stride):
    """Identity (an empty Sequential, no tensors) unless the shape changes: then 1x1 conv + BN."""
    if stride == 1 and in_planes == out_planes:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False), nn.BatchNorm2d(out_planes))


class GatedBlock(nn.Module):
    def add_gates(self, gates, channels):
        """`gates(channels)` -> [(attribute name, module returning a gate broadcastable to its input)]."""
        self.gate_names = []
        for name, gate in gates(channels):
            self.add_module(name, gate)
            self.gate_names.append(name)

    def apply_gates(self, out):
        for name in self.gate_names:
            out = out * getattr(self, name)(out)
        return out


class BasicBlock(GatedBlock):
    expansion = 1

    def __init__(self, in_planes, planes, stride, gates):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.add_gates(gates, planes)
        self.shortcut = _shortcut(in_planes, planes, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.apply_gates(self.bn2(self.conv2(out)))
        return F.relu(out + self.shortcut(x))


class Bottleneck(GatedBlock):
    expansion = 4

    def __init__(self, in_planes, planes, stride, gates):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.add_gates(gates, out_planes)
        self.shortcut = _shortcut(in_planes, out_planes, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.apply_gates(self.bn3(self.conv3(out)))
        return F.relu(out + self.shortcut(x))


class TutorialResNet(nn.Module):
    def __init__(self, depth, gates, num_classes=1000):
        super().__init__()
        block = {"basic": BasicBlock, "bottleneck": Bottleneck}[DEPTHS[depth][0]]
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        stages = [
            self._make_layer(block, planes, blocks, 1 if i == 0 else 2, gates)
            for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), DEPTHS[depth][1]))
        ]
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride, gates):
        layers = []
        for block_stride in [stride] + [1] * (blocks - 1):
            layers.append(block(self.in_planes, planes, block_stride, gates))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(self.avgpool(x).flatten(1))
