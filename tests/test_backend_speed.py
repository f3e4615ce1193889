"""Timing an export's backends: which pairs are offered, and that each row measures and compares its logits."""

import os
import shutil

import numpy as np
import pytest

from paddle_attn.inference import backend_speed
from paddle_attn.inference.int8 import int8_path
from paddle_attn.inference.write_export import export
from tests.helpers import ONNX_SIZE as SIZE
from tests.helpers import make_checkpoint


@pytest.fixture(scope="module")
def exported(request, tmp_path_factory):
    """(export without model.onnx, export with it) of a tiny ResNet-18 + CBAM: conftest's where paddle2onnx is."""
    root = tmp_path_factory.mktemp("speed")
    plain, with_onnx = str(root / "plain"), str(root / "onnx")
    if _installed("paddle2onnx"):
        shutil.copytree(request.getfixturevalue("onnx_exports")["resnet18_cbam"][1], with_onnx)
        shutil.copytree(with_onnx, plain, ignore=shutil.ignore_patterns("model.onnx"))
        return plain, with_onnx
    run = make_checkpoint(root / "run", "resnet18_cbam", random_norms=True)
    export(run, plain, image_size=SIZE)
    shutil.copytree(plain, with_onnx)
    return plain, with_onnx


def _installed(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _bf16(monkeypatch, on):
    monkeypatch.setattr(backend_speed, "bf16_supported", lambda: on)


def test_without_onnx_only_paddle_is_offered(exported, monkeypatch):
    _bf16(monkeypatch, False)
    assert backend_speed.runnable_backends(exported[0]) == [("paddle", "fp32")]
    _bf16(monkeypatch, True)
    assert backend_speed.runnable_backends(exported[0]) == [("paddle", "fp32"), ("paddle", "bf16")]


@pytest.mark.skipif(not all(map(_installed, ("paddle2onnx", "onnxruntime", "openvino"))), reason="needs the extras")
def test_with_onnx_both_onnx_backends_and_bf16_where_supported(exported, monkeypatch):
    fp32 = [("paddle", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32")]
    _bf16(monkeypatch, False)
    assert backend_speed.runnable_backends(exported[1]) == fp32
    _bf16(monkeypatch, True)
    assert backend_speed.runnable_backends(exported[1]) == [*fp32, ("paddle", "bf16"), ("openvino", "bf16")]


@pytest.mark.skipif(not all(map(_installed, ("paddle2onnx", "openvino"))), reason="needs the extras")
def test_int8_is_offered_once_its_model_exists(exported, monkeypatch, tmp_path):
    _bf16(monkeypatch, False)
    export_dir = shutil.copytree(exported[1], tmp_path / "export")
    assert ("openvino", "int8") not in backend_speed.runnable_backends(str(export_dir))
    shutil.copy(export_dir / "model.onnx", int8_path(str(export_dir / "model.onnx")))  # stands in for a calibrated one
    assert backend_speed.runnable_backends(str(export_dir))[-1] == ("openvino", "int8")


def test_fp32_rows_agree_with_paddle_and_count_images_per_second(exported, monkeypatch):
    _bf16(monkeypatch, False)
    images = np.random.RandomState(0).randn(4, 3, SIZE, SIZE).astype("float32")
    rows = backend_speed.time_backends(exported[1], images, repeats=2)
    assert sorted((row["backend"], row["precision"]) for row in rows) == sorted(
        backend_speed.runnable_backends(exported[1])
    )
    for row in rows:
        assert row["difference"] < 1e-4, row
        assert 0 < row["images_per_s"] < float("inf")
    assert [row["difference"] for row in rows if row["backend"] == "paddle"] == [0.0]  # the reference itself


def test_rows_report_the_largest_difference_and_images_per_second_fastest_first(exported, monkeypatch):
    """bf16 stands in as a runner off by half the reference's scale at one logit, on a clock where its calls take
    0.5 s and fp32's 2 s."""
    _bf16(monkeypatch, False)  # so only the pairs given are timed
    images = np.random.RandomState(1).randn(3, 3, SIZE, SIZE).astype("float32")
    real = backend_speed.backend_runner
    scale = np.abs(real(exported[0], "paddle")(images)).max()
    clock = [0.0]

    def on_the_clock(model_dir, backend="paddle", threads=None, precision="fp32"):
        runner = real(model_dir, "paddle")
        seconds, shift = (2.0, 0.0) if precision == "fp32" else (0.5, 0.5 * scale)

        def run(x):
            clock[0] += seconds
            logits = runner(x)
            logits[0, 0] += shift
            return logits

        return run

    monkeypatch.setattr(backend_speed, "backend_runner", on_the_clock)
    monkeypatch.setattr(backend_speed.time, "perf_counter", lambda: clock[0])
    rows = backend_speed.time_backends(exported[0], images, 3, pairs=[("paddle", "fp32"), ("paddle", "bf16")])
    assert [row["precision"] for row in rows] == ["bf16", "fp32"]
    assert [row["images_per_s"] for row in rows] == [6.0, 1.5]  # 3 images per 0.5 s and per 2 s
    assert [row["difference"] for row in rows] == [pytest.approx(0.5, rel=1e-5), 0.0]


def test_speed_table_lists_fastest_first():
    rows = [
        {"backend": "paddle", "precision": "fp32", "images_per_s": 10.0, "difference": 0.0},
        {"backend": "openvino", "precision": "bf16", "images_per_s": 30.0, "difference": 2e-3},
    ]
    table = backend_speed.speed_table(rows).splitlines()
    assert len(table) == 4
    assert table[2].startswith("| openvino | bf16 | 30.0 | 2.0e-03 |")
    assert table[3].startswith("| paddle | fp32 | 10.0 | 0.0e+00 |")


def test_an_export_without_its_program_is_refused(tmp_path):
    from paddle_attn.errors import InferenceError

    os.makedirs(tmp_path / "empty")
    with pytest.raises(InferenceError, match="is not an exported model"):
        backend_speed.time_backends(str(tmp_path / "empty"), np.zeros((1, 3, SIZE, SIZE), "float32"), 1)
