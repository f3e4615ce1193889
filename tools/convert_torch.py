"""python tools/convert_torch.py --help: the command paddle-attn-convert-torch (paddle_attn/cli/convert_torch.py), run from a checkout."""

import _shim

_shim.run(__file__)
