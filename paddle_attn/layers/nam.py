"""Normalization-based Attention Module (Liu et al., NAM, arXiv:2111.12419)."""

import paddle.nn as nn
import paddle.nn.functional as F

from paddle_attn.layers.attention import AttentionGate, check_nchw


class _ScaleWeightedNorm(AttentionGate):
    """The gate of both NAM branches, mixed into a BatchNorm: sigmoid(W * BN(x)), W = |gamma| / sum|gamma| (NAM eq. 2, 3).

    W folds into the BatchNorm's affine (scale gamma*W, shift beta*W), so the gate costs one
    BatchNorm and one sigmoid. `detach_weights=True` treats W as a constant, as the authors'
    code does (`weight.data`); the default, False, lets gradients through W, as the NAM tutorial does.
    The layer is its own BatchNorm so that its scales sit where `paddle.summary`, the
    sparsity penalty and converted checkpoints expect them.
    """

    def _weighted_norm_gate(self, x):
        scale = self.weight.abs()
        scale = scale / scale.sum()
        if self.detach_weights:
            scale = scale.detach()
        y = F.batch_norm(
            x, self._mean, self._variance, weight=self.weight * scale, bias=self.bias * scale,
            training=self.training, momentum=self._momentum, epsilon=self._epsilon,
            data_format=self._data_format,
        )
        return F.sigmoid(y)


class NAMChannelAttention(_ScaleWeightedNorm, nn.BatchNorm2D):
    """NAM's channel branch: a BatchNorm2D over channels whose normalized scales weight its own output."""

    def __init__(self, channels, detach_weights=False):
        nn.BatchNorm2D.__init__(self, channels)
        self.detach_weights = detach_weights

    def gate(self, x):
        return self._weighted_norm_gate(x)


class NAMPixelAttention(_ScaleWeightedNorm, nn.BatchNorm1D):
    """NAM's pixel branch (eq. 3, described but never released by the authors): the same gate with
    a BatchNorm over the H*W pixel positions, so it is built for one feature-map size."""

    def __init__(self, spatial_size, detach_weights=False):
        h, w = (spatial_size, spatial_size) if isinstance(spatial_size, int) else spatial_size
        # (N, C, H*W) in "NLC" layout: pixels are the normalized channels, statistics over N and C
        nn.BatchNorm1D.__init__(self, int(h) * int(w), data_format="NLC")
        self.spatial_size = (int(h), int(w))
        self.detach_weights = detach_weights

    def gate(self, x):
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

    def __init__(self, channels, pixel_attention=False, spatial_size=None, detach_weights=False):
        super().__init__()
        if pixel_attention and spatial_size is None:
            raise ValueError("NAM's pixel attention needs spatial_size, the (H, W) of its input feature maps")
        self.channel = NAMChannelAttention(channels, detach_weights)
        self.pixel = NAMPixelAttention(spatial_size, detach_weights) if pixel_attention else None

    def forward(self, x):
        check_nchw(x, self)
        x = self.channel(x)
        return x if self.pixel is None else self.pixel(x)
