"""ResNet with torchvision's names (conv1, bn1, layer1.0.conv1, ..., downsample.0/1, fc).

The skeleton of every reference here except the two tutorials': a block may carry an attention
module under the attribute its source code uses (`eca`, `cbam`, `nam`), and the Bottleneck's 3x3
conv may be swapped (EPSANet's PSA). Stride sits on the 3x3 conv (ResNet v1.5) everywhere.
"""

import torch.nn as nn

DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class AttentionSlot(nn.Module):
    """A block with an optional attention module, registered under its source's attribute name."""

    def add_attention(self, attention, channels):
        """`attention` is None or (attribute name, builder(channels) -> module returning the rescaled input)."""
        self.attention_name = None
        if attention is not None:
            self.attention_name, build = attention
            self.add_module(self.attention_name, build(channels))

    def attend(self, out):
        return out if self.attention_name is None else getattr(self, self.attention_name)(out)


class BasicBlock(AttentionSlot):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1, downsample=None, attention=None):
        super().__init__()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.add_attention(attention, planes)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.attend(self.bn2(self.conv2(out)))
        return self.relu(out + identity)


class Bottleneck(AttentionSlot):
    expansion = 4

    def __init__(self, in_planes, planes, stride=1, downsample=None, attention=None, middle_conv=conv3x3):
        super().__init__()
        self.conv1 = conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = middle_conv(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.add_attention(attention, planes * self.expansion)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.attend(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(nn.Module):
    """`stem`: "imagenet" (7x7 stride-2 conv, 3x3 max-pool) or "cifar" (3x3 stride-1 conv, no pool).
    `attention`: None, or one (attribute name, builder) per stage. `block_kwargs` go to every block."""

    def __init__(self, depth, num_classes=1000, stem="imagenet", attention=None, **block_kwargs):
        super().__init__()
        block, layers = BLOCKS[DEPTHS[depth][0]], DEPTHS[depth][1]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = conv3x3(3, 64)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.in_planes = 64
        attention = attention or [None] * 4
        stages = [
            self._make_layer(block, planes, blocks, 1 if i == 0 else 2, attention[i], block_kwargs)
            for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers))
        ]
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride, attention, block_kwargs):
        downsample = None
        if stride != 1 or self.in_planes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.in_planes, planes * block.expansion, stride), nn.BatchNorm2d(planes * block.expansion)
            )
        layers = [block(self.in_planes, planes, stride, downsample, attention, **block_kwargs)]
        self.in_planes = planes * block.expansion
        layers += [block(self.in_planes, planes, attention=attention, **block_kwargs) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet(depth, num_classes=1000, stem="imagenet"):
    """Plain ResNet, torchvision's names and layout."""
    return ResNet(depth, num_classes, stem)


# found by torch_reference/__init__.py: resnet{depth} is resnet(depth, ...), converted with this layout
REFERENCES = {"": (resnet, "torchvision")}  # torchvision's ResNet, ImageNet stem
