"""Source layouts: how each PyTorch code base names its tensors, as regex renames onto paddle_attn's names.

A key is renamed by the layout's own rules, then by the rules every layout shares (BatchNorm's
running statistics); the renamed key then picks a reshape (the classifier's Linear weight, say).
"""

import dataclasses
import re

from paddle_attn.convert.errors import ConversionError
from paddle_attn.convert.tensors import linear_to_conv1x1, transpose_linear

# torch BatchNorm's running statistics are Paddle's _mean/_variance; its batch counter has no Paddle twin
SHARED_RENAMES = ((r"\.running_mean$", "._mean"), (r"\.running_var$", "._variance"))
SHARED_RESHAPES = ((r"^fc\.weight$", transpose_linear),)
DROPPED = re.compile(r"(^|\.)num_batches_tracked$")
# the ECA and CBAM tutorials' ResNet names its shortcut and classifier differently from torchvision
TUTORIAL_RESNET = ((r"\.shortcut\.", ".downsample."), (r"^linear\.", "fc."))


@dataclasses.dataclass(frozen=True)
class Layout:
    """One source's naming: `renames` are (pattern, replacement) pairs applied in order to every key,
    `reshapes` are (pattern on the renamed key, function on the array), `attention_kwargs` are the
    `create_model` attention options the source's blocks need."""

    name: str
    source: str
    renames: tuple = ()
    reshapes: tuple = ()
    attention_kwargs: dict = dataclasses.field(default_factory=dict)

    def drops(self, key):
        return DROPPED.search(key) is not None

    def rename(self, key):
        for pattern, replacement in self.renames + SHARED_RENAMES:
            key = re.sub(pattern, replacement, key)
        return key

    def reshape(self, key, array):
        for pattern, reshape in self.reshapes + SHARED_RESHAPES:
            if re.search(pattern, key):
                return reshape(array)
        return array


LAYOUTS = {
    layout.name: layout
    for layout in (
        Layout("torchvision", "torchvision's resnet.py: conv1, bn1, layer1.0.conv1, downsample.0/1, fc"),
        Layout(
            "eca_tutorial",
            "the ECA-Net tutorial's ResNet: block.channel.conv1 is ECA's Conv1d",
            TUTORIAL_RESNET + ((r"\.channel\.conv1\.", ".attention.conv."),),
        ),
        Layout(
            "cbam_tutorial",
            "the CBAM tutorial's ResNet: block.channel.fc1/fc2, block.spatial.conv1",
            TUTORIAL_RESNET
            + (
                (r"\.channel\.(fc[12])\.", r".attention.channel.\1."),
                (r"\.spatial\.conv1\.", ".attention.spatial.conv."),
            ),
        ),
        Layout("epsanet", "the EPSANet authors' epsanet.py: block.conv2.conv_1..4 and conv2.se.fc1/fc2, as ours"),
        Layout(
            "nam_tutorial",
            "the NAM tutorial's ResNet in PyTorch: block.nam.Channel_Att.bn2 is NAM's BatchNorm",
            ((r"\.nam\.Channel_Att\.bn2\.", ".attention.channel."),),
        ),
        Layout(
            "eca_official",
            "BangguWu/ECANet models/eca_resnet.py: block.eca.conv, per-stage kernel size",
            ((r"\.eca\.conv\.", ".attention.conv."),),
        ),
        Layout(
            "cbam_official",
            "Jongchan/attention-module MODELS/model_resnet.py + cbam.py: block.cbam.ChannelGate.mlp.1/3 "
            "(Linear with bias), block.cbam.SpatialGate.spatial.conv/bn",
            (
                (r"\.cbam\.ChannelGate\.mlp\.1\.", ".attention.channel.fc1."),
                (r"\.cbam\.ChannelGate\.mlp\.3\.", ".attention.channel.fc2."),
                (r"\.cbam\.SpatialGate\.spatial\.(conv|bn)\.", r".attention.spatial.\1."),
            ),
            ((r"\.attention\.channel\.fc[12]\.weight$", linear_to_conv1x1),),
            {"mlp_bias": True, "spatial_bn": True, "max_first": True},
        ),
    )
}


def get_layout(name):
    """The Layout called `name`, or a ConversionError listing the known ones."""
    if isinstance(name, Layout):
        return name
    if name not in LAYOUTS:
        raise ConversionError(f"unknown layout {name!r}; known layouts: {', '.join(LAYOUTS)}")
    return LAYOUTS[name]
