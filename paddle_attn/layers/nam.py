"""Normalization-based Attention Module (Liu et al., NAM, arXiv:2111.12419)."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_attn.errors import ModelError
from paddle_attn.layers.attention import AttentionGate, check_nchw


class _ScaleWeightedNorm(AttentionGate):
    """The gate of both NAM branches: sigmoid(W * BN(x)), W = |gamma| / sum|gamma| (NAM eq. 2, 3).

    It owns a BatchNorm's tensors (`weight` = gamma, `bias`, `_mean`, `_variance`, under BatchNorm's
    names, so checkpoints, converted weights and `paddle.summary` counts see what they always saw) but
    is not a BatchNorm: `SyncBatchNorm.convert_sync_batchnorm` and "no weight decay on norms" rules
    leave this gate alone. W folds into the normalization's affine (scale gamma*W, shift beta*W), so
    the gate costs one batch-norm and one sigmoid. `detach_weights=True` treats W as a constant, as the
    authors' code does (`weight.data`); the default, False, lets gradients through W, as the NAM tutorial does.
    """

    def __init__(self, num_features, detach_weights, data_format, momentum=0.9, epsilon=1e-5):
        super().__init__()
        self.detach_weights, self._data_format = detach_weights, data_format
        self._momentum, self._epsilon = momentum, epsilon  # Paddle's BatchNorm defaults
        shape = [num_features]
        self.weight = self.create_parameter(shape, default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter(shape, is_bias=True)
        for name, value in (("_mean", 0.0), ("_variance", 1.0)):  # running statistics, not trained
            stat = self.create_parameter(
                shape, attr=paddle.ParamAttr(initializer=nn.initializer.Constant(value), trainable=False)
            )
            stat.stop_gradient = True
            setattr(self, name, stat)
        self.sigmoid = nn.Sigmoid()  # a layer, not F.sigmoid: the CPU training path swaps it for oneDNN's (cpu.kernels)

    def norm_parameters(self):
        return []  # its BatchNorm scales are the attention weights (NAM eq. 2): the ordinary weight decay applies

    def sparsity_parameters(self):
        return [self.weight]  # NAM eq. 4: lambda * sum |gamma| over both branches

    def _weighted_norm_gate(self, x):
        scale = self.weight.abs()
        scale = scale * scale.sum().reciprocal()  # not `/`: Paddle 3.3 prints a PIR warning when tracing divide
        if self.detach_weights:
            scale = scale.detach()
        y = F.batch_norm(
            x,
            self._mean,
            self._variance,
            weight=self.weight * scale,
            bias=self.bias * scale,
            training=self.training,
            momentum=self._momentum,
            epsilon=self._epsilon,
            data_format=self._data_format,
        )
        return self.sigmoid(y)


class NAMChannelAttention(_ScaleWeightedNorm):
    """NAM's channel branch: a batch-norm over channels whose normalized scales weight its own output."""

    def __init__(self, channels: int, detach_weights: bool = False) -> None:
        super().__init__(channels, detach_weights, "NCHW")

    def attention_scales(self) -> np.ndarray:
        """|gamma| / sum |gamma|: NAM eq. 2's channel weights."""
        gamma = np.abs(self.weight.numpy())
        return gamma / gamma.sum()

    def gate(self, x: paddle.Tensor) -> paddle.Tensor:
        return self._weighted_norm_gate(x)


class NAMPixelAttention(_ScaleWeightedNorm):
    """NAM's pixel branch (eq. 3, described but never released by the authors): the same gate with
    a batch-norm over the H*W pixel positions, so it is built for one feature-map size."""

    gate_kind = "pixel"

    def __init__(self, spatial_size: int | tuple[int, int], detach_weights: bool = False) -> None:
        h, w = (spatial_size, spatial_size) if isinstance(spatial_size, int) else spatial_size
        # (N, C, H*W) in "NLC" layout: pixels are the normalized channels, statistics over N and C
        super().__init__(int(h) * int(w), detach_weights, "NLC")
        self.spatial_size = (int(h), int(w))

    def gate(self, x: paddle.Tensor) -> paddle.Tensor:
        c, h, w = x.shape[1:]
        if (h, w) != self.spatial_size:
            raise ValueError(
                f"NAMPixelAttention was built for {self.spatial_size[0]}x{self.spatial_size[1]} "
                f"feature maps, got {h}x{w}"
            )
        return self._weighted_norm_gate(x.reshape([-1, c, h * w])).reshape([-1, c, h, w])


class NormalizationAttention(nn.Layer):
    """NAM: the channel branch, then (if `pixel_attention`) the pixel branch.

    The pixel branch is off by default, as in the NAM tutorial and the authors' code; turning it on
    needs `spatial_size`, the (H, W) of the feature maps this block sees.
    """

    def __init__(
        self,
        channels: int,
        pixel_attention: bool = False,
        spatial_size: int | tuple[int, int] | None = None,
        detach_weights: bool = False,
    ) -> None:
        super().__init__()
        if pixel_attention and spatial_size is None:
            raise ModelError("NAM's pixel attention needs spatial_size, the (H, W) of its input feature maps")
        self.channel = NAMChannelAttention(channels, detach_weights)
        self.pixel = (
            NAMPixelAttention(spatial_size, detach_weights) if pixel_attention and spatial_size is not None else None
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        check_nchw(x, self)
        x = self.channel(x)
        return x if self.pixel is None else self.pixel(x)
