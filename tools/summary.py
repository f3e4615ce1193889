"""python tools/summary.py --help: the command paddle-attn-summary (paddle_attn/cli/summary.py), run from a checkout."""

import _shim

_shim.run(__file__)
