"""The other weights readers hold the same bar as the pickle interpreter (issue 28): a malformed .safetensors
header is refused case by case with the loader's one-line error, and .pth is read only through
torch.load(weights_only=True), refused where that torch lacks it."""

import contextlib
import json
import struct

import numpy as np
import pytest

from paddle_attn.checkpoint import CheckpointError, read_weights_file
from paddle_attn.convert.errors import ConversionError
from paddle_attn.convert.torch_reader import read_torch_state_dict
from tests.test_convert import NEEDS_TORCH

GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


def safetensors_file(header, data=b"\0" * 8, length=None):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


MALFORMED = {  # case: (file, safetensors' reason)
    "shorter than its length field": (b"\x01\x02", "header too small"),
    "empty": (b"", "header too small"),
    "header length past the end": (safetensors_file(GOOD, length=10**6), "invalid header length"),
    "header length 2**63": (safetensors_file(GOOD, length=2**63), "header too large"),
    "header not JSON": (safetensors_file(b"{not json"), "invalid JSON in header"),
    "header not an object": (safetensors_file([1, 2]), "invalid JSON in header"),
    "offsets past the data": (safetensors_file(GOOD, b"\0" * 4), "incomplete metadata"),
    "a gap before the data": (
        safetensors_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}),
        "invalid offset for tensor",
    ),
    "overlapping tensors": (
        safetensors_file({**GOOD, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
        "invalid offset for tensor",
    ),
    "shape not matching the offsets": (
        safetensors_file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}),
        "invalid shape, data type, or offset",
    ),
    "shape overflowing": (
        safetensors_file({"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}),
        "overflow computing buffer size",
    ),
    "a negative size": (
        safetensors_file({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}),
        "invalid JSON in header",
    ),
    "an unknown dtype": (
        safetensors_file({"a": {"dtype": "OBJ", "shape": [2], "data_offsets": [0, 8]}}),
        "invalid JSON in header",
    ),
    "no offsets": (safetensors_file({"a": {"dtype": "F32", "shape": [2]}}), "missing field `data_offsets`"),
    "metadata not text": (safetensors_file({"__metadata__": {"x": 1}, **GOOD}), "invalid JSON in header"),
}


def test_a_well_formed_safetensors_file_reads(tmp_path):
    (tmp_path / "good.safetensors").write_bytes(safetensors_file(GOOD, struct.pack("<2f", 1.5, -2.0)))
    assert np.array_equal(read_weights_file(str(tmp_path / "good.safetensors"))["a"], [1.5, -2.0])


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_safetensors_header_is_refused(tmp_path, case):
    data, reason = MALFORMED[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=f"weights file {str(path)!r} is truncated or corrupt") as caught:
        read_weights_file(str(path))
    assert reason in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("dtype, size", [("BF16", 2), ("U32", 4), ("U64", 8), ("C64", 8)])
def test_a_dtype_paddle_cannot_take_is_refused_by_name_whatever_numpy_knows(tmp_path, dtype, size):
    with contextlib.suppress(ImportError):  # optional: ml_dtypes teaches NumPy bfloat16, as onnx or openvino do
        import ml_dtypes  # noqa: F401

    header = {"w": GOOD["a"], "x": {"dtype": dtype, "shape": [2], "data_offsets": [8, 8 + 2 * size]}}
    path = tmp_path / "other.safetensors"
    path.write_bytes(safetensors_file(header, b"\0" * (8 + 2 * size)))
    with pytest.raises(CheckpointError, match=f"holds 'x' as {dtype}; paddle_attn reads F64, F32"):
        read_weights_file(str(path))


def test_pth_is_refused_where_torch_load_has_no_weights_only(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    torch.save({"fc.bias": torch.zeros(2)}, tmp_path / "w.pth")
    assert list(read_torch_state_dict(str(tmp_path / "w.pth"))) == ["fc.bias"]  # this torch has weights_only
    loads = []
    monkeypatch.setattr(torch, "load", lambda f, map_location=None: loads.append(f) or {"fc.bias": 0})  # torch < 1.13
    with pytest.raises(ConversionError, match=r"has no torch.load\(weights_only=True\) \(torch >= 1.13 has\)"):
        read_torch_state_dict(str(tmp_path / "w.pth"))
    assert loads == []  # refused before torch.load could unpickle anything
    read_torch_state_dict(str(tmp_path / "w.pth"), trusted=True)
    assert loads == [str(tmp_path / "w.pth")]
