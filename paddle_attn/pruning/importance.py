"""How much a channel matters: the |gamma| of the BatchNorm after it (network slimming, Liu et al. 2017, sec. 3).

A BatchNorm's output channel is gamma * x_hat + beta: as |gamma| goes to 0 (the L1 penalty of
`optim.add_bn_sparsity` pushes it there) the channel carries only the constant beta, and pruning it changes little.
NAM reads the same |gamma| as attention (its eq. 2 weights |gamma_i| / sum |gamma|): where a NAM gate's BatchNorm
normalizes a prunable set, its normalized weights would rank the same channels in the same order. In these
ResNets NAM's gate sits on each block's output, the residual width, which is not pruned (see `channel_sets`);
so the inner channels are ranked by their own BatchNorm's |gamma|, whatever the block's attention.
"""

import numpy as np

from paddle_attn.pruning.channel_sets import ChannelSet


def channel_importance(channel_set: ChannelSet) -> np.ndarray:
    """|gamma| of each channel of the set, the network-slimming criterion (a BatchNorm without a scale: all 1)."""
    gamma = channel_set.norm.weight
    return np.ones(channel_set.width) if gamma is None else np.abs(gamma.numpy())
