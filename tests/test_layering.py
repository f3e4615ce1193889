"""The library's layers import only downwards, by the table below; nothing imports tests or benchmarks.

Rows, bottom to top: a module imports only from its own package (or root module) and from lower rows.
A package of the table that does not exist yet is skipped; every package and root module that exists
must have a row, so a new one cannot slip past.
"""

import ast
import os

import pytest

from tests.helpers import ROOT

PACKAGE = os.path.join(ROOT, "paddle_attn")
ROWS = [  # bottom to top: the parts (packages or root modules) of each row
    {"errors", "cpu", "kernels"},
    {"layers", "checkpoint", "data"},
    {"models"},
    {"convert"},
    {"weights"},
    {"optim", "analysis", "inference"},
    {"config"},
    {"pruning"},
    {"training"},
    {"cli"},
    {"__init__"},  # the package root: the front door
]
ROW = {part: index for index, row in enumerate(ROWS) for part in row}
# the library's own optional dependencies, imported inside the function that needs them, like torch or matplotlib
OPTIONAL = {"paddle_attn.kernels.onednn.build"}  # compiles the oneDNN operator with a C++ compiler on first use


def parts():
    """{part: [paths of its .py files]} of every package and root module of paddle_attn that exists."""
    found = {}
    for name in sorted(os.listdir(PACKAGE)):
        path = os.path.join(PACKAGE, name)
        if name.endswith(".py"):
            found[name[:-3]] = [path]
        elif os.path.isfile(os.path.join(path, "__init__.py")):
            found[name] = [
                os.path.join(root, file)
                for root, _, files in os.walk(path)
                for file in sorted(files)
                if file.endswith(".py")
            ]
    return found


def imports_of(path, top_level=None):
    """(line, module) of every absolute import in `path`; `top_level` True/False: only those at module level / inside a
    function or class."""
    tree = ast.parse(open(path).read())
    nested = {
        id(node)
        for scope in ast.walk(tree)
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        for node in ast.walk(scope)
        if node is not scope
    }
    for node in ast.walk(tree):
        if top_level is not None and (id(node) not in nested) != top_level:
            continue
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif (
            isinstance(node, ast.ImportFrom) and node.module == "paddle_attn"
        ):  # a part (`import checkpoint`) or a root name
            yield from (
                (node.lineno, f"paddle_attn.{alias.name}" if alias.name in parts() else "paddle_attn")
                for alias in node.names
            )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def part_of(module):
    """The part a `paddle_attn.x.y` module name belongs to; `paddle_attn` itself is the root."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def test_every_package_and_root_module_has_a_row():
    assert set(parts()) <= set(ROW), f"add to ROWS: {sorted(set(parts()) - set(ROW))}"


def test_the_root_holds_only_the_front_door():
    modules = {part for part, paths in parts().items() if paths[0].endswith(f"{part}.py")}
    assert modules == {"__init__", "errors", "cpu", "config"}, modules


def test_the_tools_are_a_package_of_the_top_row():
    """paddle_attn/cli/ (one module per command) sits above training; tools/*.py are shims that import only _shim."""
    assert "paddle_attn/cli/train.py" in {os.path.relpath(path, ROOT) for path in parts()["cli"]}
    for name in sorted(os.listdir(os.path.join(ROOT, "tools"))):
        if name.endswith(".py") and name != "_shim.py":
            assert [module for _, module in imports_of(os.path.join(ROOT, "tools", name))] == ["_shim"], name


def test_nothing_edits_sys_path():
    """The tools, benchmarks and library import the installed package: no sys.path edit picks another copy."""
    edits = [
        f"{os.path.relpath(os.path.join(root, name), ROOT)}:{number}"
        for folder in ("paddle_attn", "benchmarks", "tools")
        for root, _, names in os.walk(os.path.join(ROOT, folder))
        for name in names
        if name.endswith(".py")
        for number, line in enumerate(open(os.path.join(root, name)), 1)
        if "sys.path" in line
    ]
    assert not edits, edits


@pytest.mark.parametrize("part", sorted(set(ROW) & set(parts())))
def test_a_part_imports_only_its_own_package_and_lower_rows(part):
    upward = []
    for path in parts()[part]:
        for line, name in imports_of(path):
            if name.split(".")[0] != "paddle_attn":
                continue
            other = part_of(name)
            if other != part and (other not in ROW or ROW[other] >= ROW[part]):
                upward.append(f"{os.path.relpath(path, ROOT)}:{line} imports {name}")
    assert not upward, "\n".join(upward)


def test_no_function_imports_the_library():
    """A function-level import hides a dependency (and a circle) from the reader; it is for optional third-party
    packages only (torch, paddle2onnx, onnxruntime, openvino, visualdl, matplotlib), never for paddle_attn but its
    own optional part (OPTIONAL: the operator that needs a compiler)."""
    hidden = [
        f"{os.path.relpath(path, ROOT)}:{line} imports {name}"
        for paths in parts().values()
        for path in paths
        for line, name in imports_of(path, top_level=False)
        if name.split(".")[0] == "paddle_attn" and name not in OPTIONAL
    ]
    assert not hidden, "\n".join(hidden)


def test_the_checkpoint_format_knows_no_network():
    """Weights are read (checkpoint) below where networks are built (models) and loaded (weights): no circle."""
    for path in parts()["checkpoint"]:
        names = {name for _, name in imports_of(path) if name.startswith("paddle_attn")}
        assert {part_of(name) for name in names} <= {"checkpoint", "errors"}, (path, names)


def test_nothing_in_the_library_or_benchmarks_reaches_into_tests():
    for folder in ("paddle_attn", "benchmarks", "tools"):
        for root, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                if name.endswith(".py"):
                    source = open(os.path.join(root, name)).read()
                    assert "tests" not in {n.split(".")[0] for _, n in imports_of(os.path.join(root, name))}, name
                    assert '"tests"' not in source and "'tests'" not in source, f"{name} puts tests/ on its path"


def test_every_library_name_the_benchmarks_and_tools_import_exists():
    """Benchmarks import inside functions that no test calls: a renamed module would only fail on the next run."""
    import importlib

    missing = []
    for folder in ("benchmarks", "tools"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if not name.endswith(".py"):
                continue
            path = os.path.join(ROOT, folder, name)
            with open(path) as source:
                tree = ast.parse(source.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "paddle_attn":
                    if not _is_module(node.module):
                        missing.append(f"{folder}/{name}: {node.module}")
                        continue
                    module = importlib.import_module(node.module)
                    missing += [
                        f"{folder}/{name}: {node.module}.{alias.name}"
                        for alias in node.names
                        if not hasattr(module, alias.name) and not _is_module(f"{node.module}.{alias.name}")
                    ]
    assert not missing


def _is_module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None
