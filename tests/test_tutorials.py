"""The tutorials (docs/tutorials): sources parse, the committed notebooks are their sources' cells, executed
without errors, and every tutorial still runs top to bottom in quick mode.

Executing a notebook needs nbclient, nbformat and ipykernel (`pip install -e ".[notebooks]"`); those tests are
skipped with the reason without them.
"""

import importlib.util
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIALS = os.path.join(ROOT, "docs", "tutorials")
NEEDS_NOTEBOOKS = 'needs nbformat, nbclient and ipykernel: pip install -e ".[notebooks]"'
QUICK_CELL_TIMEOUT_S = 300  # quick mode: a notebook takes under a minute on 2 cores; a stuck cell fails, not hangs


def _load_builder():
    spec = importlib.util.spec_from_file_location("tutorial_build", os.path.join(TUTORIALS, "build.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


build = _load_builder()
NAMES = build.tutorial_names()
NOTEBOOKS = [(name, lang) for name in NAMES for lang in build.LANGUAGES]


def read_committed(name, lang):
    path = os.path.join(TUTORIALS, lang, f"{name}.ipynb")
    if not os.path.isfile(path):
        pytest.fail(f"{os.path.relpath(path, ROOT)} is missing: run python docs/tutorials/build.py --execute")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cell_text(cell):
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def test_the_four_tutorials_have_sources():
    assert {"se_eca", "cbam"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_source_parses_into_paired_cells(name):
    cells = build.parse_source(os.path.join(TUTORIALS, "source", f"{name}.py"))
    markdown = [cell for cell in cells if cell.kind == "markdown"]
    assert markdown and [cell.lang for cell in markdown] == ["en", "zh"] * (len(markdown) // 2)
    assert cells[0].kind == "markdown" and any(cell.kind == "code" for cell in cells)
    setup = next(cell for cell in cells if cell.kind == "code").source  # the tutorial design's first code cell
    assert "PADDLE_ATTN_TUTORIAL_QUICK" in setup and "apply_cpu_settings(" in setup


@pytest.mark.parametrize("name, lang", NOTEBOOKS, ids=[f"{n}-{lang}" for n, lang in NOTEBOOKS])
def test_committed_notebook_is_its_source(name, lang):
    """Both languages carry the source's code cells verbatim and their own markdown cells: a notebook edited
    by hand, or a source edited without rebuilding, fails here."""
    cells = build.parse_source(os.path.join(TUTORIALS, "source", f"{name}.py"))
    expected = [(cell.kind, cell.source) for cell in build.cells_for(cells, lang)]
    notebook = read_committed(name, lang)
    got = [(cell["cell_type"], cell_text(cell)) for cell in notebook["cells"]]
    differ = next((i for i, pair in enumerate(zip(got, expected)) if pair[0] != pair[1]), min(len(got), len(expected)))
    assert got == expected, (
        f"docs/tutorials/{lang}/{name}.ipynb differs from its source from cell {differ} on: rerun build.py --execute"
    )
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert notebook["metadata"]["paddle_attn_tutorial"]["language"] == lang


@pytest.mark.parametrize("name, lang", NOTEBOOKS, ids=[f"{n}-{lang}" for n, lang in NOTEBOOKS])
def test_committed_notebook_was_executed_without_errors(name, lang):
    code = [cell for cell in read_committed(name, lang)["cells"] if cell["cell_type"] == "code"]
    counts = [cell.get("execution_count") for cell in code]
    assert counts == list(range(1, len(code) + 1)), f"{lang}/{name}.ipynb was not executed top to bottom: {counts}"
    for index, cell in enumerate(code):
        errors = [output for output in cell["outputs"] if output["output_type"] == "error"]
        assert not errors, f"{lang}/{name}.ipynb code cell {index} holds an error: {errors[0].get('ename')}"
    assert any(cell["outputs"] for cell in code)
    executed = read_committed(name, lang)["metadata"]["paddle_attn_tutorial"].get("executed")
    assert executed == {"quick": False}, f"{lang}/{name}.ipynb was not executed in full mode: {executed}"


@pytest.mark.parametrize("name, lang", NOTEBOOKS, ids=[f"{n}-{lang}" for n, lang in NOTEBOOKS])
def test_committed_notebook_shows_its_figures_as_pictures(name, lang):
    """A figure a cell returns is a picture in the notebook, not its repr (which is what a kernel without the inline
    backend stores), and a cell's value is not printed twice."""
    outputs = [o for cell in read_committed(name, lang)["cells"] for o in cell.get("outputs", [])]
    texts = ["".join(o.get("data", {}).get("text/plain", "")) for o in outputs if "image/png" not in o.get("data", {})]
    assert not [t for t in texts if t.startswith("<Figure size")], f"{lang}/{name}.ipynb shows figures as text"
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3, f"{lang}/{name}.ipynb has too few pictures"


# Each tutorial is executed once, in English: the code cells of both languages are the same (checked above),
# so running the Chinese notebook too would double CI's time and test nothing more.
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_quick_mode(name):
    pytest.importorskip("nbformat", reason=NEEDS_NOTEBOOKS)
    pytest.importorskip("nbclient", reason=NEEDS_NOTEBOOKS)
    pytest.importorskip("ipykernel", reason=NEEDS_NOTEBOOKS)
    cells = build.parse_source(os.path.join(TUTORIALS, "source", f"{name}.py"))
    notebook = build.make_notebook(cells, "en", name)
    try:
        build.execute_notebook(notebook, f"en/{name}.ipynb", quick=True, timeout=QUICK_CELL_TIMEOUT_S)
    except build.BuildError as err:
        pytest.fail(str(err), pytrace=False)  # names the cell and holds its source and traceback
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert notebook.metadata["paddle_attn_tutorial"]["executed"] == {"quick": True}


def write_source(tmp_path, text):
    path = tmp_path / "broken.py"
    path.write_text(text, encoding="utf-8")
    return str(path)


GOOD_PAIR = "# %% [markdown] en\n# Hello\n# %% [markdown] zh\n# 你好\n"


@pytest.mark.parametrize(
    "text, line, problem",
    [
        ("# %%\nx = 1\n# %% [markdown] zh\n# 你好\n", 3, "must follow its 'en' twin"),
        ("# %% [markdown] en\n# Hello\n# %%\nx = 1\n", 1, "followed at once by its 'zh' twin"),
        (GOOD_PAIR + "# %% [markdown] fr\n# Bonjour\n", 5, "unknown cell tag"),
        (GOOD_PAIR + "# %% [raw]\nx\n", 5, "unknown cell tag"),
        (GOOD_PAIR + "# %% [markdown] en\nnot a comment\n# %% [markdown] zh\n# 中\n", 6, "must start with '# '"),
        ("import os\n" + GOOD_PAIR, 1, "before the first"),
    ],
    ids=["zh-without-en", "en-without-zh", "unknown-language", "unknown-tag", "markdown-not-comment", "preamble"],
)
def test_malformed_source_names_file_and_line(tmp_path, text, line, problem):
    path = write_source(tmp_path, text)
    with pytest.raises(build.SourceError) as caught:
        build.parse_source(path)
    assert caught.value.line == line
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_parser_keeps_code_and_markdown_text(tmp_path):
    text = "# %% [markdown] en\n# # Title\n#\n# body\n# %% [markdown] zh\n# # 标题\n# %%\nx = 1\n\ny = 2\n\n"
    cells = build.parse_source(write_source(tmp_path, text))
    assert [(cell.kind, cell.lang, cell.source, cell.line) for cell in cells] == [
        ("markdown", "en", "# Title\n\nbody", 1),
        ("markdown", "zh", "# 标题", 5),
        ("code", None, "x = 1\n\ny = 2", 7),
    ]
    assert [cell.source for cell in build.cells_for(cells, "zh")] == ["# 标题", "x = 1\n\ny = 2"]


def test_one_run_gives_both_languages_its_outputs(tmp_path):
    pytest.importorskip("nbformat", reason=NEEDS_NOTEBOOKS)
    cells = build.parse_source(write_source(tmp_path, GOOD_PAIR + "# %%\nprint(1)\n"))
    executed = build.make_notebook(cells, "en", "broken")
    executed.cells[1].outputs = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    executed.cells[1].execution_count = 1
    executed.metadata["paddle_attn_tutorial"]["executed"] = {"quick": False}
    zh = build.copy_outputs(executed, build.make_notebook(cells, "zh", "broken"))
    assert [(cell.cell_type, cell.get("outputs")) for cell in zh.cells] == [
        ("markdown", None),
        ("code", [{"output_type": "stream", "name": "stdout", "text": "1\n"}]),
    ]
    assert zh.cells[1].execution_count == 1 and zh.metadata["paddle_attn_tutorial"]["executed"] == {"quick": False}
    other = build.make_notebook(build.parse_source(write_source(tmp_path, GOOD_PAIR + "# %%\nprint(2)\n")), "zh", "b")
    with pytest.raises(build.BuildError, match="code cells differ"):
        build.copy_outputs(executed, other)
