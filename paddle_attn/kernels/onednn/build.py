"""Compile the oneDNN custom operators once per source and Paddle version, into a cache a second process reuses.

Headers: PyPI's `onednn-devel==2025.0.0` (oneDNN 3.6, matching the 3.6.2 library in Paddle's wheel, whose own
headers are incomplete). Library: `paddle/libs/libdnnl.so.3`, linked by file name with an rpath to that folder.
"""

import contextlib
import fcntl
import glob
import hashlib
import importlib.metadata
import itertools
import os
import sys
import time
import warnings

import paddle

_NAME = "paddle_attn_onednn"
_SOURCES = ("onednn_ops.cc",)  # includes the operators' sources
_HEADERS = (
    "conv2d.cc",
    "batch_norm.cc",
    "eltwise.cc",
    "onednn_common.h",
    "batch_norm_loops.h",
)  # not compiled alone; a change rebuilds
_state = {"module": None, "error": None, "build_seconds": None}


class BuildUnavailable(RuntimeError):
    """The operators cannot be built or loaded here (no compiler, no headers, no library); the message says why."""


def _source_paths(names=_SOURCES):
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.join(here, name) for name in names]


def _installed_include_dirs():
    """Where pip put onednn-devel's headers, from its file list: under the prefix of the environment that installed it,
    which is not this one's from a virtualenv that sees another environment's packages."""
    try:
        files = importlib.metadata.distribution("onednn-devel").files or []
    except importlib.metadata.PackageNotFoundError:
        return []
    headers = [file.locate() for file in files if str(file).endswith("oneapi/dnnl/dnnl_version.h")]
    return [os.path.normpath(os.path.join(os.path.dirname(header), "..", "..")) for header in headers]


def onednn_include_dir():
    """The include folder holding oneapi/dnnl/dnnl.hpp of oneDNN 3.6 (from onednn-devel), else BuildUnavailable."""
    # the lazy walk through the whole prefix last: it alone takes ~1 s, in every process that loads the operators
    walk = glob.iglob(os.path.join(sys.prefix, "**", "onednn_devel*.data", "data", "include"), recursive=True)
    candidates = itertools.chain([os.path.join(sys.prefix, "include")], _installed_include_dirs(), walk)
    for folder in candidates:
        version_header = os.path.join(folder, "oneapi", "dnnl", "dnnl_version.h")
        if os.path.exists(version_header):
            with open(version_header) as f:
                text = f.read()
            if "DNNL_VERSION_MAJOR 3" in text and "DNNL_VERSION_MINOR 6" in text:
                return folder
    raise BuildUnavailable("no oneDNN 3.6 headers: run `pip install --no-deps onednn-devel==2025.0.0`")


def paddle_libs_dir():
    """Paddle's folder of shared libraries, which holds the oneDNN it was built with."""
    folder = os.path.join(os.path.dirname(paddle.__file__), "libs")
    if not os.path.exists(os.path.join(folder, "libdnnl.so.3")):
        raise BuildUnavailable(f"this Paddle wheel ships no libdnnl.so.3 in {folder}")
    return folder


def _flags():
    include, libs = onednn_include_dir(), paddle_libs_dir()
    # -g0 undoes the -g of Python's own CFLAGS, which Paddle's build passes on: debug info made it 1.4x slower
    # -fopenmp: the batch norm's channel loops run on the OpenMP runtime oneDNN itself uses (libgomp)
    cflags = ["-O3", "-g0", "-fopenmp", "-std=c++17", f"-I{include}"]
    ldflags = [f"-L{libs}", "-l:libdnnl.so.3", "-fopenmp", f"-Wl,-rpath,{libs}"]
    return cflags, ldflags


def cache_directory():
    """~/.cache/paddle_attn/kernels/<hash of sources, flags and Paddle version> (PADDLE_ATTN_KERNEL_CACHE overrides)."""
    digest = hashlib.sha256(paddle.__version__.encode())
    for path in _source_paths(_SOURCES + _HEADERS):
        with open(path, "rb") as f:
            digest.update(f.read())
    digest.update(repr(_flags()).encode())
    root = os.environ.get(
        "PADDLE_ATTN_KERNEL_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "paddle_attn", "kernels")
    )
    return os.path.join(root, digest.hexdigest()[:16])


def _import_built(directory):
    """The module of an already built library in `directory`, or None."""
    with warnings.catch_warnings():  # Paddle warns on this import that ccache is missing, which only rebuilds need
        warnings.filterwarnings("ignore", message="No ccache found")
        from paddle.utils.cpp_extension.extension_utils import _import_module_from_library

    if not glob.glob(os.path.join(directory, _NAME, "**", f"{_NAME}*.so"), recursive=True):
        return None
    return _import_module_from_library(_NAME, os.path.join(directory, _NAME), False)


def _compile(directory, verbose):
    from paddle.utils.cpp_extension import load

    cflags, ldflags = _flags()
    os.makedirs(directory, exist_ok=True)
    with warnings.catch_warnings():  # Paddle warns that ccache is missing on every build
        warnings.filterwarnings("ignore", message="No ccache found")
        return load(
            name=_NAME,
            sources=_source_paths(),
            extra_cxx_cflags=cflags,
            extra_ldflags=ldflags,
            build_directory=directory,
            verbose=verbose,
        )


@contextlib.contextmanager
def _only_one_builder(directory):
    """Holds a lock on `directory` (made if missing): data-parallel ranks starting together build it once."""
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    with open(directory + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_ops(verbose=False):
    """The module holding the custom operators, compiled on first use; BuildUnavailable says why it cannot be."""
    if _state["module"] is not None:
        return _state["module"]
    if _state["error"] is not None:
        raise BuildUnavailable(_state["error"])
    try:
        directory = cache_directory()
        module = _import_built(directory)
        if module is None:
            with _only_one_builder(directory):
                module = _import_built(directory)  # another process may have built it while this one waited
                if module is None:
                    start = time.perf_counter()
                    module = _compile(directory, verbose)
                    _state["build_seconds"] = time.perf_counter() - start
    except BuildUnavailable as err:
        _state["error"] = str(err)
        raise
    except Exception as err:  # a compiler missing or failing surfaces as many exception types
        _state["error"] = f"building the oneDNN operators failed: {type(err).__name__}: {str(err)[-500:]}"
        raise BuildUnavailable(_state["error"]) from err
    _state["module"] = module
    return module


def build_seconds():
    """Seconds the compile took in this process; None if the library came from the cache or was never built."""
    return _state["build_seconds"]
