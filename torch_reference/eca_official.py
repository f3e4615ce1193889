"""ECA-ResNet as released by the ECA-Net authors (BangguWu/ECANet, models/eca_resnet.py): block attribute
`eca`, its Conv1d `eca.conv`, one kernel size per stage (eca_resnet50_k3557: 3, 5, 5, 7), ImageNet stem."""

import functools

import torch.nn as nn

from .resnet import ResNet


class ECALayer(nn.Module):
    """x * sigmoid(conv1d_k(avgpool(x))), k fixed by the caller."""

    def __init__(self, channels, k_size=3):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=k_size, padding=(k_size - 1) // 2, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        y = self.avg_pool(x).squeeze(-1).transpose(-1, -2)  # (N, 1, C): channels along the conv's length
        return x * self.sigmoid(self.conv(y).transpose(-1, -2).unsqueeze(-1))


def eca_resnet(depth, num_classes=1000, k_size=(3, 3, 3, 3), stem="imagenet"):
    attention = [("eca", functools.partial(ECALayer, k_size=int(k))) for k in k_size]
    return ResNet(depth, num_classes, stem, attention)


# found by torch_reference/__init__.py: resnet{depth}_eca_official is eca_resnet(depth, ...), converted with this layout
REFERENCES = {"_eca_official": (eca_resnet, "eca_official")}  # ImageNet stem, k_size=(k1, k2, k3, k4)
