"""Which paddle_attn model converted weights belong to: `create_model` arguments read off the tensors."""

import functools
import re

from paddle_attn.convert.errors import ConversionError
from paddle_attn.convert.layouts import get_layout
from paddle_attn.layers import ATTENTION_LAYERS, eca_kernel_size
from paddle_attn.models.resnet import DEPTHS, STAGES, BasicBlock, Bottleneck

BLOCK_KEY = re.compile(r"^layer([1-4])\.(\d+)\.")
STAGE_PLANES = (64, 128, 256, 512)
STEM_BY_KERNEL = {7: "imagenet", 3: "cifar"}
PSA_MARKER = ".conv2.conv_1.weight"


def infer_model_spec(params, layout, name=None, num_classes=None, stem=None):
    """`create_model` arguments for converted `params` (paddle names) as {"name", "num_classes", "stem", "kwargs"}.

    Depth comes from the blocks per stage, the attention from the block's tensor names, the classes from
    `fc`, the stem from conv1's kernel, ECA's per-stage kernel sizes from its weights; `name`,
    `num_classes` and `stem`, when given, win over what the tensors say.
    """
    attention = _attention(params)
    layout = get_layout(layout)
    return {
        "name": name or _model_name(params, attention),
        "num_classes": int(num_classes) if num_classes is not None else _num_classes(params),
        "stem": stem or _stem(params),
        "kwargs": _model_kwargs(params, layout, attention),
    }


@functools.cache
def attention_tensor_names():
    """{model-name suffix: the tensor names of that ATTENTION_LAYERS block, built with its defaults}."""
    return {suffix: frozenset(layer(64).state_dict()) for suffix, layer in ATTENTION_LAYERS.items()}


def _attention(params):
    """The suffix of the block whose every tensor name is among those under the residual blocks' `attention.`;
    of several, the one with most names (the CBAM authors' layout adds MLP biases and a BatchNorm to CBAM's)."""
    found = {key.split(".attention.", 1)[1] for key in params if BLOCK_KEY.match(key) and ".attention." in key}
    fits = [(len(names), suffix) for suffix, names in attention_tensor_names().items() if found and names <= found]
    return max(fits)[1] if fits else None


def _block_type(params):
    return Bottleneck if any(BLOCK_KEY.match(k) and k.endswith(".conv3.weight") for k in params) else BasicBlock


def _stage_depths(params):
    last = [-1] * STAGES
    for key in params:
        match = BLOCK_KEY.match(key)
        if match:
            stage, index = int(match.group(1)) - 1, int(match.group(2))
            last[stage] = max(last[stage], index)
    return tuple(i + 1 for i in last)


def _model_name(params, attention):
    block, depths = _block_type(params), _stage_depths(params)
    depth = next((d for d, (b, layers) in DEPTHS.items() if b is block and tuple(layers) == depths), None)
    if depth is None:
        raise ConversionError(
            f"cannot tell the model: {block.__name__}s per stage {list(depths)} match no ResNet depth "
            f"({', '.join(str(d) for d in DEPTHS)}); give the model name"
        )
    if any(key.endswith(PSA_MARKER) for key in params):
        return f"epsanet{depth}"
    return f"resnet{depth}" + (f"_{attention}" if attention else "")


def _num_classes(params):
    if "fc.bias" in params:
        return int(params["fc.bias"].shape[0])
    if "fc.weight" in params and params["fc.weight"].ndim == 2:
        return int(params["fc.weight"].shape[1])  # already transposed to Paddle's [in, out]
    raise ConversionError("cannot tell the number of classes: no classifier tensor fc.weight/fc.bias; give num_classes")


def _stem(params):
    conv1 = params.get("conv1.weight")
    kernel = conv1.shape[-1] if conv1 is not None and conv1.ndim == 4 else None
    if kernel not in STEM_BY_KERNEL:
        raise ConversionError(
            f"cannot tell the stem from conv1.weight (kernel {kernel}, expected 7 or 3); give the stem"
        )
    return STEM_BY_KERNEL[kernel]


def _model_kwargs(params, layout, attention):
    kwargs = {}
    if layout.attention_kwargs:
        kwargs["attention_kwargs"] = dict(layout.attention_kwargs)
    if attention == "eca":
        sizes = _eca_stage_kernel_sizes(params)
        if sizes != _eca_default_kernel_sizes(params):
            kwargs["stage_attention_kwargs"] = {"kernel_size": sizes}
    return kwargs


def _eca_stage_kernel_sizes(params):
    """ECA's kernel size in each stage, read off the stage's first block (the default size if it has no ECA weight)."""
    sizes = _eca_default_kernel_sizes(params)
    for stage in range(STAGES):
        weight = params.get(f"layer{stage + 1}.0.attention.conv.weight")
        if weight is not None:
            sizes[stage] = int(weight.shape[-1])
    return sizes


def _eca_default_kernel_sizes(params):
    expansion = _block_type(params).expansion
    return [eca_kernel_size(planes * expansion) for planes in STAGE_PLANES]
