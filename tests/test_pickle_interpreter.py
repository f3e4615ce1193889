"""The restricted pickle interpreter (issue 28): what paddle.save writes reads as paddle.load reads it; every
hostile file (the issue's, a fuzzer's) ends in a CheckpointError or plain arrays, read in a child process
under a memory limit and a timeout, so a crash or hang fails the test instead of killing the run."""

import collections
import io
import json
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import paddle
import pytest

import paddle_attn
from paddle_attn.checkpoint import CheckpointError, pickle_machine, safe_pickle
from tests.helpers import ROOT
from tests.test_trust import Call, CallPickler, assert_same

CHILD_MIB = 256  # what a child may allocate beyond its imports: every file here is a few KiB
CHILD_SECONDS = 60  # a whole batch, imports included; one file should take milliseconds
PER_FILE_SECONDS = 2.0
needs_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the child limits memory by /proc, rlimit"
)


def load_in_children(paths):
    """{path: outcome} of reading each of `paths` in one child process (tests/load_in_child.py)."""
    command = [sys.executable, os.path.join(ROOT, "tests", "load_in_child.py"), str(CHILD_MIB), *map(str, paths)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # no thread pools under the limit
    result = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_SECONDS, env=env)
    outcomes = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    crashed = next((str(p) for p in paths if str(p) not in outcomes), None)
    assert result.returncode == 0, f"exit {result.returncode} reading {crashed}: {result.stderr[-2000:]}"
    return outcomes


def assert_refused_or_plain(outcome):
    assert outcome["seconds"] < PER_FILE_SECONDS, outcome
    if "error" in outcome:
        error = outcome["error"]
        assert outcome["file"] in error, error
        assert error.startswith("refused to load ") or "is truncated or corrupt" in error, error
        assert "MemoryError" not in error and "RecursionError" not in error, error
    else:
        assert outcome["loaded"] == "plain", outcome


# hand-made pickles: opcodes by name
def text(value):
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def global_(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def put(index):
    return b"r" + struct.pack("<I", index)


def get(index):
    return b"j" + struct.pack("<I", index)


def crafted(value, protocol=2):
    with_calls = io.BytesIO()
    CallPickler(with_calls, protocol=protocol).dump(value)
    return with_calls.getvalue()


RECONSTRUCT = np._core.multiarray._reconstruct


def array_call(shape, dtype, data, dtype_state=None):
    dtype_call = Call(np.dtype, (dtype, False, True), dtype_state or (3, "<", None, None, None, -1, -1, 0))
    return Call(RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, shape, dtype_call, False, data))


def shared_lists(levels, width):
    """(L[0], ..., L[levels]) with L[0] = [], L[i] = [L[i-1]] * width: levels * width opcodes, width ** levels paths."""
    ops = [b"\x80\x02(]", put(0)]
    for level in range(1, levels + 1):
        ops += [b"](", get(level - 1) * width, b"e", put(level)]
    return b"".join(ops) + b"t."


def shared_tree(levels):
    """L[levels] alone on the stack, L[0] = [], L[i] = [L[i-1], L[i-1]]: its repr or a naive walk takes 2 ** levels."""
    ops = b"]" + put(0)
    for level in range(1, levels + 1):
        ops = b"](" + ops + get(level - 1) + b"e" + put(level)
    return ops


