"""Swap a network's nn.Conv2D, nn.BatchNorm2D, nn.ReLU and nn.Sigmoid layers to the oneDNN operators in place: the
same parameters and buffers under the same names, so checkpoints, optimizers and exports see no difference."""

import paddle
import paddle.nn.functional as F
from paddle import nn

from paddle_attn.kernels.onednn.batch_norm import LAYOUT_MODES as BATCH_NORM_LAYOUTS
from paddle_attn.kernels.onednn.batch_norm import batch_norm
from paddle_attn.kernels.onednn.conv import conv2d, precision_code
from paddle_attn.kernels.onednn.eltwise import add_relu, relu, sigmoid

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


def _eager_cpu_fp32(x):
    """Whether the oneDNN operators take `x`: eager mode (static graphs and exports keep Paddle's ops), CPU, fp32."""
    return paddle.in_dynamic_mode() and x.place.is_cpu_place() and x.dtype == paddle.float32


class OneDNNConv2D(nn.Conv2D):
    """nn.Conv2D whose eager fp32 CPU forward runs onednn_conv2d, its products in `onednn_precision` (conv.py's
    PRECISIONS); static graphs (exports) keep Paddle's conv."""

    onednn_precision = "fp32"

    def forward(self, x):
        if _eager_cpu_fp32(x):
            padding, precision = symmetric_padding(self), self.onednn_precision
            return conv2d(
                x, self.weight, self.bias, self._stride, padding, self._dilation, self._groups, precision=precision
            )
        return super().forward(x)


def swappable(layer, conv_set):
    """Whether `use_onednn_convs(conv_set)` swaps `layer`: a plain nn.Conv2D the operator computes exactly."""
    if type(layer) is not nn.Conv2D or symmetric_padding(layer) is None:
        return False
    return conv_set == "all" or layer._groups > 1


def use_onednn_convs(net, conv_set="all", precision="fp32"):
    """Make `net`'s convolutions of `conv_set` (CONV_SETS) run on oneDNN with products in `precision` (PRECISIONS),
    in place; returns how many were swapped."""
    if conv_set not in CONV_SETS:
        raise ValueError(f"conv_set must be one of {CONV_SETS}, got {conv_set!r}")
    precision_code(precision)  # refused here, not at the first forward
    swapped = [layer for layer in net.sublayers(include_self=True) if swappable(layer, conv_set)]
    for layer in swapped:
        layer.__class__ = OneDNNConv2D  # same object, same parameters: only forward changes
        layer.onednn_precision = precision
    return len(swapped)


def _retype(net, old_class, new_class):
    """Every layer of `net` of exactly `old_class` becomes a `new_class` (same object and tensors); returns how many."""
    layers = [layer for layer in net.sublayers(include_self=True) if type(layer) is old_class]
    for layer in layers:
        layer.__class__ = new_class
    return len(layers)


def use_paddle_convs(net):
    """Undo `use_onednn_convs`: every OneDNNConv2D of `net` becomes an nn.Conv2D again; returns how many."""
    for layer in net.sublayers(include_self=True):
        if type(layer) is OneDNNConv2D:
            layer.__dict__.pop("onednn_precision", None)  # nn.Conv2D has no use for it
    return _retype(net, OneDNNConv2D, nn.Conv2D)


class OneDNNBatchNorm2D(nn.BatchNorm2D):
    """nn.BatchNorm2D whose eager fp32 CPU forward runs onednn_batch_norm in the activation layout `onednn_layout`
    (batch_norm.py's LAYOUT_MODES); static graphs (exports) keep Paddle's batch norm."""

    onednn_layout = "nchw"

    def forward(self, x):
        if _eager_cpu_fp32(x) and x.ndim == 4:
            return batch_norm(
                x,
                self._mean,
                self._variance,
                self.weight,
                self.bias,
                training=self.training,
                momentum=self._momentum,
                epsilon=self._epsilon,
                layout=self.onednn_layout,
            )
        return super().forward(x)


def batch_norm_swappable(layer):
    """Whether `use_onednn_batch_norms` swaps `layer`: a plain NCHW nn.BatchNorm2D with a scale and a shift whose
    statistics follow the mode (use_global_stats unset), which the operator computes exactly."""
    return (
        type(layer) is nn.BatchNorm2D
        and layer._data_format == "NCHW"
        and layer._use_global_stats is None
        and layer.weight is not None
        and layer.bias is not None
    )


def use_onednn_batch_norms(net, layout="nchw"):
    """Make `net`'s swappable nn.BatchNorm2D layers run on oneDNN in `layout`, in place; returns how many."""
    if layout not in BATCH_NORM_LAYOUTS:
        raise ValueError(f"layout must be one of {tuple(BATCH_NORM_LAYOUTS)}, got {layout!r}")
    swapped = [layer for layer in net.sublayers(include_self=True) if batch_norm_swappable(layer)]
    for layer in swapped:
        layer.__class__ = OneDNNBatchNorm2D
        layer.onednn_layout = layout
    return len(swapped)


def use_paddle_batch_norms(net):
    """Undo `use_onednn_batch_norms`: every OneDNNBatchNorm2D of `net` becomes an nn.BatchNorm2D again."""
    return _retype(net, OneDNNBatchNorm2D, nn.BatchNorm2D)


class OneDNNReLU(nn.ReLU):
    """nn.ReLU whose eager fp32 CPU forward runs onednn_eltwise; static graphs (exports) keep Paddle's relu."""

    def forward(self, x):
        return relu(x) if _eager_cpu_fp32(x) else super().forward(x)


class OneDNNSigmoid(nn.Sigmoid):
    """nn.Sigmoid whose eager fp32 CPU forward runs onednn_eltwise; static graphs (exports) keep Paddle's sigmoid."""

    def forward(self, x):
        return sigmoid(x) if _eager_cpu_fp32(x) else super().forward(x)


ACTIVATION_SWAPS = {nn.ReLU: OneDNNReLU, nn.Sigmoid: OneDNNSigmoid}


def use_onednn_activations(net):
    """Make `net`'s nn.ReLU and nn.Sigmoid layers run on oneDNN, in place; returns how many were swapped."""
    return sum(_retype(net, paddle_class, onednn_class) for paddle_class, onednn_class in ACTIVATION_SWAPS.items())


def use_paddle_activations(net):
    """Undo `use_onednn_activations`; returns how many layers went back to Paddle's."""
    return sum(_retype(net, onednn_class, paddle_class) for paddle_class, onednn_class in ACTIVATION_SWAPS.items())


class OneDNNAddReLU(nn.Layer):
    """relu(x + y), on onednn_add_relu for eager fp32 CPU tensors of one shape; static graphs (exports) trace Paddle's
    add_n and relu."""

    def forward(self, x, y):
        if _eager_cpu_fp32(x) and _eager_cpu_fp32(y) and x.shape == y.shape:
            return add_relu(x, y)
        return F.relu(paddle.add_n([x, y]))


def use_onednn_add_relu(net, junction_class):
    """Every layer of `net` of exactly `junction_class`, a layer without tensors whose forward(x, y) is relu(x + y)
    (a model's residual junction), becomes an OneDNNAddReLU in place; returns how many."""
    return _retype(net, junction_class, OneDNNAddReLU)


def use_paddle_add_relu(net, junction_class):
    """Undo `use_onednn_add_relu`; returns how many layers went back to `junction_class`."""
    return _retype(net, OneDNNAddReLU, junction_class)
