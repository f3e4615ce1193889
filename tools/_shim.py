"""What every tools/<name>.py does: run the installed command paddle_attn.cli.<name> (`paddle-attn-<name>`).

The tools live in the package; these files keep `python tools/train.py -c ...` working from a checkout once the
package is installed, and say how to install it when it is not (the import path is left alone: the package imported is the installed one).
"""

import importlib
import os
import sys

INSTALL = 'pip install -e ".[cpu]"'


def run(script):
    """Run the `main()` of paddle_attn.cli.<name of `script`>; without paddle_attn, print the install command, exit 2."""
    name = os.path.splitext(os.path.basename(script))[0]
    try:
        import paddle_attn  # noqa: F401  (is the package installed?)
    except ModuleNotFoundError as err:
        if err.name != "paddle_attn":
            raise
        checkout = os.path.dirname(os.path.dirname(os.path.abspath(script)))
        print(f"error: paddle_attn is not installed; from the checkout ({checkout}): {INSTALL}", file=sys.stderr)
        sys.exit(2)
    importlib.import_module(f"paddle_attn.cli.{name}").main()
