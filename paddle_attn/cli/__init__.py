"""The command-line tools: each module here but the private ones is a tool with `main()`, installed as the command
`paddle-attn-<module>` (setup.py lists this folder) and run from a checkout as `python tools/<module>.py`.

What they share (`-c/-o` arguments, CPU settings, one-line errors) is in `_shared`, exported here."""

from paddle_attn.cli._shared import (
    CONFIG_HELP,
    TRUSTED_HELP,
    add_config_argument,
    command,
    config_from_args,
    config_parser,
    progress_printer,
    run,
    run_script,
    run_tool,
    say,
    set_up_process,
    set_up_process_for,
)

__all__ = [
    "CONFIG_HELP",
    "TRUSTED_HELP",
    "add_config_argument",
    "command",
    "config_from_args",
    "config_parser",
    "progress_printer",
    "run",
    "run_script",
    "run_tool",
    "say",
    "set_up_process",
    "set_up_process_for",
]
