"""Build the tutorial notebooks from their sources: docs/tutorials/source/<name>.py -> en/<name>.ipynb, zh/<name>.ipynb.

    python docs/tutorials/build.py                      # write the notebooks, no outputs
    python docs/tutorials/build.py --execute            # and run them (nbclient), outputs stored: one run per
                                                        # tutorial, its outputs in both languages (same code cells)
    python docs/tutorials/build.py --execute --quick --only cbam
    python docs/tutorials/build.py --keep-outputs       # after markdown edits: the written notebooks' outputs kept

A source is a plain Python script in jupytext's "percent" style: `# %% [markdown] en` starts an English
markdown cell, which the `# %% [markdown] zh` cell of the same text in Chinese must follow at once;
`# %%` starts a code cell, shared by both languages. Markdown lines are comments ("# text", or "#" for an
empty line). `python docs/tutorials/source/<name>.py` runs the code cells in order.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SOURCE_DIR = os.path.join(HERE, "source")
LANGUAGES = ("en", "zh")
QUICK_VARIABLE = "PADDLE_ATTN_TUTORIAL_QUICK"
CELL_TIMEOUT_S = 1800  # a full-mode training cell: 2-3 minutes on 2 idle cores, 15 on a loaded machine
MARKER = re.compile(r"^# %%(?P<rest>.*)$")
MARKDOWN_TAG = re.compile(r"^ \[markdown\] (?P<lang>\S+)$")
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks; a terminal or log wants plain text


class SourceError(ValueError):
    """A tutorial source breaks the format; the message names the file and line."""

    def __init__(self, path, line, problem):
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


class BuildError(RuntimeError):
    """A notebook failed to execute; the message names the notebook and the cell."""


@dataclass
class Cell:
    kind: str  # "code" or "markdown"
    lang: str | None  # "en" or "zh" for markdown, None for code
    source: str
    line: int  # line of its `# %%` marker in the source, from 1


def tutorial_names(source_dir=SOURCE_DIR):
    return sorted(name[:-3] for name in os.listdir(source_dir) if name.endswith(".py") and not name.startswith("_"))


def _markdown_text(path, first_line, lines):
    text = []
    for number, line in enumerate(lines, start=first_line):
        if line == "#":
            text.append("")
        elif line.startswith("# "):
            text.append(line[2:])
        elif line.strip():
            raise SourceError(path, number, f"a markdown line must start with '# ' (or be '#'), got {line!r}")
        else:
            text.append("")
    return "\n".join(text).strip("\n")


def parse_source(path):
    """The cells of one source file, in order; SourceError if it breaks the format."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    starts = []  # (line index, kind, lang)
    for index, line in enumerate(lines):
        match = MARKER.match(line)
        if not match:
            continue
        rest = match.group("rest")
        if rest.strip() == "":
            starts.append((index, "code", None))
            continue
        tag = MARKDOWN_TAG.match(rest)
        if not tag or tag.group("lang") not in LANGUAGES:
            raise SourceError(
                path, index + 1, f"unknown cell tag {line!r}: use '# %%', '# %% [markdown] en' or '... zh'"
            )
        starts.append((index, "markdown", tag.group("lang")))
    if not starts:
        raise SourceError(path, 1, "no cells: a cell starts with a '# %%' line")
    for number, line in enumerate(lines[: starts[0][0]], start=1):
        if line.strip():
            raise SourceError(path, number, "text before the first '# %%' cell marker")
    cells = []
    for position, (index, kind, lang) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        body = lines[index + 1 : end]
        if kind == "code":
            source = "\n".join(body).strip("\n")
        else:
            source = _markdown_text(path, index + 2, body)
        if not source.strip():
            raise SourceError(path, index + 1, f"empty {kind} cell")
        cells.append(Cell(kind, lang, source, index + 1))
    _check_pairs(path, cells)
    return cells


def _check_pairs(path, cells):
    """Every `en` markdown cell is followed at once by its `zh` twin, and every `zh` one follows an `en` one."""
    for position, cell in enumerate(cells):
        before = cells[position - 1] if position else None
        after = cells[position + 1] if position + 1 < len(cells) else None
        if cell.lang == "en" and not (after and after.lang == "zh"):
            raise SourceError(path, cell.line, "an 'en' markdown cell must be followed at once by its 'zh' twin")
        if cell.lang == "zh" and not (before and before.lang == "en"):
            raise SourceError(path, cell.line, "a 'zh' markdown cell must follow its 'en' twin at once")


def cells_for(cells, lang):
    """The cells of one language's notebook: the code cells and that language's markdown cells, in order."""
    return [cell for cell in cells if cell.kind == "code" or cell.lang == lang]


