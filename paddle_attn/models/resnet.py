"""One ResNet for every depth (18-152), stem and attention block; after torchvision's resnet.py.

The attention layer sits on the residual branch after the last BatchNorm, before the shortcut is
added, as in every tutorial this package mirrors.
"""

import functools
import inspect

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_attn.errors import ModelError, did_you_mean
from paddle_attn.layers import ATTENTION_LAYERS
from paddle_attn.models.registry import register_model

STEMS = ("imagenet", "cifar")
STAGES = 4


def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2D(in_channels, out_channels, 3, stride=stride, padding=1, bias_attr=False)


def conv1x1(in_channels, out_channels, stride=1):
    return nn.Conv2D(in_channels, out_channels, 1, stride=stride, bias_attr=False)


class ResidualReLU(nn.Layer):
    """A residual block's junction, relu(out + identity): a layer, so the CPU training path can run it as one oneDNN
    operator (cpu.kernels). Traced as `add_n`: Paddle 3.3 prints a PIR warning (eager_utils.cc:3584) for `+`."""

    def forward(self, out, identity):
        return F.relu(out + identity if paddle.in_dynamic_mode() else paddle.add_n([out, identity]))


class BasicBlock(nn.Layer):
    """Two 3x3 convs (ResNet-18/34). `attention(channels)` builds the block's attention layer, or None.

    `widths`: `[inner]`, the channels between conv1 and conv2 (default `planes`; fewer in a pruned network).
    """

    expansion = 1
    inner_convs = 1  # the inner channel sets `widths` gives: conv1's output

    def __init__(self, in_channels, planes, stride=1, downsample=None, attention=None, conv_layer=conv3x3, widths=None):
        super().__init__()
        (inner,) = widths or (planes,)
        self.conv1 = conv_layer(in_channels, inner, stride)
        self.bn1 = nn.BatchNorm2D(inner)
        self.conv2 = conv3x3(inner, planes)
        self.bn2 = nn.BatchNorm2D(planes)
        self.attention = attention(planes) if attention else None
        self.downsample = downsample
        self.relu = nn.ReLU()  # a layer, not F.relu: the CPU training path swaps it for oneDNN's (cpu.kernels)
        self.junction = ResidualReLU()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.attention is not None:
            out = self.attention(out)
        return self.junction(out, identity)


class Bottleneck(nn.Layer):
    """1x1 reduce, 3x3 (stride here, as in Paddle's and torchvision's v1.5), 1x1 expand by 4 (ResNet-50/101/152).

    `conv_layer(in, out, stride)` builds the middle conv: a 3x3 conv, or `PSAModule` for EPSANet.
    `widths`: `[first, second]`, the outputs of conv1 and conv2 (default `planes` both; fewer in a pruned network).
    """

    expansion = 4
    inner_convs = 2  # the inner channel sets `widths` gives: conv1's and conv2's outputs

    def __init__(self, in_channels, planes, stride=1, downsample=None, attention=None, conv_layer=conv3x3, widths=None):
        super().__init__()
        first, second = widths or (planes, planes)
        self.conv1 = conv1x1(in_channels, first)
        self.bn1 = nn.BatchNorm2D(first)
        self.conv2 = conv_layer(first, second, stride)
        self.bn2 = nn.BatchNorm2D(second)
        self.conv3 = conv1x1(second, planes * self.expansion)
        self.bn3 = nn.BatchNorm2D(planes * self.expansion)
        self.attention = attention(planes * self.expansion) if attention else None
        self.downsample = downsample
        self.relu = nn.ReLU()  # a layer, not F.relu: the CPU training path swaps it for oneDNN's (cpu.kernels)
        self.junction = ResidualReLU()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.attention is not None:
            out = self.attention(out)
        return self.junction(out, identity)