FIELD_FAR_AWAY = (3, "|", None, ("f0",), {"f0": (np.dtype("i4"), 10**9)}, 8, 1, 1)  # the 263-byte SIGSEGV
HOSTILE = {
    "dtype V8 with a field 1 GB away": (
        crafted({"fc.weight": array_call((1,), "V8", b"\0" * 8, FIELD_FAR_AWAY)}),
        "refused to load numpy.dtype('V8') from ",
    ),
    "dtype f4 given a structured state": (
        crafted({"fc.weight": array_call((1,), "f4", b"\0" * 4, FIELD_FAR_AWAY)}),
        "refused to load numpy.dtype('f4') with a state other than a plain number's",
    ),
    "dtype with another byte order": (
        crafted({"fc.weight": array_call((1,), "f4", b"\0" * 4, (3, "|", None, None, None, -1, -1, 0))}),
        "refused to load numpy.dtype('f4') with byte order '|'",
    ),
    "dtype with a byte order of 2**60 paths": (  # refused without its repr, which would never end
        b"\x80\x02"
        + global_("numpy", "dtype")
        + text("f4")
        + b"\x89\x88\x87R(K\x03"
        + shared_tree(60)
        + b"NNNJ"
        + b"\xff" * 4
        + b"J"
        + b"\xff" * 4
        + b"K\x00tb.",
        "refused to load numpy.dtype('f4') with byte order a list from ",
    ),
    "OrderedDict given an items attribute": (
        crafted({"fc.weight": Call(collections.OrderedDict, (), {"items": np.dtype("f4")})}),
        "refused to load BUILD on dict",
    ),
    "BUILD on the reader's function": (
        b"\x80\x02" + global_("numpy._core.multiarray", "_reconstruct") + b"}" + text("__defaults__") + b")sb.",
        "refused to load BUILD on numpy._core.multiarray._reconstruct",
    ),
    "lists shared 60 levels deep": (shared_lists(60, 2), "refused to load more than 4194304 values"),
    "lists nested 60 deep": (shared_lists(60, 1), "refused to load containers nested more than 32 deep"),
    "bytes under tuples nested 1000 deep": (  # refused at depth 33, not at the bottom: 2 million deep took 0.5 GB
        b"\x80\x02C\x01x" + b"\x85" * 1000 + b".",
        "refused to load containers nested more than 32 deep",
    ),
    "lists shared 1000 times on 3 levels": (shared_lists(3, 1000), "refused to load more than 4194304 values"),
    "one 64 KiB array under 1000 paths": (
        pickle.dumps({"a": [np.zeros(2**14, "f4")] * 1000}, protocol=4),
        "bytes of arrays (arrays shared many times over)",  # over 2 * the file's size + 1 MiB, counted as a tree
    ),
    "a million empty dicts": (  # 1 MB of `}` made 250 MB of dicts and took seconds to walk
        b"\x80\x02(" + b"}" * 10**6 + b"t.",
        "refused to load dicts and lists larger than the file's own data",
    ),
    "a list holding itself": (b"\x80\x02]" + put(0) + get(0) + b"a.", "refused to load a list holding itself"),
    "LONG_BINPUT at 10**8": (b"\x80\x02N" + put(10**8) + b".", "refused to load memo index 100000000 after 1 values"),
    "a 1.5 GB array without data": (
        crafted({"fc.weight": array_call((400_000_000,), "f4", b"")}),
        "refused to load a float32 array of 400000000 items from 0 bytes",
    ),
    "bytes of 1.5 GB declared, none there": (
        b"\x80\x03B" + struct.pack("<I", 1_500_000_000) + b".",
        "is truncated or corrupt (a value of 1500000000 bytes where 1 remain)",
    ),
    "a string array": (pickle.dumps({"a": np.array(["ab"])}, protocol=2), "refused to load numpy.dtype('U2') from "),
    "a structured array": (
        pickle.dumps({"a": np.zeros(2, "i4,f8")}, protocol=4),
        "refused to load numpy.dtype('V12') from ",
    ),
    "an object array": (
        pickle.dumps({"a": np.array([1, "a"], dtype=object)}),
        "refused to load numpy.dtype('O8') from ",
    ),
    "a uint64 array, which Paddle cannot hold": (
        pickle.dumps({"a": np.zeros(2, "u8")}, protocol=4),
        "refused to load numpy.dtype('u8') from ",
    ),
    "a numpy scalar of another size": (
        crafted({"a": Call(np._core.multiarray.scalar, (np.dtype("f8"), b"\0" * 4))}),
        "refused to load a numpy float64 scalar from anything but its 8 bytes",
    ),
    "an int key": (pickle.dumps({1: np.zeros(1), "fc.weight": np.zeros(1)}), "refused to load a int key"),
    "a tuple key": (pickle.dumps({(1, 2): np.zeros(1)}), "refused to load a tuple key"),
    "a bare dtype": (pickle.dumps({"a": np.dtype("f4")}), "refused to load a numpy.dtype"),
    "the ndarray class": (pickle.dumps({"a": np.ndarray}), "refused to load a numpy.ndarray"),
    "big-param parts of text": (
        pickle.dumps({"w@@.0": [["ab"]], safe_pickle.BIG_PARAMS: {"w": {"OriginShape": (1, 1), "slices": ["w@@.0"]}}}),
        "refused to load UnpackBigParamInfor@@ joining other than flat arrays of one dtype",
    ),
    "big-param part of 4 million shared ints": (  # 14 KB made a 32 MB array
        pickle.dumps({"w@@.0": [[10**6] * 2000] * 2000, safe_pickle.BIG_PARAMS: {"w": {"OriginShape": (-1,)}}}),
        "refused to load UnpackBigParamInfor@@ other than {'OriginShape': shape, 'slices': keys}",
    ),
    "NEWOBJ": (b"\x80\x02" + global_("collections", "OrderedDict") + b")\x81.", "refused to load pickle opcode NEWOBJ"),
    "protocol 5": (pickle.dumps({"a": 1}, protocol=5), "refused to load pickle protocol 5"),
}


