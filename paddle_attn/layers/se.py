"""Squeeze-and-Excitation (Hu et al., 2018), as `SEWeightModule` in the PSA tutorial."""

from __future__ import annotations

import paddle
import paddle.nn as nn

from paddle_attn.layers.attention import AttentionGate, check_nchw, check_positive_int


class SEWeightModule(nn.Layer):
    """Channel weights in (0, 1): global average pool, 1x1 conv (C -> C/r), ReLU, 1x1 conv (C/r -> C), sigmoid.

    Returns the (N, C, 1, 1) weights only; PSA shares one of these across its four scales.
    Both 1x1 convs carry a bias, as in the PSA tutorial.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        check_positive_int("SE", "reduction", reduction)
        hidden = max(1, channels // reduction)  # the tutorial's C // r, kept >= 1 for narrow inputs
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.fc1 = nn.Conv2D(channels, hidden, kernel_size=1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2D(hidden, channels, kernel_size=1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        check_nchw(x, self)
        return self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class SqueezeExcitation(AttentionGate):
    """The SE block: the input times its `SEWeightModule` weights."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.se = SEWeightModule(channels, reduction)

    def gate(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.se(x)
