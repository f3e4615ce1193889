"""The NAM paper's sparsity penalty on its attention scales (eq. 4: loss + lambda * sum |gamma|)."""

import paddle

from paddle_attn.layers import AttentionGate


def nam_gammas(net):
    """The parameters every attention gate in `net` puts under the sparsity penalty (`sparsity_parameters`):
    the BatchNorm scales (gamma) of NAM's branches."""
    return [p for layer in net.sublayers() if isinstance(layer, AttentionGate) for p in layer.sparsity_parameters()]


def add_nam_sparsity(net, lam):
    """Add lambda * sign(gamma), the gradient of eq. 4's penalty, to each NAM scale's gradient.

    Applied as a gradient hook, the way the authors' training code adds it after backward
    (lambda = 1e-4 there); the loss value itself is left as the plain cross-entropy.
    Returns the hook handles (`.remove()` undoes it).
    """
    if lam <= 0:
        return []
    return [scale.register_hook(lambda grad, scale=scale: grad + lam * paddle.sign(scale)) for scale in nam_gammas(net)]
