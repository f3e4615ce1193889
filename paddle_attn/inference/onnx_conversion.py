"""An export directory (tools/export.py's Paddle model) as ONNX through paddle2onnx: `model.onnx` beside it,
dynamic batch, for ONNX Runtime and OpenVINO. Tested pair: paddle2onnx 2.1.0 with Paddle 3.3.1.

paddle2onnx aborts the whole process (SIGABRT, no message naming the operator) when a program holds an
operator it cannot convert, so the conversion runs in a child process; when it fails, each block of the
network is converted on its own to name the ones that do not export.
"""

import os
import subprocess
import sys
import tempfile

from paddle_attn.errors import InferenceError
from paddle_attn.inference.read_export import (
    INFO_FILE,
    MODEL_PREFIX,
    PARAMS_SUFFIX,
    PROGRAM_SUFFIXES,
    export_files,
    read_info,
)
from paddle_attn.models import build_model

ONNX_FILE = "model.onnx"
DEFAULT_OPSET = 17
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CHILD = (
    "import sys; from paddle_attn.inference.onnx_conversion import convert; convert(*sys.argv[1:4], int(sys.argv[4]))"
)


class ExportError(InferenceError):
    """A network that cannot be written as ONNX: the message names the blocks that do not convert."""


def export_onnx(export_dir, onnx_path=None, opset=DEFAULT_OPSET):
    """Convert the Paddle model in `export_dir` to ONNX at `onnx_path` (default: `export_dir/model.onnx`).

    Input `image` [N, 3, H, W] float32 with N dynamic, output the logits; `model_info.json` beside it
    still describes the preprocessing. Returns the ONNX path. Raises ExportError naming the blocks
    paddle2onnx cannot convert, and ExportError without paddle2onnx (`pip install -e ".[onnx]"`).
    """
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 7:
        raise InferenceError(f"the ONNX opset must be an integer >= 7, got {opset!r}")
    program, params = export_files(export_dir)
    _require_paddle2onnx()
    onnx_path = onnx_path or os.path.join(export_dir, ONNX_FILE)
    failure = _convert_in_child(program, params, onnx_path, opset)
    if failure is None:
        return onnx_path
    if not os.path.isfile(os.path.join(export_dir, INFO_FILE)):  # no network spec: the blocks cannot be tried alone
        raise ExportError(
            f"cannot export {export_dir!r} to ONNX opset {opset} with paddle2onnx {_paddle2onnx_version()}: {failure}"
        )
    info = read_info(export_dir)
    blocks = failing_blocks(info["model"], info["image_size"], opset)
    where = (
        "; ".join(f"{path} ({name}): {message}" for path, name, message in blocks)
        or f"no block fails on its own, so the network's own layers do: {failure}"
    )
    raise ExportError(
        f"cannot export {export_dir!r} ({info['model']['name']}) to ONNX opset {opset} with "
        f"paddle2onnx {_paddle2onnx_version()}; blocks that do not convert: {where}"
    )


def convert(program_file, params_file, onnx_path, opset=DEFAULT_OPSET):
    """paddle2onnx in this process (a program it cannot convert aborts the process: see `export_onnx`).

    Nothing is installed and no environment variable is set: with a save_file, paddle2onnx 2.1.0
    runs Polygraphy's constant folding after setting POLYGRAPHY_AUTOINSTALL_DEPS=1, which pip-installs
    onnx_graphsurgeon from NVIDIA's package index; asked for the bytes, it skips that step (ONNX Runtime
    and OpenVINO fold constants themselves). The file is written whole or not at all.
    """
    import onnx
    import paddle2onnx

    onnx_bytes = paddle2onnx.export(
        program_file,
        params_file,
        save_file=None,
        opset_version=opset,
        auto_upgrade_opset=False,
        enable_onnx_checker=True,
        optimize_tool="none",
    )
    model = onnx.load_from_string(onnx_bytes)
    # paddle2onnx leaves the shape constants it folded as initializers; every ONNX Runtime session warns of each
    used = set(_used_names(model.graph))
    kept = [tensor for tensor in model.graph.initializer if tensor.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    directory = os.path.dirname(os.path.abspath(onnx_path))
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as f:
        f.write(model.SerializeToString())
    os.replace(f.name, onnx_path)


def _used_names(graph):
    """Names of the tensors `graph` reads: node inputs (in subgraphs too) and graph outputs."""
    yield from (output.name for output in graph.output)
    for node in graph.node:
        yield from node.input
        for attribute in node.attribute:
            for subgraph in (attribute.g, *attribute.graphs):
                yield from _used_names(subgraph)


def failing_blocks(spec, image_size, opset=DEFAULT_OPSET):
    """`[(path, class name, paddle2onnx's message)]` of the innermost blocks of the network `spec`
    (model_info.json's "model") that paddle2onnx cannot convert on their own, at `image_size` inputs.

    A block is a layer of a class outside Paddle (BasicBlock, CBAM, ...); each class is converted once,
    from its first instance, with random weights (the weights do not decide what converts).
    """
    import paddle
    from paddle.static import InputSpec

    net = build_model(spec["name"], num_classes=spec["num_classes"], stem=spec["stem"], **spec.get("kwargs", {}))
    net.eval()
    first = {}  # class -> (path, layer, input shape) of its first instance

    def capture(path):
        def hook(layer, inputs):
            if len(inputs) == 1 and isinstance(inputs[0], paddle.Tensor):
                first.setdefault(type(layer), (path, layer, list(inputs[0].shape)))

        return hook

    handles = [
        layer.register_forward_pre_hook(capture(path))
        for path, layer in net.named_sublayers()
        if not type(layer).__module__.startswith("paddle.")
    ]
    with paddle.no_grad():
        net(paddle.zeros([1, 3, image_size, image_size]))
    for handle in handles:
        handle.remove()
    failed = {}
    with tempfile.TemporaryDirectory(prefix="onnx_blocks_") as tmp:
        for cls, (path, layer, shape) in first.items():
            prefix = os.path.join(tmp, cls.__name__, MODEL_PREFIX)
            paddle.jit.save(layer, prefix, input_spec=[InputSpec([None, *shape[1:]], "float32", "x")])
            program = next(prefix + suffix for suffix in PROGRAM_SUFFIXES if os.path.isfile(prefix + suffix))
            # a block without weights has no params file: paddle2onnx then converts the program alone
            failure = _convert_in_child(program, prefix + PARAMS_SUFFIX, prefix + ".onnx", opset)
            if failure is not None:
                failed[cls] = (path, failure)
    return [
        (path, cls.__name__, message)
        for cls, (path, message) in failed.items()
        if not any(type(sub) in failed for sub in first[cls][1].sublayers())
    ]


def _convert_in_child(program, params, onnx_path, opset):
    """None when `convert` succeeded in a child process, else what paddle2onnx said about the failure."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_PARENT, os.environ.get("PYTHONPATH")])))
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, program, params, onnx_path, str(opset)], capture_output=True, text=True, env=env
    )
    if result.returncode == 0:
        return None
    lines = (result.stdout + result.stderr).splitlines()
    errors = [line.strip() for line in lines if "[ERROR]" in line or line.startswith(("ValueError", "RuntimeError"))]
    return " ".join(errors) or f"exit status {result.returncode}: {' '.join(lines[-3:])}"


def _require_paddle2onnx():
    try:
        import paddle2onnx  # noqa: F401
    except ImportError as err:
        raise ExportError(f'ONNX export needs paddle2onnx: pip install -e ".[onnx]" ({err})') from None


def _paddle2onnx_version():
    import paddle2onnx

    return paddle2onnx.__version__
