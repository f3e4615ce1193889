"""PyTorch reference networks, each naming its tensors as its source code does, for parity tests and benchmarks.

    from torch_reference import build      # needs torch; the repository root on sys.path (tests and benchmarks put it there)
    net = build("resnet50_nam", num_classes=100)

Names: resnet{18,34,50,101,152}[_se|_eca|_cbam|_nam|_eca_official|_cbam_official] and epsanet{50,101};
`LAYOUTS[name]` is the `paddle_attn.convert` layout its state dict converts with. Each is parity-tested
against paddle_attn's network (tests/test_convert.py).
"""

import functools

from .cbam_official import cbam_resnet
from .cbam_tutorial import resnet_cbam
from .eca_official import eca_resnet
from .eca_tutorial import resnet_eca
from .epsanet import epsanet
from .nam_tutorial import resnet_nam
from .resnet import DEPTHS, resnet
from .squeeze_excitation import resnet_se

# suffix -> (builder(depth, num_classes, ...), converter layout)
FAMILIES = {
    "": (resnet, "torchvision"),  # torchvision's ResNet, ImageNet stem
    "_se": (resnet_se, "torchvision"),  # SE as the PSA tutorial's SEWeightModule (seed 000/003)
    "_eca": (resnet_eca, "eca_tutorial"),  # seed 002, CIFAR stem
    "_cbam": (resnet_cbam, "cbam_tutorial"),  # seed 004, CIFAR stem
    "_nam": (resnet_nam, "nam_tutorial"),  # seed 001 ported, CIFAR stem
    "_eca_official": (eca_resnet, "eca_official"),  # ImageNet stem, k_size=(k1, k2, k3, k4)
    "_cbam_official": (cbam_resnet, "cbam_official"),  # ImageNet stem
}
BUILDERS = {
    f"resnet{depth}{suffix}": functools.partial(builder, depth)
    for depth in DEPTHS
    for suffix, (builder, _) in FAMILIES.items()
}
LAYOUTS = {f"resnet{depth}{suffix}": layout for depth in DEPTHS for suffix, (_, layout) in FAMILIES.items()}
for _depth in (50, 101):  # seed 003, ImageNet stem
    BUILDERS[f"epsanet{_depth}"] = functools.partial(epsanet, _depth)
    LAYOUTS[f"epsanet{_depth}"] = "epsanet"


def build(name, num_classes=1000, **kwargs):
    """The reference network `name` as a torch.nn.Module; kwargs go to its builder (e.g. k_size, stem)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown reference network {name!r}; known: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name](num_classes=num_classes, **kwargs)
