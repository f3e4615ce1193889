"""Swap a network's nn.Conv2D layers to the oneDNN operator in place: the same parameters under the same names,
so checkpoints, optimizers and exports see no difference."""

import paddle
from paddle import nn

from paddle_attn.kernels.onednn.conv import conv2d

# which convolutions `use_onednn_convs` swaps: grouped ones only (10-13x faster, issue 31) or every one
CONV_SETS = ("grouped", "all")


def symmetric_padding(layer):
    """The [pad_h, pad_w] of an NCHW zero-padded nn.Conv2D with explicit symmetric padding, else None."""
    if layer._data_format != "NCHW" or layer._padding_mode != "zeros" or layer._padding_algorithm != "EXPLICIT":
        return None
    pad = [int(p) for p in layer._updated_padding]
    if len(pad) == 2:
        return pad
    if len(pad) == 4 and pad[0] == pad[1] and pad[2] == pad[3]:  # [top, bottom, left, right]
        return [pad[0], pad[2]]
    return None


class OneDNNConv2D(nn.Conv2D):
    """nn.Conv2D whose eager fp32 CPU forward runs onednn_conv2d; static graphs (exports) keep Paddle's conv."""

    def forward(self, x):
        if paddle.in_dynamic_mode() and x.place.is_cpu_place() and x.dtype == paddle.float32:
            return conv2d(
                x, self.weight, self.bias, self._stride, symmetric_padding(self), self._dilation, self._groups
            )
        return super().forward(x)


def swappable(layer, conv_set):
    """Whether `use_onednn_convs(conv_set)` swaps `layer`: a plain nn.Conv2D the operator computes exactly."""
    if type(layer) is not nn.Conv2D or symmetric_padding(layer) is None:
        return False
    return conv_set == "all" or layer._groups > 1


def use_onednn_convs(net, conv_set="all"):
    """Make `net`'s convolutions of `conv_set` (CONV_SETS) run on oneDNN, in place; returns how many were swapped."""
    if conv_set not in CONV_SETS:
        raise ValueError(f"conv_set must be one of {CONV_SETS}, got {conv_set!r}")
    swapped = [layer for layer in net.sublayers(include_self=True) if swappable(layer, conv_set)]
    for layer in swapped:
        layer.__class__ = OneDNNConv2D  # same object, same parameters: only forward changes
    return len(swapped)


def use_paddle_convs(net):
    """Undo `use_onednn_convs`: every OneDNNConv2D of `net` becomes an nn.Conv2D again; returns how many."""
    swapped = [layer for layer in net.sublayers(include_self=True) if type(layer) is OneDNNConv2D]
    for layer in swapped:
        layer.__class__ = nn.Conv2D
    return len(swapped)
