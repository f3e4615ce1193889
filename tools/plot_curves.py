"""python tools/plot_curves.py --help: the command paddle-attn-plot-curves (paddle_attn/cli/plot_curves.py), run from a checkout."""

import _shim

_shim.run(__file__)