@needs_linux
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused(tmp_path, name):
    data, message = HOSTILE[name]
    path = tmp_path / "hostile.pdparams"
    path.write_bytes(data)
    outcome = load_in_children([path])[str(path)]
    assert_refused_or_plain(outcome)
    assert message in outcome.get("error", ""), outcome


@needs_linux
def test_array_data_read_twice_is_refused(tmp_path):
    """Two arrays from one memoized 128 KiB of bytes: the second would double the memory the file pays for."""
    dtype = global_("numpy", "dtype") + text("f4") + b"\x89\x88\x87R" + put(0)
    dtype += b"(K\x03" + text("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    data = b"B" + struct.pack("<I", 2**17) + b"\0" * 2**17 + put(1)
    array = global_("numpy._core.multiarray", "_reconstruct") + global_("numpy", "ndarray") + b"K\x00\x85C\x01b\x87R"
    first = array + b"(K\x01J\x00\x80\x00\x00\x85" + get(0) + b"\x89" + data + b"tb"
    second = array + b"(K\x01J\x00\x80\x00\x00\x85" + get(0) + b"\x89" + get(1) + b"tb"
    path = tmp_path / "twice.pdparams"
    path.write_bytes(b"\x80\x03(" + dtype + first + second + b"t.")
    outcome = load_in_children([path])[str(path)]
    assert "refused to load one array's data used twice" in outcome.get("error", ""), outcome


@needs_linux
def test_arrays_beyond_the_files_own_bytes_are_refused(tmp_path):
    """200 arrays from one memoized 60 KiB of bytes: 12 MB of arrays from a 60 KiB file."""
    dtype = global_("numpy", "dtype") + text("f4") + b"\x89\x88\x87R" + put(0)
    dtype += b"(K\x03" + text("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    array = global_("numpy._core.multiarray", "_reconstruct") + global_("numpy", "ndarray") + b"K\x00\x85C\x01b\x87R"
    state = b"(K\x01M\x00\x3c\x85" + get(0) + b"\x89"  # shape (15360,): 60 KiB of float32
    data = b"B" + struct.pack("<I", 15360 * 4) + b"\0" * (15360 * 4) + put(1)
    arrays = array + state + data + b"tb" + (array + state + get(1) + b"tb") * 199
    path = tmp_path / "amplified.pdparams"
    path.write_bytes(b"\x80\x03(" + dtype + arrays + b"t.")
    outcome = load_in_children([path])[str(path)]
    assert "refused to load arrays larger than the file's own data" in outcome.get("error", ""), outcome


def test_values_beyond_max_objects_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(pickle_machine, "MAX_OBJECTS", 50)
    path = tmp_path / "many.pdparams"
    path.write_bytes(b"\x80\x02(" + b"N" * 51 + b"t.")
    with pytest.raises(CheckpointError, match="^refused to load more than 50 values from "):
        safe_pickle.load(str(path))
    path.write_bytes(b"\x80\x02(" + b"N" * 49 + b"t.")
    assert safe_pickle.load(str(path)) == (None,) * 49


def test_integers_longer_than_int64_are_refused(tmp_path):
    path = tmp_path / "long.pdparams"
    path.write_bytes(b"\x80\x02\x8a\x09" + b"\xff" * 9 + b".")
    with pytest.raises(CheckpointError, match="^refused to load an integer of 9 bytes from "):
        safe_pickle.load(str(path))
    path.write_bytes(b"\x80\x02\x8a\x08" + b"\xff" * 8 + b".")
    assert safe_pickle.load(str(path)) == -1


DANGEROUS = [
    ("builtins", "getattr"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "__import__"),
    ("builtins", "compile"),
    ("builtins", "open"),
    ("builtins", "setattr"),
    ("os", "system"),
    ("posix", "system"),
    ("nt", "system"),
    ("subprocess", "Popen"),
    ("pickle", "loads"),
    ("_pickle", "loads"),
    ("numpy", "load"),
    ("numpy.lib.npyio", "load"),
]


@pytest.mark.parametrize("module, name", DANGEROUS)
def test_each_dangerous_global_is_refused_by_name(tmp_path, module, name):
    """A minimal pickle naming the global (then calling it with ()) is refused at its name (issue 29)."""
    path = tmp_path / "named.pdparams"
    for data in (global_(module, name) + b".", global_(module, name) + b")R."):
        path.write_bytes(b"\x80\x02" + data)
        with pytest.raises(CheckpointError, match=f"^refused to load {module}.{name} from "):
            safe_pickle.load(str(path))


def test_python_2_names_are_refused_by_their_python_3_name(tmp_path):
    path = tmp_path / "named.pdparams"
    path.write_bytes(b"\x80\x02" + global_("__builtin__", "eval") + b".")  # protocol 2 names Python 2's modules
    with pytest.raises(CheckpointError, match="^refused to load builtins.eval from "):
        safe_pickle.load(str(path))


def test_the_allowed_globals_are_exactly_those_paddle_save_writes():
    """Pinned: a global added here is one more name a stranger's file can use."""
    numpy_modules = ("numpy._core.multiarray", "numpy.core.multiarray")
    assert {key: value.name for key, value in pickle_machine.ALLOWED.items()} == {
        **{(m, "_reconstruct"): "numpy._core.multiarray._reconstruct" for m in numpy_modules},
        **{(m, "scalar"): "numpy._core.multiarray.scalar" for m in numpy_modules},
        ("numpy", "ndarray"): "numpy.ndarray",
        ("numpy", "dtype"): "numpy.dtype",
        ("_codecs", "encode"): "_codecs.encode",
        ("builtins", "tuple"): "builtins.tuple",
        ("builtins", "bytes"): "builtins.bytes",
        ("collections", "OrderedDict"): "collections.OrderedDict",
    }
    assert all(type(value) is pickle_machine.Global for value in pickle_machine.ALLOWED.values())


def tiny_states():
    """A tiny network's state and, for each optimizer kind with a warm-up-then-cosine schedule, its state."""
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4), paddle.nn.Flatten())
    yield "model", net.state_dict()
    for kind in ("Momentum", "Adam", "AdamW", "SGD", "RMSProp", "Lamb", "Adagrad"):
        schedule = paddle.optimizer.lr.LinearWarmup(paddle.optimizer.lr.CosineAnnealingDecay(0.1, 10), 2, 0.0, 0.1)
        optimizer = getattr(paddle.optimizer, kind)(schedule, parameters=net.parameters())
        net(paddle.randn([1, 3, 5, 5])).mean().backward()
        optimizer.step()
        schedule.step()
        yield kind, optimizer.state_dict()
    kinds = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
    tensors = {kind: paddle.to_tensor(np.arange(6).reshape(2, 3)).astype(kind) for kind in kinds}
    yield "dtypes", {**tensors, "complex64": paddle.to_tensor(np.ones(3, "complex64")), "empty": paddle.zeros([0, 3])}
    yield "nested", {"a": {"b": paddle.ones([2])}, "l": [paddle.ones([1]), 1, "x", 2.5, None, True], "t": (1, 2)}


