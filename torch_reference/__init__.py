"""PyTorch reference networks, each naming its tensors as its source code does, for parity tests and benchmarks.

    from torch_reference import build      # needs torch; the repository root on sys.path (tests and benchmarks put it there)
    net = build("resnet50_nam", num_classes=100)

Names: resnet{18,34,50,101,152}<suffix> for each suffix a module of this package declares in its `REFERENCES`
({suffix: (builder(depth, num_classes, ...), converter layout)}: a new reference is one file, found here), and
epsanet{50,101}; `LAYOUTS[name]` is the `paddle_attn.convert` layout its state dict converts with. Each is
parity-tested against paddle_attn's network (tests/test_convert.py).
"""

import functools
import importlib
import pkgutil

from .cbam_official import cbam_resnet
from .cbam_tutorial import resnet_cbam
from .eca_official import eca_resnet
from .eca_tutorial import resnet_eca
from .epsanet import epsanet
from .nam_tutorial import resnet_nam
from .resnet import DEPTHS, resnet
from .squeeze_excitation import resnet_se

__all__ = [
    "BUILDERS",
    "DEPTHS",
    "FAMILIES",
    "LAYOUTS",
    "build",
    "cbam_resnet",
    "eca_resnet",
    "epsanet",
    "resnet",
    "resnet_cbam",
    "resnet_eca",
    "resnet_nam",
    "resnet_se",
]


def _declared_references():
    """{suffix: (builder, layout)} merged from the `REFERENCES` of every module in this package."""
    found = {}
    for module in sorted(info.name for info in pkgutil.iter_modules(__path__)):
        for suffix, reference in getattr(importlib.import_module(f"{__name__}.{module}"), "REFERENCES", {}).items():
            if suffix in found:
                raise ValueError(f"torch_reference.{module} declares {suffix!r} again")
            found[suffix] = reference
    return found


FAMILIES = _declared_references()
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
