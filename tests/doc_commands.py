"""Check the commands and links of a Markdown file against the code: the scripts, configs, options, `-o` keys,
pip extras and link targets it names must exist. Used by tests/test_readme_commands.py."""

import ast
import collections
import contextlib
import functools
import glob
import importlib
import io
import itertools
import os
import re
import runpy
import shlex
from unittest import mock

from paddle_attn.config import MOVED_KEYS, SCHEMA, builtin_configs, load_config
from paddle_attn.errors import ConfigError
from tests.helpers import ROOT

SCRIPT = re.compile(r"^(tools|benchmarks)/\w+\.py$")
COMMAND = re.compile(r"^paddle-attn-[\w-]+$")
CONFIG = re.compile(r"^configs/.*\.ya?ml$")
EXTRAS = re.compile(r"^\.\[([\w,-]+)\]$")  # pip install -e ".[cpu,onnx]"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
SEPARATORS = {"&&", "||", ";", "|"}


class ArgumentError(Exception):
    pass


def is_placeholder(token):
    """`...` and `<path>` stand for what the reader fills in."""
    return "..." in token or re.search(r"<[^>]+>", token) is not None


def bash_blocks(text):
    """The bodies of the ```bash fenced blocks, backslash-newline continuations joined."""
    return [body.replace("\\\n", " ") for body in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)]


def commands(block):
    """Each command of a block as tokens: quotes spanning lines kept whole, comments dropped, split at && ; | ||."""
    result, pending = [], ""
    for line in block.splitlines():
        pending += line + "\n"
        try:
            tokens = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        pending = ""
        groups = itertools.groupby(tokens, lambda token: token in SEPARATORS)
        result += [list(group) for is_separator, group in groups if not is_separator]
    assert not pending, f"unclosed quote in {pending!r}"
    return result


def unbracket(token):
    """`[--json` -> `--json`, `out.json]` -> `out.json`; a bracket pair inside a token (`.[cpu]`) stays."""
    token = token.removeprefix("[")
    return token[:-1] if token.endswith("]") and "[" not in token else token


def variants(tokens):
    """`[--opt value]` as given, and each of `a|b|c` in turn: every alternative a reader may pick must work."""
    tokens = [unbracket(token) for token in tokens]
    choices = [token.split("|") if "|" in token else [token] for token in tokens]
    return [list(variant) for variant in itertools.product(*choices)]


@functools.cache
def tool_parser(name):
    """The argparse parser of the tool `name` (paddle_attn/cli/<name>.py's build_parser()), errors raised, not exiting."""
    parser = importlib.import_module(f"paddle_attn.cli.{name}").build_parser()

    def error(message):
        raise ArgumentError(message)

    parser.error = error
    return parser


@functools.cache
def benchmark_options(path):
    """The option strings a benchmark's add_argument calls declare, read from its source (benchmarks are not run)."""
    tree = ast.parse(open(os.path.join(ROOT, path)).read())
    return {
        arg.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument"
        for arg in node.args
        if isinstance(arg, ast.Constant) and str(arg.value).startswith("-")
    }


@functools.cache
def setup_arguments():
    """The keyword arguments setup.py gives setup(), from running it with setup() replaced: nothing is built."""
    given = {}
    with mock.patch("setuptools.setup", lambda **kwargs: given.update(kwargs)):
        runpy.run_path(os.path.join(ROOT, "setup.py"))
    return given


def setup_commands():
    """{command: "module:function"} of setup.py's console entry points."""
    entries = (entry.split("=") for entry in setup_arguments()["entry_points"]["console_scripts"])
    return {command.strip(): target.strip() for command, target in entries}


def config_key_problem(dotted):
    """Why `section.key` (or `section.dict_key.sub.key`) is not a config key, or None."""
    section, _, key = dotted.partition(".")
    top, _, rest = key.partition(".")
    if section not in SCHEMA:
        return f"unknown config section {section!r} in -o {dotted}"
    if f"{section}.{top}" in MOVED_KEYS:
        return f"-o {dotted}: {section}.{top} moved to {MOVED_KEYS[section + '.' + top]}"
    if top not in SCHEMA[section]:
        return f"unknown config key {section}.{top} in -o {dotted}"
    if rest and SCHEMA[section][top][1] is not dict:
        return f"-o {dotted}: {section}.{top} is not a mapping"
    return None


