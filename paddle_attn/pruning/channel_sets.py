"""The channel sets a ResNet can lose: each residual block's inner channels, between its first convs.

A set is the output channels of one conv, its BatchNorm, and the input slice of the conv that reads them: a
BasicBlock's conv1 -> bn1 -> conv2, a Bottleneck's conv1 -> bn1 -> conv2 and conv2 -> bn2 -> conv3.
The residual path's channels (each block's output, the stem, the downsample convs) are never pruned: every block
of a stage adds its output to the same identity tensor, so they could only go all at once across the stage, and
the attention gate of each block (SE, ECA, CBAM, NAM, coordinate attention) sits on that output width.
"""

from __future__ import annotations

from dataclasses import dataclass

import paddle.nn as nn

from paddle_attn.errors import ModelError
from paddle_attn.models import BasicBlock, Bottleneck, ResNet

STAGES = ("layer1", "layer2", "layer3", "layer4")
# per block kind: (producer conv, its BatchNorm, the conv reading its output) of each inner channel set, in order
INNER_SETS = {
    BasicBlock: (("conv1", "bn1", "conv2"),),
    Bottleneck: (("conv1", "bn1", "conv2"), ("conv2", "bn2", "conv3")),
}


@dataclass(frozen=True)
class ChannelSet:
    """One prunable set: `block` (e.g. "layer2.1", the state-dict prefix), the names of its `producer` conv,
    `norm` and `consumer` conv in that block, the `norm` layer itself, and `block_index` over the whole network."""

    block: str
    block_index: int
    producer: str
    norm_name: str
    consumer: str
    norm: nn.BatchNorm2D

    @property
    def width(self) -> int:
        return int(self.norm._mean.shape[0])  # its running mean: one value per channel


def channel_sets(net) -> list[ChannelSet]:
    """Every inner channel set of `net`, block by block (stage by stage); ModelError for a network it cannot prune."""
    if not isinstance(net, ResNet):
        raise ModelError(f"pruning takes a paddle_attn ResNet, got a {type(net).__name__}")
    sets, index = [], 0
    for stage in STAGES:
        for position, block in enumerate(getattr(net, stage)):
            if isinstance(block, Bottleneck) and not isinstance(block.conv2, nn.Conv2D):
                raise ModelError(
                    f"cannot prune {type(block.conv2).__name__} blocks (EPSANet): PSA splits its channels into "
                    f"fixed groups read by grouped convolutions and one SE weight per group, so removing channels "
                    f"would change its group structure, not only its widths"
                )
            for producer, norm, consumer in INNER_SETS[type(block)]:
                sets.append(ChannelSet(f"{stage}.{position}", index, producer, norm, consumer, getattr(block, norm)))
            index += 1
    return sets


def inner_widths(sets: list[ChannelSet], kept: list[list[int]] | None = None) -> list[list[int]]:
    """The `inner_widths` model argument for `sets` keeping `kept[i]` channels of set i (None: all of them)."""
    widths: list[list[int]] = []
    for i, channel_set in enumerate(sets):
        if channel_set.block_index == len(widths):
            widths.append([])
        widths[-1].append(channel_set.width if kept is None else len(kept[i]))
    return widths