def test_every_optimizer_schedule_and_dtype_reads_as_paddle_load_reads_it(tmp_path):
    for name, state in tiny_states():
        for protocol in (2, 3, 4):
            path = str(tmp_path / f"{name}{protocol}.pdparams")
            paddle.save(state, path, protocol=protocol)
            ours, paddles = safe_pickle.load(path), paddle.load(path, return_numpy=True)
            assert_same(ours, paddles)
            arrays = [v for v in ours.values() if isinstance(v, np.ndarray)]
            assert all(a.flags.writeable and a.flags.aligned for a in arrays)
            assert all(a.dtype == paddles[k].dtype for k, a in ours.items() if isinstance(a, np.ndarray))


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_numpy_layouts_read_as_pickle_reads_them(tmp_path, protocol):
    """Fortran order, big-endian (swapped to native, as NumPy does), 0-d, scalars, OrderedDict (as a dict)."""
    value = collections.OrderedDict(
        f=np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        big_endian=np.arange(5, dtype=">i4"),
        zero_d=np.float16(2.5) * np.ones((), "f2"),
        scalars=[np.float64(1.5), np.int64(-3), np.bool_(True)],
        large=np.arange(2**15, dtype="f4"),  # past LAZY_BYTES: read straight from the file into the array
    )
    path = tmp_path / "layouts.pdparams"
    path.write_bytes(pickle.dumps(value, protocol=protocol))
    ours, expected = safe_pickle.load(str(path)), pickle.loads(path.read_bytes())
    assert type(ours) is dict and list(ours) == list(expected)
    for key, want in expected.items():
        for got, item in zip(ours[key], want) if key == "scalars" else [(ours[key], want)]:
            assert type(got) is type(item) and got.dtype == item.dtype and np.array_equal(got, item)
    assert ours["f"].flags.f_contiguous and ours["big_endian"].dtype.isnative


