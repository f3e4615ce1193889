"""The NAM paper's sparsity penalty on its attention scales (eq. 4: loss + lambda * sum |gamma|)."""

from paddle_attn.layers import AttentionGate
from paddle_attn.optim.l1_penalty import add_l1_penalty


def nam_gammas(net):
    """The parameters every attention gate in `net` puts under the sparsity penalty (`sparsity_parameters`):
    the BatchNorm scales (gamma) of NAM's branches."""
    return [p for layer in net.sublayers() if isinstance(layer, AttentionGate) for p in layer.sparsity_parameters()]


def add_nam_sparsity(net, lam):
    """Add lambda * sign(gamma), the gradient of eq. 4's penalty, to each NAM scale's gradient (`add_l1_penalty`;
    lambda = 1e-4 in the authors' code). Returns the hook handles (`.remove()` undoes it)."""
    return add_l1_penalty(nam_gammas(net), lam)
