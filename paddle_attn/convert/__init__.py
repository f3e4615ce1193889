"""PyTorch weights to paddle_attn: read a `.pth`, map its tensor names per source layout, check, save.

    from paddle_attn.convert import convert_file
    spec = convert_file("eca_resnet50_k3557.pth", "eca_official", "eca_resnet50.pdparams")
    # spec == {"name": "resnet50_eca", "num_classes": 1000, "stem": "imagenet",
    #          "kwargs": {"stage_attention_kwargs": {"kernel_size": [3, 5, 5, 7]}}}

torch is needed only to read `.pth` files; `convert_state_dict` also takes numpy arrays.
"""

from paddle_attn.convert.errors import ConversionError
from paddle_attn.convert.files import checkpoint_state, convert_file
from paddle_attn.convert.layouts import LAYOUTS, Layout, get_layout
from paddle_attn.convert.mapping import Converted, convert_state_dict, map_state_dict
from paddle_attn.convert.parity import Parity, convert_and_compare
from paddle_attn.convert.spec import infer_model_spec
from paddle_attn.convert.torch_reader import read_torch_state_dict, unwrap_state_dict

__all__ = [
    "LAYOUTS",
    "ConversionError",
    "Converted",
    "Layout",
    "Parity",
    "checkpoint_state",
    "convert_and_compare",
    "convert_file",
    "convert_state_dict",
    "get_layout",
    "infer_model_spec",
    "map_state_dict",
    "read_torch_state_dict",
    "unwrap_state_dict",
]
