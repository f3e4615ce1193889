"""Pyramid Split Attention (Zhang et al., EPSANet, arXiv:2105.14447), as `PSAModule` in the PSA tutorial."""

from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn as nn

from paddle_attn.errors import ModelError
from paddle_attn.layers.attention import check_nchw
from paddle_attn.layers.se import SEWeightModule


class PSAModule(nn.Layer):
    """Replaces a 3x3 conv: four grouped convs (kernels 3/5/7/9, groups 1/4/8/16) each make a quarter of
    the output channels, one shared SE weight scores each quarter, a softmax across the four scales
    mixes them.

    The output concatenates the weighted scales in reverse (kernel 9 first, kernel 3 last), as the
    tutorial and the authors' code do: weights trained with that code load only in this order.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        conv_kernels: Sequence[int] = (3, 5, 7, 9),
        conv_groups: Sequence[int] = (1, 4, 8, 16),
    ) -> None:
        super().__init__()
        if len(conv_kernels) != len(conv_groups):
            raise ModelError(f"conv_kernels {conv_kernels} and conv_groups {conv_groups} differ in length")
        self.scales = len(conv_kernels)
        if out_channels % self.scales:
            raise ModelError(f"PSA out_channels ({out_channels}) must divide into {self.scales} scales")
        self.split_channels = out_channels // self.scales
        for i, (k, g) in enumerate(zip(conv_kernels, conv_groups), start=1):
            conv = nn.Conv2D(
                in_channels, self.split_channels, k, stride=stride, padding=k // 2, groups=g, bias_attr=False
            )
            setattr(self, f"conv_{i}", conv)  # conv_1..conv_4: the tutorial's names, so checkpoints map one to one
        self.se = SEWeightModule(self.split_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        check_nchw(x, self)
        # the scales in output order (kernel 9 first), concatenated on channels and viewed as (N, S, C, H, W):
        # the same tensor as stack-then-flip, without a flip or a stack (their backward passes cost ~5x
        # the rest of this tail on Paddle's CPU); the SE and the softmax treat every scale alike, so the
        # order they see does not change a value
        feats = paddle.concat([getattr(self, f"conv_{i}")(x) for i in range(self.scales, 0, -1)], axis=1)
        _, sc, h, w = feats.shape
        s, c = self.scales, sc // self.scales
        feats = feats.reshape([-1, s, c, h, w])
        # one SE pass scores every scale: fold the scale axis into the batch, softmax across scales
        weights = self.se(feats.reshape([-1, c, h, w])).reshape([-1, s, c, 1, 1])
        # softmax as exp(log_softmax): Paddle 3.3's softmax prints a PIR warning when traced (eager_utils.cc:3584)
        out = feats * nn.functional.log_softmax(weights, axis=1).exp()
        return out.reshape([-1, sc, h, w])