def option_problems(args, options):
    """Options of `args` that the script does not declare exactly (argparse would take abbreviations)."""
    flags = [arg.split("=", 1)[0] for arg in args if arg.startswith("-") and not re.fullmatch(r"-[\d.]+", arg)]
    return [f"unknown option {flag}" for flag in flags if flag not in options]


def tool_problems(name, args):
    """What is wrong with `python tools/<name>.py args`: options, choices, types, and `-o` keys and values."""
    parser = tool_parser(name)
    problems = option_problems(args, parser._option_string_actions)
    if any(is_placeholder(arg) for arg in args):  # an elided command: check each given option's value alone
        for option, value in zip(args, args[1:] + [None]):
            action = parser._option_string_actions.get(option)
            if action and action.choices and value and not is_placeholder(value) and value not in action.choices:
                problems.append(f"{option} {value}: not one of {', '.join(action.choices)}")
    else:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # --help and --list-configs print, then exit 0
                parser.parse_args(args)
        except ArgumentError as err:
            problems.append(str(err))
        except SystemExit as exit_:
            if exit_.code:
                problems.append(f"exits with status {exit_.code}")
    overrides = [value for option, value in zip(args, args[1:]) if option in ("-o", "--override")]
    problems += [p for p in (config_key_problem(item.partition("=")[0]) for item in overrides) if p]
    config = next((value for option, value in zip(args, args[1:]) if option in ("-c", "--config")), None)
    builtin = config in builtin_configs()  # -c NAME: a config shipped with the package
    if config and not (builtin or CONFIG.match(config) or is_placeholder(config) or config.isupper()):
        problems.append(f"-c {config}: neither a configs/ file nor a built-in config name")
    concrete = config and (CONFIG.match(config) or builtin) and not any(map(is_placeholder, overrides))
    if concrete and not problems and (builtin or os.path.exists(os.path.join(ROOT, config))):
        try:
            load_config(config if builtin else os.path.join(ROOT, config), overrides)
        except ConfigError as err:
            problems.append(str(err))
    return problems


def command_problems(tokens):
    """What is wrong with one command: the files it names, then its script's options (tools and benchmarks)."""
    problems = []
    extras = setup_arguments()["extras_require"]
    for token in tokens:
        if CONFIG.match(token) and not os.path.exists(os.path.join(ROOT, token)):
            problems.append(f"no config file {token}")
        if SCRIPT.match(token) and not os.path.exists(os.path.join(ROOT, token)):
            problems.append(f"no script {token}")
        if COMMAND.match(token) and token not in setup_commands():
            problems.append(f"no command {token} in setup.py (a module of paddle_attn/cli/)")
        for extra in EXTRAS.fullmatch(token).group(1).split(",") if EXTRAS.fullmatch(token) else ():
            if extra not in extras:
                problems.append(f"no pip extra {extra!r} in setup.py")
    if problems:
        return problems
    start = next((i for i, token in enumerate(tokens) if SCRIPT.match(token) or COMMAND.match(token)), None)
    if start is None:
        return []
    script, args = tokens[start], tokens[start + 1 :]
    if script.startswith("benchmarks/"):
        return option_problems(args, benchmark_options(script))
    name = os.path.basename(script)[:-3] if script.endswith(".py") else script.removeprefix("paddle-attn-")
    return tool_problems(name.replace("-", "_"), args)


def markdown_command_problems(text):
    """Every problem of every command (and each `a|b` alternative) in the text's bash blocks, as "command: problem"."""
    problems = []
    for block in bash_blocks(text):
        for tokens in commands(block):
            for variant in variants(tokens):
                problems += [f"{shlex.join(variant)}: {problem}" for problem in command_problems(variant)]
    return problems


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens (CJK kept)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path):
    text = re.sub(r"^```.*?^```", "", open(path, encoding="utf-8").read(), flags=re.S | re.M)
    seen = collections.Counter()
    result = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        name = slug(heading)
        result.add(f"{name}-{seen[name]}" if seen[name] else name)  # GitHub numbers repeated headings -1, -2, ...
        seen[name] += 1
    return result


def link_problems(text, path):
    """Relative links of the Markdown at `path` whose file (or `#anchor` in a .md file) does not exist."""
    problems = []
    for target in LINK.findall(re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(resolved):
            problems.append(f"link {target}: no file {os.path.relpath(resolved, ROOT)}")
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            problems.append(f"link {target}: no heading #{anchor} in {os.path.relpath(resolved, ROOT)}")
    return problems


def documents():
    """The Markdown files whose commands and links are checked."""
    return ["README.md", "README_zh.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(f"{ROOT}/docs/*.md"))
