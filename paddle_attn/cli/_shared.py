"""What every tool of paddle_attn/cli/ shares: `-c/-o` config arguments, CPU settings, and user errors as one line, not a traceback."""

import argparse
import functools
import os
import subprocess
import sys

from paddle_attn.config import builtin_configs, load_config
from paddle_attn.cpu import apply_cpu_settings
from paddle_attn.errors import UserError

TRUSTED_HELP = "read weights files that hold objects other than arrays (old files): runs any code they hold"
CONFIG_HELP = "YAML config file, or the name of a config shipped with paddle_attn (see --list-configs)"


class ListConfigs(argparse.Action):
    """`--list-configs`: print the built-in config names, one a line, and exit (as --help does, before -c is due)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print("\n".join(builtin_configs()))
        parser.exit()


def add_config_argument(parser, required=True, help=CONFIG_HELP):
    """`-c/--config` (a path or a built-in name) and `--list-configs`."""
    parser.add_argument("-c", "--config", required=required, help=help)
    parser.add_argument("--list-configs", action=ListConfigs, help="print the names -c takes without a path, and exit")


def config_parser(description, config_required=True):
    parser = argparse.ArgumentParser(description=description)
    add_config_argument(parser, config_required)
    parser.add_argument(
        "-o",
        "--override",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value (YAML syntax); may be repeated",
    )
    return parser


def config_from_args(args, saved_run=False):
    """The config of `-c` and `-o`; `saved_run`: `-c` is a run's saved config.yaml (see `config.load_config`)."""
    return load_config(args.config, args.override, saved_run)


def set_up_process(threads=None, fast_blas=True, keep_freed=True):
    """An entry point's process-wide CPU settings (see `cpu.apply_cpu_settings`), before any conv runs."""
    return apply_cpu_settings(threads, fast_blas, keep_freed)


def set_up_process_for(config):
    """`set_up_process` with the config's `cpu.threads`, `cpu.fast_blas` and `cpu.keep_freed_memory`."""
    cpu = config["cpu"]
    return set_up_process(cpu["threads"], cpu["fast_blas"], cpu["keep_freed_memory"])


def run(main):
    """Call `main()`; a `UserError` prints `error: ...` on stderr and exits 2, Ctrl-C exits 130.

    Anything else is a bug and keeps its traceback.
    """
    try:
        return main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def command(main):
    """A tool's `main` as a command: run through `run` (its errors as one line), both as `python tools/x.py` and
    as the console entry point setup.py installs (`paddle-attn-x`, which calls `main()` and exits with its value)."""

    @functools.wraps(main)
    def command_main(*args, **kwargs):
        return run(lambda: main(*args, **kwargs))

    return command_main


def progress_printer(verb, unit):
    """A `progress(done, total)` callback printing "<verb> done/total <unit>" on stderr, for long work."""

    def progress(done, total):
        print(f"{verb} {done}/{total} {unit}", file=sys.stderr, flush=True)

    return progress


def run_script(path, *args):
    """Run the Python script `path` with `args` under this interpreter in a child process, print what it wrote
    (where a notebook shows it: a child's own output bypasses the kernel) and raise CalledProcessError if it failed.
    Returns nothing, so that a notebook cell ending with it does not show the output twice."""
    _run_child([sys.executable, str(path), *map(str, args)], os.environ)


def run_tool(name, *args):
    """`run_script` for the tool `paddle-attn-<name>` (`python -m paddle_attn.cli.<name>`): no checkout needed.

    The child imports the paddle_attn this process imported (its folder goes first on PYTHONPATH), so a
    notebook that found the package in a checkout without installing it runs that checkout's tool."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    _run_child([sys.executable, "-m", f"paddle_attn.cli.{name}", *map(str, args)], {**os.environ, "PYTHONPATH": path})


def _run_child(argv, env):
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    print(done.stdout + done.stderr)
    done.check_returncode()


def say(line):
    """Print a stage of long work on stderr (stdout keeps the results)."""
    print(line, file=sys.stderr, flush=True)
