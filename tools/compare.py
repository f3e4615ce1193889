"""python tools/compare.py --help: the command paddle-attn-compare (paddle_attn/cli/compare.py), run from a checkout."""

import _shim

_shim.run(__file__)
