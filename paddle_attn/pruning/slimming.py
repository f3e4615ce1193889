"""Network slimming of a trained ResNet (Liu et al., ICCV 2017, arXiv:1708.06519): rank the inner channels by their
BatchNorm |gamma|, remove the lowest across all layers at once until a prune ratio or a FLOPs reduction is met."""

from __future__ import annotations

from dataclasses import dataclass

import paddle

from paddle_attn.analysis.model_cost import count_flops, count_params
from paddle_attn.errors import ModelError
from paddle_attn.pruning.channel_sets import ChannelSet, channel_sets
from paddle_attn.pruning.importance import channel_importance
from paddle_attn.pruning.selection import keep_for_flops, keep_for_ratio
from paddle_attn.pruning.surgery import prune_network

MIN_KEEP = 0.1  # the share of each layer's channels always kept, so no layer vanishes


@dataclass(frozen=True)
class Pruned:
    """A pruned network (eval mode) with its spec, the channels each set kept, and its size before and after:
    parameters as `count_params` totals, FLOPs of one `image_size` image as `count_flops` counts them."""

    net: paddle.nn.Layer
    spec: dict
    sets: list[ChannelSet]
    kept: list[list[int]]
    params: tuple[int, int]  # (before, after)
    flops: tuple[int, int]  # (before, after)


def flops_estimate(net, sets, shape):
    """`flops_of(kept)`: the FLOPs of `net` pruned to `kept`, from `count_flops`' per-layer counts of `net` alone.

    Exact under its rules: a conv's count is proportional to its input and its output channels (groups 1, no bias
    here), a BatchNorm's to its channels, and pruning changes no other layer (tests check it against a count of
    the pruned network); so a candidate costs no network built."""
    by_layer: dict[str, int] = {}
    full = count_flops(net, shape, by_layer)[0]

    def flops_of(kept):
        share: dict[str, float] = {}
        for channel_set, indices in zip(sets, kept):
            fraction = len(indices) / channel_set.width
            for layer in (channel_set.producer, channel_set.norm_name, channel_set.consumer):
                name = f"{channel_set.block}.{layer}"
                share[name] = share.get(name, 1.0) * fraction
        return round(full - sum(by_layer[name] * (1.0 - fraction) for name, fraction in share.items()))

    return flops_of


def slim(net, spec, image_size, ratio=None, flops_reduction=None, min_keep=MIN_KEEP, round_to=1) -> Pruned:
    """Prune `net` (built from the model `spec`, trained) by `ratio` (the share of all inner channels removed) or
    `flops_reduction` (the share of FLOPs removed at `image_size`), exactly one of them; `round_to`: every layer's
    width a multiple of it (or its full width). ModelError for a network or a target it cannot prune."""
    if (ratio is None) == (flops_reduction is None):
        raise ModelError("give exactly one of a prune ratio and a FLOPs reduction")
    sets = channel_sets(net)
    scores = [channel_importance(channel_set) for channel_set in sets]
    shape = [1, 3, image_size, image_size]
    if ratio is not None:
        kept = keep_for_ratio(scores, ratio, min_keep, round_to)
    else:
        kept = keep_for_flops(scores, flops_estimate(net, sets, shape), flops_reduction, min_keep, round_to)
    pruned, new_spec = prune_network(net, spec, sets, kept)
    return Pruned(
        pruned,
        new_spec,
        sets,
        kept,
        (count_params(net)[0], count_params(pruned)[0]),
        (count_flops(net, shape)[0], count_flops(pruned, shape)[0]),
    )
