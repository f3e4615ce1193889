"""The command-line tools, also installed as the package `paddle_attn_tools` for the `paddle-attn-*` entry points
(setup.py); `python tools/<name>.py` runs them from a checkout."""
