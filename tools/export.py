"""python tools/export.py --help: the command paddle-attn-export (paddle_attn/cli/export.py), run from a checkout."""

import _shim

_shim.run(__file__)
