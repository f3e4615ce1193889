"""The NAM paper's sparsity penalty on its attention scales (eq. 4: loss + lambda * sum |gamma|)."""

import paddle

from paddle_attn.layers import NAMChannelAttention, NAMPixelAttention


def nam_gammas(net):
    """The BatchNorm scales (gamma) of every NAM attention branch in `net`."""
    return [layer.weight for layer in net.sublayers() if isinstance(layer, (NAMChannelAttention, NAMPixelAttention))]


def add_nam_sparsity(net, lam):
    """Add lambda * sign(gamma), the gradient of eq. 4's penalty, to each NAM scale's gradient.

    Applied as a gradient hook, the way the authors' training code adds it after backward
    (lambda = 1e-4 there); the loss value itself is left as the plain cross-entropy.
    Returns the hook handles (`.remove()` undoes it).
    """
    if lam <= 0:
        return []
    return [scale.register_hook(lambda grad, scale=scale: grad + lam * paddle.sign(scale)) for scale in nam_gammas(net)]
