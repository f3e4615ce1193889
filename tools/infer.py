"""python tools/infer.py --help: the command paddle-attn-infer (paddle_attn/cli/infer.py), run from a checkout."""

import _shim

_shim.run(__file__)
