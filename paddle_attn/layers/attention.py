"""What every attention block shares: an NCHW input check and `forward(x) = x * gate(x)`."""

import paddle.nn as nn


def check_nchw(x, layer):
    """Raise a ValueError naming `layer` unless `x` is a 4-D (N, C, H, W) tensor."""
    if x.ndim != 4:
        raise ValueError(
            f"{type(layer).__name__} expects a 4-D tensor (N, C, H, W), got shape {list(x.shape)}"
        )


class AttentionGate(nn.Layer):
    """An attention block that rescales its input by a gate with values in (0, 1).

    Subclasses implement `gate(x)`, which returns a tensor broadcastable to `x`;
    `forward` checks the input and applies the gate, so the gate stays inspectable on its own.
    """

    def gate(self, x):
        raise NotImplementedError

    def forward(self, x):
        check_nchw(x, self)
        return x * self.gate(x)
