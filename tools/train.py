"""python tools/train.py --help: the command paddle-attn-train (paddle_attn/cli/train.py), run from a checkout."""

import _shim

_shim.run(__file__)
