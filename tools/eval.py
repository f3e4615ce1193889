"""python tools/eval.py --help: the command paddle-attn-eval (paddle_attn/cli/eval.py), run from a checkout."""

import _shim

_shim.run(__file__)