def test_big_params_split_as_paddle_splits_them_are_joined(tmp_path):
    """paddle.save splits an array past 1 GiB into flat parts for protocols 2 and 3; the test's parts are small."""
    flat = np.arange(10, dtype="f4")
    info = {"w": {"OriginShape": (2, 5), "slices": ["w@@.0", "w@@.1"]}}
    path = tmp_path / "split.pdparams"
    path.write_bytes(pickle.dumps({"w@@.0": flat[:6], "w@@.1": flat[6:], safe_pickle.BIG_PARAMS: info}, protocol=2))
    ours = safe_pickle.load(str(path))
    assert list(ours) == ["w"] and ours["w"].dtype == flat.dtype and np.array_equal(ours["w"], flat.reshape(2, 5))
    assert_same(ours, paddle.load(str(path), return_numpy=True))


@pytest.fixture(scope="module")
def resnet18_arrays():
    return {key: value.numpy() for key, value in paddle_attn.create_model("resnet18").state_dict().items()}


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            "conv1.weight",
            np.zeros((64, 3, 7, 7), "f2"),
            "mistyped (1): conv1.weight: checkpoint float16 vs model float32",
        ),
        ("conv1.weight", [1.0], "misshapen (1): conv1.weight: checkpoint [] vs model [64, 3, 7, 7]"),
        ("fc.bias", np.float32(1), "misshapen (1): fc.bias: checkpoint [] vs model [1000]"),
        ("fc.bias", [1.0], "misshapen (1): fc.bias: checkpoint [] vs model [1000]"),
    ],
)
def test_plain_values_that_are_not_the_models_tensors_are_named(tmp_path, resnet18_arrays, key, value, message):
    """What the reader lets through (other dtypes, numbers, lists) reaches create_model as a CheckpointError naming
    the tensor, not an AssertionError from set_state_dict or an AttributeError/IndexError on its shape."""
    path = tmp_path / "other.pdparams"
    path.write_bytes(pickle.dumps({**resnet18_arrays, key: value}, protocol=4))  # whole: the model's name is inferred
    with pytest.raises(CheckpointError, match="does not fit the model") as caught:
        paddle_attn.create_model("resnet18", pretrained=str(path))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "parts, shape",
    [
        ([np.zeros(6, "f4"), np.zeros(4, "f8")], (2, 5)),  # two dtypes: joined as float64
        ([np.zeros((2, 3), "f4"), np.zeros(4, "f4")], (2, 5)),  # a part not flat
        ([np.zeros(6, "f4"), np.zeros(4, "f4")], (3, 5)),  # more than the parts hold
        ([np.zeros(6, "f4"), np.zeros(4, "f4")], [-2, -5]),  # negative sizes of the right product
    ],
)
def test_big_params_other_than_paddles_split_are_refused(tmp_path, parts, shape):
    info = {"w": {"OriginShape": shape, "slices": ["w@@.0", "w@@.1"]}}
    path = tmp_path / "split.pdparams"
    path.write_bytes(pickle.dumps({"w@@.0": parts[0], "w@@.1": parts[1], safe_pickle.BIG_PARAMS: info}, protocol=2))
    with pytest.raises(CheckpointError, match="^refused to load UnpackBigParamInfor@@ "):
        safe_pickle.load(str(path))