def make_notebook(cells, lang, name):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    for index, cell in enumerate(cells_for(cells, lang)):
        new = nbformat.v4.new_code_cell if cell.kind == "code" else nbformat.v4.new_markdown_cell
        item = new(cell.source)
        item.id = f"{name}-{index:02d}"  # stable ids: a rebuild changes only what changed
        notebook.cells.append(item)
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "paddle_attn_tutorial": {"name": name, "language": lang, "source": f"docs/tutorials/source/{name}.py"},
    }
    return notebook


def _scrub(notebook):
    """Outputs without this machine's paths: the repository root is shown as '.'."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = output["text"].replace(ROOT + os.sep, "").replace(ROOT, ".")
            for key, value in output.get("data", {}).items():
                if key.startswith("text/") and isinstance(value, str):
                    output["data"][key] = value.replace(ROOT + os.sep, "").replace(ROOT, ".")


def execute_notebook(notebook, label, quick=False, timeout=CELL_TIMEOUT_S):
    """Run every cell in a fresh python3 kernel started in the repository root; BuildError names the cell that failed."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    env = dict(os.environ)
    env.pop(QUICK_VARIABLE, None)
    if quick:
        env[QUICK_VARIABLE] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))  # this checkout's paddle_attn
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": ROOT}}, record_timing=False
    )
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError) as err:
        failed = next(
            (
                index
                for index, cell in enumerate(notebook.cells)
                if any(output.get("output_type") == "error" for output in cell.get("outputs", []))
            ),
            None,
        )
        where = f"cell {failed}" if failed is not None else "a cell (timeout)"
        raise BuildError(f"{label}: {where} failed:\n{ANSI_COLOUR.sub('', str(err))}") from err
    _scrub(notebook)
    notebook.metadata["paddle_attn_tutorial"]["executed"] = {"quick": quick}
    return notebook


def copy_outputs(executed, notebook):
    """Give `notebook` the outputs of `executed`, the other language's notebook of the same source: their code cells
    are the same, in the same order, so a run of one is a run of both (and both show the same figures)."""
    ran = [cell for cell in executed.cells if cell.cell_type == "code"]
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if [cell.source for cell in ran] != [cell.source for cell in code]:
        raise BuildError("the code cells differ from those of the notebook run: execute this one (--execute)")
    for source, target in zip(ran, code):
        target.outputs, target.execution_count = copy.deepcopy(source.outputs), source.execution_count
    notebook.metadata["paddle_attn_tutorial"]["executed"] = dict(executed.metadata["paddle_attn_tutorial"]["executed"])
    return notebook


def build(
    names, execute=False, quick=False, out_dir=HERE, source_dir=SOURCE_DIR, languages=LANGUAGES, keep_outputs=False
):
    """Write each tutorial's notebooks; with `execute`, run the first language's and give the others its outputs;
    with `keep_outputs`, give them the outputs of the written first-language notebook (its code cells unchanged)."""
    import nbformat

    for name in names:
        cells = parse_source(os.path.join(source_dir, f"{name}.py"))
        executed = None
        if keep_outputs:
            execute, executed = True, nbformat.read(os.path.join(out_dir, languages[0], f"{name}.ipynb"), as_version=4)
            if "executed" not in executed.metadata.get("paddle_attn_tutorial", {}):
                raise BuildError(f"{languages[0]}/{name}.ipynb holds no run to keep: build it with --execute")
        for lang in languages:
            notebook = make_notebook(cells, lang, name)
            path = os.path.join(out_dir, lang, f"{name}.ipynb")
            label = os.path.relpath(path, ROOT)
            start = time.perf_counter()
            if execute and executed is not None:
                print(f"{label}: the outputs of {executed.metadata['paddle_attn_tutorial']['language']} (same code)")
                copy_outputs(executed, notebook)
            elif execute:
                print(f"{label}: executing{' (quick)' if quick else ''} ...", flush=True)
                executed = execute_notebook(notebook, label, quick)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            nbformat.write(notebook, path)
            print(f"{label}: written ({time.perf_counter() - start:.1f} s)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--execute", action="store_true", help="run the notebooks and store their outputs")
    parser.add_argument("--quick", action="store_true", help=f"with --execute: {QUICK_VARIABLE}=1 (CI's small run)")
    parser.add_argument(
        "--keep-outputs",
        action="store_true",
        help="markdown edits only: keep the outputs of the written notebooks (fails if a code cell changed)",
    )
    parser.add_argument("--only", action="append", metavar="NAME", help="this tutorial only (repeatable)")
    parser.add_argument("--lang", choices=LANGUAGES, action="append", help="this language only (default both)")
    args = parser.parse_args(argv)
    known = tutorial_names()
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"unknown tutorial {', '.join(unknown)}; sources: {', '.join(known)}")
    try:
        build(
            args.only or known,
            args.execute,
            args.quick,
            languages=tuple(args.lang or LANGUAGES),
            keep_outputs=args.keep_outputs,
        )
    except (SourceError, BuildError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
