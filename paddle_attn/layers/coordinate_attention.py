"""Coordinate attention (Hou, Zhou, Feng, CVPR 2021, arXiv:2103.02907): one gate along H, one along W."""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_attn.layers.attention import AttentionGate, check_positive_int


class CoordinateAttention(AttentionGate):
    """x * a_h * a_w: x averaged along W (N, C, H, 1) and along H (N, C, W, 1), both through one shared 1x1 conv
    (C -> max(8, C / reduction), with bias), BatchNorm and h-swish, then split; a 1x1 conv back to C (with bias)
    and a sigmoid each give a_h (N, C, H, 1) and a_w (N, C, 1, W) (paper eq. 4-6, Fig. 2c; the authors' coordatt.py).

    The gate is their product, (N, C, H, W): each value weighs a row and a column of a channel ("per-axis").
    Sublayers named as in the authors' code (conv1, bn1, conv_h, conv_w), so their weights convert by name.
    All convs keep Paddle's default init (Kaiming normal, fan in; zero bias), as every conv of the ResNet and
    of the SE and CBAM blocks here; the authors' code leaves PyTorch's default.
    """

    gate_kind = "per-axis"

    def __init__(self, channels: int, reduction: int = 32) -> None:
        super().__init__()
        check_positive_int("CoordinateAttention", "reduction", reduction)
        hidden = max(8, channels // reduction)  # paper Sec. 3.2.2: reduction ratio r = 32, at least 8 channels
        self.conv1 = nn.Conv2D(channels, hidden, kernel_size=1)
        self.bn1 = nn.BatchNorm2D(hidden)  # Paddle momentum 0.9 = PyTorch's default 0.1, as the authors'
        self.conv_h = nn.Conv2D(hidden, channels, kernel_size=1)
        self.conv_w = nn.Conv2D(hidden, channels, kernel_size=1)

    def gate(self, x: paddle.Tensor) -> paddle.Tensor:
        h, w = x.shape[2:]
        along_h = F.adaptive_avg_pool2d(x, [h, 1])  # (N, C, H, 1): the mean of each row
        along_w = F.adaptive_avg_pool2d(x, [1, w]).transpose([0, 1, 3, 2])  # (N, C, W, 1): of each column
        # F.hardswish is the paper's h-swish, x * ReLU6(x + 3) / 6 (after MobileNetV3)
        y = F.hardswish(self.bn1(self.conv1(paddle.concat([along_h, along_w], axis=2))))
        y_h, y_w = paddle.split(y, [h, w], axis=2)
        a_h = F.sigmoid(self.conv_h(y_h))
        a_w = F.sigmoid(self.conv_w(y_w)).transpose([0, 1, 3, 2])  # a 1x1 conv commutes with the transpose
        return a_h * a_w
