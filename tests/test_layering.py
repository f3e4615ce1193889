"""The library's layers import only downwards: layers <- models <- training <- tools; nothing imports tests or benchmarks."""

import ast
import os

import pytest

from tests.helpers import ROOT

PACKAGE = os.path.join(ROOT, "paddle_attn")
# what each part of the library may import from paddle_attn (besides itself)
ALLOWED = {
    "layers": {"errors"},
    "models": {"errors", "layers", "checkpoint", "convert", "data", "weights_file"},
    "data": {"errors"},
}


def imports_of(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def modules(part):
    folder = os.path.join(PACKAGE, part)
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder)) if name.endswith(".py")]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_lower_layers_never_import_higher_ones(part):
    for path in modules(part):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "paddle_attn" and len(parts) > 1 and parts[1] != part:
                assert parts[1] in ALLOWED[part], f"{os.path.relpath(path, ROOT)} imports {name}"


@pytest.mark.parametrize("module, allowed", [("safe_pickle", {"paddle_attn.errors"}),
                                             ("weights_file", {"paddle_attn.errors", "paddle_attn.safe_pickle"})])
def test_weights_readers_sit_at_the_bottom(module, allowed):
    """Every part of the library reads weights through these two: they import nothing above the errors."""
    names = {name for name in imports_of(os.path.join(PACKAGE, f"{module}.py")) if name.startswith("paddle_attn")}
    assert names <= allowed, names


def test_nothing_in_the_library_or_benchmarks_reaches_into_tests():
    for folder in ("paddle_attn", "benchmarks", "tools"):
        for root, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                if name.endswith(".py"):
                    source = open(os.path.join(root, name)).read()
                    assert "tests" not in {n.split(".")[0] for n in imports_of(os.path.join(root, name))}, name
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
                    missing += [f"{folder}/{name}: {node.module}.{alias.name}" for alias in node.names
                                if not hasattr(module, alias.name) and not _is_module(f"{node.module}.{alias.name}")]
    assert not missing


def _is_module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None
