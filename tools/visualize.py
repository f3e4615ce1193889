"""python tools/visualize.py --help: the command paddle-attn-visualize (paddle_attn/cli/visualize.py), run from a checkout."""

import _shim

_shim.run(__file__)