def test_truncated_files_are_corrupt_not_refused(tmp_path):
    data = pickle.dumps({"a": np.arange(2**15, dtype="f4"), "b": np.arange(3)}, protocol=4)
    path = tmp_path / "cut.pdparams"
    for end in (0, 1, 2, 20, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:end])
        with pytest.raises(CheckpointError, match="is truncated or corrupt"):
            safe_pickle.load(str(path))


def fuzz_values():
    """Pickle fragments that each push one value if well formed: numbers, text, bytes (short, lazily read, or of a
    false length), the allowed and some refused globals, memo puts and gets (small and huge indices), tuples,
    lists, dicts, REDUCE, BUILD, dtypes and arrays built from any of these, shared and deep nesting, and a few
    single opcodes as noise; so random files reach every check of the interpreter with good and bad operands."""
    from hypothesis import strategies as st

    words = ["f4", "u2", "b1", "c8", "O8", "<U2", "V8", "<", "|", ">", "latin1", "utf8", "b", "items", "fc.weight"]
    words += ["numpy", "dtype", "ndarray", "numpy._core.multiarray", "_reconstruct", "scalar", "builtins", "tuple"]
    globals_ = [*pickle_machine.ALLOWED, ("builtins", "getattr"), ("os", "system"), ("builtins", "list")]
    dtype_state = b"(K\x03" + text("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"
    array = global_("numpy._core.multiarray", "_reconstruct") + global_("numpy", "ndarray") + b"K\x00\x85C\x01b\x87R"
    sizes = st.sampled_from([0, 1, 2, 3, 4, 255, 2**16, 2**31 - 1, 2**32 - 1])
    leaves = st.one_of(
        st.integers(0, 255).map(lambda k: b"K" + bytes([k])),
        st.sampled_from([-1, 0, 1, 10**9, 2**31 - 1]).map(lambda k: b"J" + struct.pack("<i", k)),
        st.binary(max_size=10).map(lambda b: b"\x8a" + bytes([len(b)]) + b),
        st.floats(allow_nan=True).map(lambda f: b"G" + struct.pack(">d", f)),
        st.sampled_from([b"N", b"\x88", b"\x89", b"}", b"]", b")"]),
        st.sampled_from(words).map(text),
        st.sampled_from(words).map(lambda w: b"\x8c" + bytes([len(w)]) + w.encode()),
        st.sampled_from([b"b", b"\0" * 4, b"\0" * 8, b"\x01" * 16]).map(lambda b: b"C" + bytes([len(b)]) + b),
        st.tuples(sizes, st.integers(0, 16)).map(lambda n: b"B" + struct.pack("<I", n[0]) + b"\0" * n[1]),
        st.tuples(sizes, st.integers(0, 16)).map(lambda n: b"\x8e" + struct.pack("<Q", n[0]) + b"\0" * n[1]),
        st.just(b"B" + struct.pack("<I", 2**16 + 4) + b"\0" * (2**16 + 4)),  # read lazily, from the file
        st.sampled_from(globals_).map(lambda g: global_(*g)),
        st.sampled_from(globals_).map(lambda g: text(g[0]) + text(g[1]) + b"\x93"),
        st.tuples(st.sampled_from([b"h", b"j"]), sizes).map(
            lambda p: p[0] + struct.pack("<I", p[1])[: 1 + 3 * (p[0] == b"j")]
        ),
        st.sampled_from([bytes([c]) for c in b"(t\x85\x86\x87aesuRb\x94\x93\x81.0\x95"]),  # noise
        st.tuples(st.integers(1, 40), st.integers(1, 3)).map(lambda p: shared_lists(*p)[2:-1]),
        st.integers(1, 200).map(lambda n: b"]" * n + b"a" * (n - 1)),
    )

    def extend(child):
        many = st.lists(child, max_size=4).map(b"".join)
        return st.one_of(
            many.map(lambda m: b"(" + m + b"t"),
            st.tuples(child, st.sampled_from([b"\x85", b"\x86", b"\x87"])).map(b"".join),
            many.map(lambda m: b"](" + m + b"e"),
            st.tuples(child, child).map(lambda kv: b"}" + kv[0] + kv[1] + b"s"),
            st.lists(st.tuples(st.sampled_from(words).map(text), child), max_size=3).map(
                lambda kvs: b"}(" + b"".join(k + v for k, v in kvs) + b"u"
            ),
            st.tuples(child, child).map(lambda fa: fa[0] + fa[1] + b"R"),
            st.tuples(child, child).map(lambda os_: os_[0] + os_[1] + b"b"),
            st.tuples(child, sizes).map(lambda c: c[0] + put(c[1] % 300 if c[1] < 2**31 else c[1])),
            st.tuples(child, st.integers(0, 5)).map(lambda c: c[0] + b"\x94" + b"h" + bytes([c[1]])),
            st.tuples(child, child, child).map(
                lambda c: global_("numpy", "dtype") + b"(" + c[0] + c[1] + c[2] + b"tR" + dtype_state + b"b"
            ),
            st.tuples(st.sampled_from(words).map(text), child).map(
                lambda c: global_("numpy", "dtype") + c[0] + b"\x89\x88\x87R" + c[1] + b"b"
            ),
            st.tuples(child, child, child, child).map(lambda c: array + b"(K\x01" + c[0] + c[1] + c[2] + c[3] + b"tb"),
            st.tuples(st.sampled_from(DTYPE_CODES_FUZZED), st.lists(st.integers(0, 4), max_size=3), child).map(
                lambda c: (
                    array
                    + b"(K\x01"
                    + crafted(tuple(c[1]))[2:-1]
                    + global_("numpy", "dtype")
                    + text(c[0])
                    + b"\x89\x88\x87R"
                    + dtype_state
                    + b"b\x89"
                    + c[2]
                    + b"tb"
                )
            ),
        )

    return st.recursive(leaves, extend, max_leaves=12)


DTYPE_CODES_FUZZED = ["f4", "f2", "i8", "b1", "c16", "u2", "O8", "V4", "<U1"]


@needs_linux
def test_fuzzed_opcode_streams_end_in_an_error_or_plain_values(tmp_path):
    """Random files of the allowed opcodes and globals, 40 per child: each read ends in a CheckpointError or plain
    values, within PER_FILE_SECONDS and CHILD_MIB, and the child exits 0 (no crash, no hang)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    counter = iter(range(10**6))

    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(st.tuples(st.sampled_from([2, 3, 4, 4, 5]), fuzz_values()), min_size=40, max_size=40))
    def check(files):
        paths = []
        for protocol, value in files:
            paths.append(tmp_path / f"fuzz{next(counter)}.pdparams")
            paths[-1].write_bytes(b"\x80" + bytes([protocol]) + value + b".")
        for outcome in load_in_children(paths).values():
            assert_refused_or_plain(outcome)

    check()
