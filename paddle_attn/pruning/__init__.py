"""Channel pruning of trained ResNets by their BatchNorm scales (network slimming), and pruned run folders."""

from paddle_attn.pruning.channel_sets import ChannelSet, channel_sets, inner_widths
from paddle_attn.pruning.importance import channel_importance
from paddle_attn.pruning.slimming import MIN_KEEP, Pruned, slim
from paddle_attn.pruning.surgery import prune_network, pruned_spec, pruned_state

__all__ = [
    "MIN_KEEP",
    "ChannelSet",
    "Pruned",
    "channel_importance",
    "channel_sets",
    "inner_widths",
    "prune_network",
    "pruned_spec",
    "pruned_state",
    "slim",
]
