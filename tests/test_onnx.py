"""ONNX export through paddle2onnx, and the exported file under ONNX Runtime and OpenVINO: Paddle's logits."""

import json
import os
import subprocess

import numpy as np
import paddle
import pytest
from PIL import Image

import paddle_attn
from paddle_attn.errors import InferenceError
from paddle_attn.inference.backend_options import BackendUnavailable
from paddle_attn.inference.onnx_conversion import ExportError, convert, export_onnx
from paddle_attn.inference.write_export import export
from paddle_attn.models import registry
from paddle_attn.models.resnet import _resnet_builder
from paddle_attn.weights import load_model
from tests.helpers import (
    assert_bf16_agrees,
    assert_user_error,
    bf16_bound,
    make_checkpoint,
    randomize_norms,
    run_tool,
    spread_classifier,
)

pytest.importorskip("paddle2onnx", reason="ONNX export needs paddle2onnx: pip install -e '.[onnx]'")

from tests.helpers import ONNX_FAMILIES as FAMILIES
from tests.helpers import ONNX_SIZE as SIZE


def _backend(module, extra):
    missing = pytest.mark.skipif(not _installed(module), reason=f"needs {module}: pip install -e '.[{extra}]'")
    return pytest.param(module, marks=missing)


def _installed(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def runner_class(backend):
    if backend == "onnxruntime":
        from paddle_attn.inference.onnxruntime_backend import OnnxRuntimeRunner

        return OnnxRuntimeRunner
    from paddle_attn.inference.openvino_backend import OpenVINORunner

    return OpenVINORunner


BACKENDS = [_backend("onnxruntime", "onnx"), _backend("openvino", "openvino")]


@pytest.fixture(scope="module")
def exports(onnx_exports):
    """{family: (checkpoint run, export dir with model.onnx)}, CIFAR stem, 10 classes, SIZE x SIZE inputs (conftest)."""
    return onnx_exports


@pytest.fixture(scope="module")
def paddle_logits(exports):
    """{family: [(batch-1 images, Paddle's logits), (batch-3 images, logits)]}, from the checkpoint's dygraph net."""
    rng = np.random.default_rng(0)
    logits = {}
    for name, (run, _) in exports.items():
        net, _ = load_model(run)
        pairs = []
        for batch in (1, 3):
            images = rng.standard_normal((batch, 3, SIZE, SIZE), dtype=np.float32)
            with paddle.no_grad():
                pairs.append((images, net(paddle.to_tensor(images)).numpy()))
        logits[name] = pairs
    return logits


def assert_same_logits(actual, expected):
    """fp32 agreement: max |difference| within 1e-5 of the largest |logit|."""
    assert actual.shape == expected.shape
    error = np.abs(actual - expected).max() / np.abs(expected).max()
    assert error <= 1e-5, f"max relative logit error {error:.2e}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_gives_paddles_logits_at_two_batch_sizes(exports, paddle_logits, family, backend):
    runner = runner_class(backend)(os.path.join(exports[family][1], "model.onnx"), threads=2)
    for images, expected in paddle_logits[family]:  # batch 1 then 3 through one session: the batch is dynamic
        assert_same_logits(runner(images), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_latency_and_throughput_modes_give_the_same_logits(exports, paddle_logits, backend):
    onnx_file = os.path.join(exports["resnet18_cbam"][1], "model.onnx")
    images, expected = paddle_logits["resnet18_cbam"][1]
    for mode in ("latency", "throughput"):
        assert_same_logits(runner_class(backend)(onnx_file, threads=1, mode=mode)(images), expected)


@pytest.mark.skipif(not _installed("openvino"), reason="needs openvino: pip install -e '.[openvino]'")
def test_openvino_compiles_once_per_input_shape(exports, paddle_logits):
    from paddle_attn.inference.openvino_backend import OpenVINORunner

    runner = OpenVINORunner(os.path.join(exports["resnet18_nam"][1], "model.onnx"), threads=1)
    (single, single_logits), (three, three_logits) = paddle_logits["resnet18_nam"]
    assert_same_logits(runner(single), single_logits)
    first = runner.requests[single.shape]
    assert_same_logits(runner(three), three_logits)
    assert_same_logits(runner(single), single_logits)
    assert list(runner.requests) == [single.shape, three.shape] and runner.requests[single.shape] is first
    compiled_shape = runner.requests[three.shape].model_inputs[0].get_partial_shape()
    assert compiled_shape.is_static and list(compiled_shape.to_shape()) == list(three.shape)


def test_onnx_input_has_a_dynamic_batch_and_the_export_size(exports):
    import onnx

    model = onnx.load(os.path.join(exports["resnet18"][1], "model.onnx"))
    (image,) = model.graph.input
    batch, *rest = image.type.tensor_type.shape.dim
    assert image.name == "image" and batch.dim_param and not batch.HasField("dim_value")
    assert [d.dim_value for d in rest] == [3, SIZE, SIZE]
    assert model.opset_import[0].version == 17
    read = {name for node in model.graph.node for name in node.input}
    assert all(tensor.name in read for tensor in model.graph.initializer)  # no constant left unused


def test_export_installs_nothing_and_sets_no_environment(exports, tmp_path, monkeypatch):
    """paddle2onnx 2.1.0's default path sets POLYGRAPHY_AUTOINSTALL_DEPS=1 and pip-installs onnx_graphsurgeon."""
    started = []

    def refuse(*args, **kwargs):
        started.append(args)
        raise AssertionError(f"the export started a process: {args}")

    for name in ("Popen", "run", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, name, refuse)
    monkeypatch.setattr(os, "system", refuse)
    environment = dict(os.environ)
    export_dir = exports["resnet18_se"][1]
    onnx_file = tmp_path / "in_process.onnx"
    convert(os.path.join(export_dir, "inference.json"), os.path.join(export_dir, "inference.pdiparams"), str(onnx_file))
    assert started == [] and dict(os.environ) == environment
    assert onnx_file.read_bytes() == open(os.path.join(export_dir, "model.onnx"), "rb").read()
    assert [p.name for p in tmp_path.iterdir()] == ["in_process.onnx"]  # no temporary file left


class LogGammaGate(paddle.nn.Layer):
    """An attention gate on an operator paddle2onnx 2.1.0 cannot convert (lgamma)."""

    def __init__(self, channels):
        super().__init__()

    def forward(self, x):
        return x * paddle.nn.functional.sigmoid(paddle.lgamma(x.abs() + 1))


def test_a_block_that_does_not_export_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._MODELS, "resnet18_lgamma", _resnet_builder(18, LogGammaGate))
    run = make_checkpoint(str(tmp_path / "run"), "resnet18_lgamma")
    out = os.path.join(run, "inference")
    export(run, out, image_size=SIZE)
    with pytest.raises(ExportError) as caught:
        export_onnx(out)
    message = str(caught.value)
    assert "(resnet18_lgamma)" in message and "layer1.0.attention (LogGammaGate)" in message
    assert "unsupported operators" in message and "BasicBlock" not in message  # the innermost block only
    assert not os.path.exists(os.path.join(out, "model.onnx"))


def test_export_of_a_directory_without_a_model_names_it(tmp_path):
    with pytest.raises(InferenceError, match="is not an exported model"):
        export_onnx(str(tmp_path))
    with pytest.raises(InferenceError, match="opset must be an integer >= 7"):
        export_onnx(str(tmp_path), opset=6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_arguments_are_checked(exports, tmp_path, backend):
    runner = runner_class(backend)
    onnx_file = os.path.join(exports["resnet18"][1], "model.onnx")
    with pytest.raises(InferenceError, match="no ONNX model .*missing.onnx"):
        runner(str(tmp_path / "missing.onnx"))
    with pytest.raises(InferenceError, match="mode must be one of throughput, latency, got 'fast'"):
        runner(onnx_file, mode="fast")
    with pytest.raises(InferenceError, match="precision must be one of .* got 'fp16'"):
        runner(onnx_file, precision="fp16")
    with pytest.raises(InferenceError, match="threads must be a positive integer, got 0"):
        runner(onnx_file, threads=0)


def test_onnxruntime_refuses_bf16(exports):
    pytest.importorskip("onnxruntime", reason="needs onnxruntime: pip install -e '.[onnx]'")
    with pytest.raises(BackendUnavailable, match="onnxruntime: its CPU provider computes no bf16"):
        runner_class("onnxruntime")(os.path.join(exports["resnet18"][1], "model.onnx"), precision="bf16")


def _openvino_bf16():
    if not _installed("openvino"):
        return False
    from paddle_attn.inference.openvino_backend import bf16_supported

    return bf16_supported()


@pytest.mark.skipif(not _installed("openvino"), reason="needs openvino: pip install -e '.[openvino]'")
def test_openvino_refuses_bf16_on_a_cpu_without_it(exports, monkeypatch):
    from paddle_attn.inference import openvino_backend

    monkeypatch.setattr(openvino_backend, "bf16_supported", lambda core=None: False)  # any CPU: one without bf16
    with pytest.raises(BackendUnavailable, match="openvino: bf16 needs a CPU with AVX-512 BF16 or AMX"):
        runner_class("openvino")(os.path.join(exports["resnet18"][1], "model.onnx"), precision="bf16")


@pytest.mark.skipif(not _openvino_bf16(), reason="needs OpenVINO on a CPU with AVX-512 BF16 or AMX (native bf16)")
def test_openvino_bf16_is_close_to_fp32(tmp_path):
    """bf16 really ran (logits differ from fp32), within bf16's bound, with fp32's top-1 on clear predictions."""
    from paddle_attn.data.synthetic import make_images
    from paddle_attn.inference.write_export import save_program

    paddle.seed(2)
    net = randomize_norms(paddle_attn.create_model("resnet18_nam", num_classes=10, stem="cifar"))
    net.eval()
    x = (make_images(16, seed=3)[0].transpose(0, 3, 1, 2) / 255.0 - 0.5).astype("float32")
    spread_classifier(net, paddle.to_tensor(x))
    with paddle.no_grad():
        fp32 = net(paddle.to_tensor(x)).numpy()
    program, params = save_program(net, str(tmp_path / "inference"), 32)
    convert(program, params, str(tmp_path / "model.onnx"))
    bf16 = runner_class("openvino")(str(tmp_path / "model.onnx"), precision="bf16")(x)
    assert_bf16_agrees(bf16, fp32, bf16_bound(net))


@pytest.mark.skipif(
    not (_installed("paddle2onnx") and _installed("onnxruntime") and _installed("openvino")),
    reason='needs paddle2onnx, onnxruntime and openvino: pip install -e ".[onnx,openvino]"',
)
def test_export_and_infer_tools_on_every_backend(tmp_path):

    run_dir = make_checkpoint(str(tmp_path / "run"), "resnet18_cbam")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    images = [str(tmp_path / f"{i}.png") for i in range(3)]
    out = tmp_path / "export"
    exported = run_tool("export.py", "--checkpoint", run_dir, "--out", out, "--format", "onnx")
    assert exported.returncode == 0, exported.stderr
    assert f"wrote {out / 'model.onnx'}" in exported.stdout

    def probabilities(*source):
        result = run_tool("infer.py", *source, *images, "--top-k", 10, "--json", tmp_path / "p.json")
        assert result.returncode == 0, result.stderr
        with open(tmp_path / "p.json") as f:
            return [{top["index"]: top["probability"] for top in item["top_k"]} for item in json.load(f)["predictions"]]

    paddle_inference = probabilities("--model", out)
    for source in (
        ("--model", out, "--backend", "onnxruntime"),
        ("--model", out, "--backend", "openvino"),
        ("--checkpoint", run_dir, "--backend", "onnxruntime"),
    ):  # the last exports on the fly
        for got, expected in zip(probabilities(*source), paddle_inference, strict=True):
            assert got.keys() == expected.keys()
            assert max(abs(got[k] - expected[k]) for k in got) < 1e-5, source
    plain = tmp_path / "plain"
    assert run_tool("export.py", "--checkpoint", run_dir, "--out", plain).returncode == 0
    assert_user_error(
        run_tool("infer.py", "--model", plain, "--backend", "openvino", *images),
        "has no model.onnx: the openvino backend runs the ONNX export (tools/export.py --format onnx)",
    )
