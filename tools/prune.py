"""python tools/prune.py --help: the command paddle-attn-prune (paddle_attn/cli/prune.py), run from a checkout."""

import _shim

_shim.run(__file__)
