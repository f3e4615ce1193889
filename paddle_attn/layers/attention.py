"""What every attention block shares: an NCHW input check, `forward(x) = x * gate(x)`, and the traits that
training and analysis read off a gate instead of keeping lists of classes."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import paddle
import paddle.nn as nn

from paddle_attn.errors import ModelError


def check_positive_int(layer, option, value, odd=False):
    """Raise ModelError naming `layer`'s `option` unless `value` is a positive integer (an odd one if `odd`)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (odd and value % 2 == 0):
        raise ModelError(f"{layer} {option} must be a positive {'odd ' if odd else ''}integer, got {value!r}")


def check_nchw(x, layer):
    """Raise a ValueError naming `layer` unless `x` is a 4-D (N, C, H, W) tensor."""
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__} expects a 4-D tensor (N, C, H, W), got shape {list(x.shape)}")


# Paddle's normalization layers: their scales and shifts form the optimizer's `norm_weight_decay` group
NORM_LAYERS = (
    nn.BatchNorm,
    nn.BatchNorm1D,
    nn.BatchNorm2D,
    nn.BatchNorm3D,
    nn.SyncBatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.InstanceNorm1D,
    nn.InstanceNorm2D,
    nn.InstanceNorm3D,
)
# what a gate's values weigh, by the shape of `gate(x)` for x (N, C, H, W)
GATE_KINDS = {
    "channel": "(N, C, 1, 1): one value per channel (SE, ECA, CBAM); (N, C, H, W) for NAM's, a per-channel BatchNorm",
    "spatial": "(N, 1, H, W): one value per position, shared by the channels (CBAM's spatial branch)",
    "pixel": "(N, C, H, W): one value per channel and position (NAM's pixel branch)",
    "per-axis": "(N, C, H, W) as the product of a (N, C, H, 1) and a (N, C, 1, W) gate (coordinate attention)",
}


class AttentionGate(nn.Layer):
    """An attention block that rescales its input by a gate with values in (0, 1).

    Subclasses implement `gate(x)`, which returns a tensor broadcastable to `x`;
    `forward` checks the input and applies the gate, so the gate stays inspectable on its own.

    Its traits, read by `optim` and `analysis` (a new block overrides those that differ from the defaults):
    `gate_kind` (a key of GATE_KINDS: how the gate recorder, the pictures and VisualDL label its values),
    `norm_parameters()` (its parameters in the `norm_weight_decay` group), `sparsity_parameters()` (those
    an L1 penalty pushes towards 0) and `attention_scales()` (learned per-channel weights worth drawing).
    """

    gate_kind: ClassVar[str] = "channel"

    def gate(self, x: paddle.Tensor) -> paddle.Tensor:
        raise NotImplementedError

    def norm_parameters(self) -> list:
        """The trainable scales and shifts of its normalization sublayers: a config's `norm_weight_decay` applies."""
        return [
            p
            for layer in self.sublayers()
            if isinstance(layer, NORM_LAYERS)
            for p in layer.parameters(include_sublayers=False)
            if not p.stop_gradient
        ]

    def sparsity_parameters(self) -> list:
        """Parameters an L1 sparsity penalty applies to (`optim.add_nam_sparsity`): none by default."""
        return []

    def attention_scales(self) -> np.ndarray | None:
        """Learned per-channel weights of the attention, summing to 1, for the analysis pictures; None if it has none."""
        return None

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        check_nchw(x, self)
        return apply_gate(x, self.gate(x))


def apply_gate(x: paddle.Tensor, gate: paddle.Tensor) -> paddle.Tensor:
    """`x * gate` for a gate broadcastable to `x`.

    A gate that is broadcast across channels, (N, 1, H, W) like CBAM's spatial map, is first expanded
    to x's shape: Paddle 3.3's CPU multiply broadcasts that case ~5x slower than a same-shape multiply,
    forward and backward (206 ms against 44 ms for 64x512x16x16, measured here). Same values.
    """
    if gate.shape[1] == 1 and x.shape[1] != 1:
        gate = paddle.broadcast_to(gate, x.shape)
    return x * gate