class ResNet(nn.Layer):
    """ResNet with an optional attention block in every residual block.

    Args:
        block: `BasicBlock` or `Bottleneck`.
        layers: blocks per stage, e.g. (3, 4, 6, 3).
        num_classes: outputs of the final Linear layer (>= 1).
        stem: "imagenet" (7x7 stride-2 conv + 3x3 max-pool) or "cifar" (3x3 stride-1 conv, no pool).
        attention: a layer class built as `attention(channels, **attention_kwargs)`, or None.
        attention_kwargs: keyword arguments for every attention layer.
        stage_attention_kwargs: keyword arguments with one value per stage, e.g. the ECA authors'
            per-stage kernel sizes `{"kernel_size": (3, 5, 5, 7)}`.
        conv_layer: builds each Bottleneck's middle conv as `conv_layer(in, out, stride)`.
        in_channels: channels of the input images.
        inner_widths: a pruned network's inner widths, one list per residual block in order (stage by stage):
            `[conv1 out]` for a BasicBlock, `[conv1 out, conv2 out]` for a Bottleneck (`paddle_attn.pruning`
            writes them); None: every block at its full width. The residual path keeps its width.
    """

    def __init__(
        self,
        block,
        layers,
        num_classes=1000,
        stem="imagenet",
        attention=None,
        attention_kwargs=None,
        stage_attention_kwargs=None,
        conv_layer=conv3x3,
        in_channels=3,
        inner_widths=None,
    ):
        super().__init__()
        if stem not in STEMS:
            raise ModelError(f"stem must be one of {', '.join(map(repr, STEMS))}, got {stem!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ModelError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        if len(layers) != STAGES:
            raise ModelError(f"layers must give {STAGES} stage depths, got {layers!r}")
        check_network_kwargs(
            {"attention_kwargs": attention_kwargs, "stage_attention_kwargs": stage_attention_kwargs}, attention
        )
        stage_attention_kwargs = dict(stage_attention_kwargs or {})
        check_inner_widths(inner_widths, block, layers, conv_layer)
        self._block_widths = iter(inner_widths or [None] * sum(layers))

        self.stem = stem
        if stem == "imagenet":
            self.conv1 = nn.Conv2D(in_channels, 64, 7, stride=2, padding=3, bias_attr=False)
            self.maxpool = nn.MaxPool2D(3, stride=2, padding=1)
        else:  # small images: no early downsampling (NAM tutorial, after weiaicunzai/pytorch-cifar100)
            self.conv1 = nn.Conv2D(in_channels, 64, 3, stride=1, padding=1, bias_attr=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2D(64)
        self.relu = nn.ReLU()

        self._in_channels = 64
        stages = []
        for stage, (planes, depth) in enumerate(zip((64, 128, 256, 512), layers)):
            stage_attention = None
            if attention is not None:
                per_stage = {key: values[stage] for key, values in stage_attention_kwargs.items()}
                stage_attention = functools.partial(attention, **(attention_kwargs or {}), **per_stage)
            stages.append(self._make_stage(block, planes, depth, 1 if stage == 0 else 2, stage_attention, conv_layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_stage(self, block, planes, depth, stride, attention, conv_layer):
        downsample = None
        if stride != 1 or self._in_channels != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self._in_channels, planes * block.expansion, stride),
                nn.BatchNorm2D(planes * block.expansion),
            )
        blocks = [block(self._in_channels, planes, stride, downsample, attention, conv_layer, next(self._block_widths))]
        self._in_channels = planes * block.expansion
        blocks += [
            block(
                self._in_channels, planes, attention=attention, conv_layer=conv_layer, widths=next(self._block_widths)
            )
            for _ in range(1, depth)
        ]
        return nn.Sequential(*blocks)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(
                f"{type(self).__name__} expects images as a 4-D tensor (N, C, H, W), got shape {list(x.shape)}"
            )
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


DEPTHS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


# ResNet arguments a registered builder sets itself: not a user's to give
_BUILDER_ARGUMENTS = ("self", "block", "layers", "num_classes", "stem", "attention")


def check_network_kwargs(kwargs, attention, fixed=()):
    """Raise ModelError for a keyword argument `ResNet` (with `attention`) would refuse, naming it and the valid ones.

    `fixed`: further arguments the builder sets itself (EPSANet's `conv_layer`).
    """
    allowed = [p for p in inspect.signature(ResNet.__init__).parameters if p not in _BUILDER_ARGUMENTS + tuple(fixed)]
    for key in kwargs:
        if key not in allowed:
            raise ModelError(
                f"unknown argument {key!r}{did_you_mean(key, allowed)}; the network takes: {', '.join(allowed)}"
            )
    options = kwargs.get("attention_kwargs") or {}
    per_stage = kwargs.get("stage_attention_kwargs") or {}
    for name, value in (("attention_kwargs", options), ("stage_attention_kwargs", per_stage)):
        if not isinstance(value, dict):
            raise ModelError(f"{name} must be a mapping of option names to values, got {value!r}")
    if attention is None and (options or per_stage):
        raise ModelError("attention_kwargs given to a ResNet without attention")
    for key, values in per_stage.items():
        if isinstance(values, (str, dict)) or not hasattr(values, "__len__") or len(values) != STAGES:
            raise ModelError(
                f"stage_attention_kwargs[{key!r}] must give {STAGES} values, one per stage, got {values!r}"
            )
    if attention is not None:
        accepted = [p for p in inspect.signature(attention.__init__).parameters if p not in ("self", "channels")]
        for key in [*options, *per_stage]:
            if key not in accepted:
                raise ModelError(
                    f"{attention.__name__} has no option {key!r}{did_you_mean(key, accepted)}; "
                    f"its options: {', '.join(accepted)}"
                )
        for stage in range(STAGES):  # each gate checks its values: refused here, before a network is built
            values = {**options, **{key: per_stage[key][stage] for key in per_stage}}
            try:
                attention(64, **values)
            except (ModelError, ValueError, TypeError) as err:
                raise ModelError(f"{attention.__name__} options {values}: {err}") from err


def check_inner_widths(inner_widths, block, layers, conv_layer=conv3x3):
    """Raise ModelError unless `inner_widths` is None or one list of `block.inner_convs` positive integers per
    residual block of `layers`; only plain 3x3 middle convs take them (PSA's grouped convs split fixed groups)."""
    if inner_widths is None:
        return
    if conv_layer is not conv3x3:
        raise ModelError(
            f"inner_widths needs the blocks' plain 3x3 convs; this network's middle conv is "
            f"{getattr(conv_layer, '__name__', conv_layer)}, whose grouped convolutions split its channels in fixed groups"
        )
    blocks = sum(layers)
    if isinstance(inner_widths, (str, dict)) or not hasattr(inner_widths, "__len__") or len(inner_widths) != blocks:
        raise ModelError(f"inner_widths must give one list per residual block ({blocks}), got {inner_widths!r}")
    for index, widths in enumerate(inner_widths):
        if (
            not isinstance(widths, (list, tuple))
            or len(widths) != block.inner_convs
            or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths)
        ):
            raise ModelError(
                f"inner_widths[{index}] must be {block.inner_convs} positive integer(s) for a {block.__name__}, "
                f"got {widths!r}"
            )


def _resnet_builder(depth, attention):
    block, layers = DEPTHS[depth]

    def build(num_classes=1000, stem="imagenet", **kwargs):
        return ResNet(block, layers, num_classes, stem, attention=attention, **kwargs)

    def check_kwargs(kwargs):
        check_network_kwargs(kwargs, attention)
        check_inner_widths(kwargs.get("inner_widths"), block, layers)

    build.check_kwargs = check_kwargs
    return build


for _depth in DEPTHS:
    register_model(f"resnet{_depth}", _resnet_builder(_depth, None))
    for _suffix, _layer in ATTENTION_LAYERS.items():
        register_model(f"resnet{_depth}_{_suffix}", _resnet_builder(_depth, _layer))
