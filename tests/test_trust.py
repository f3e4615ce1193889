"""Weights files never run code (issue 18): a poisoned pickle through every path that reads one is refused
before its payload runs, naming the file; --trusted reads old files that hold other objects."""

import fractions
import os
import pickle
import re

import numpy as np
import paddle
import pytest

import paddle_attn
from paddle_attn.checkpoint import CheckpointError, load_params, safe_pickle
from paddle_attn.training import train
from tests.helpers import ROOT, assert_user_error, make_checkpoint, run_tool, tiny_config
from tests.test_convert import NEEDS_TORCH


class Payload:
    """Unpickling this calls os.system, as a real attack would; here it only creates `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def poison(path, marker, params=None):
    """Overwrite `path` with a pickled state dict (of `params`, default one tensor) holding a Payload."""
    params = {key: np.asarray(value) for key, value in (params or {"fc.bias": np.zeros(10, "float32")}).items()}
    with open(path, "wb") as f:
        pickle.dump({**params, "fc.weight": Payload(marker)}, f, protocol=4)


def refused(path):
    """The start of the error a poisoned `path` gives: the refused global and the file."""
    return f"refused to load posix.system from {os.path.realpath(path)!r}"


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "payload-ran"
    yield path
    assert not path.exists(), "the payload ran"


def assert_same(ours, paddles):
    if isinstance(paddles, dict):
        assert ours.keys() == paddles.keys()
        for key, value in paddles.items():
            assert_same(ours[key], value)
    else:
        assert np.array_equal(ours, paddles) if isinstance(paddles, np.ndarray) else ours == paddles


def test_paddle_save_output_loads_as_paddle_load_reads_it(tmp_path):
    net = paddle_attn.create_model("resnet18_nam", num_classes=10, stem="cifar")
    schedule = paddle.optimizer.lr.LinearWarmup(0.1, 4, 0.0, 0.1)
    optimizer = paddle.optimizer.Momentum(schedule, parameters=net.parameters())
    net(paddle.randn([2, 3, 32, 32])).mean().backward()
    optimizer.step()
    schedule.step()
    master = {**optimizer.state_dict(), "master_weights": {"fc.bias": net.fc.bias}}  # AMP O2: tensors one level down
    for state, name in ((net.state_dict(), "m.pdparams"), (optimizer.state_dict(), "o.pdopt"), (master, "amp.pdopt")):
        for protocol in (2, 3, 4):  # every protocol paddle.save writes
            path = str(tmp_path / f"{protocol}{name}")
            paddle.save(state, path, protocol=protocol)
            ours = safe_pickle.load(path)
            assert_same(ours, paddle.load(path, return_numpy=True))
            assert "fc.weight" in ours or ours["LR_Scheduler"] == {"last_epoch": 1, "last_lr": 0.025}
    assert isinstance(ours["master_weights"]["fc.bias"], np.ndarray)


def test_pretrained_pdparams_is_refused_before_the_payload_runs(tmp_path, marker):
    poison(tmp_path / "evil.pdparams", marker)
    with pytest.raises(
        CheckpointError, match=re.escape(refused(tmp_path / "evil.pdparams")) + ".*pass trusted=True / --trusted"
    ):
        paddle_attn.create_model("resnet18", num_classes=10, pretrained=tmp_path / "evil.pdparams")


def test_pretrained_pth_is_refused_before_the_payload_runs(tmp_path, marker):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    torch.save({"fc.bias": torch.zeros(10), "fc.weight": Payload(marker)}, tmp_path / "evil.pth")
    with pytest.raises(
        CheckpointError,
        match=re.escape(f"cannot read {str(tmp_path / 'evil.pth')!r} as a PyTorch checkpoint")
        + ".*posix.system.*trusted=True",
    ):
        paddle_attn.create_model(
            "resnet18", num_classes=10, pretrained=tmp_path / "evil.pth", pretrained_layout="torchvision"
        )


@pytest.fixture
def poisoned_checkpoint(tmp_path, marker):
    run = make_checkpoint(tmp_path / "run", "resnet18")
    weights = os.path.join(run, "checkpoints", "epoch_0001", "model.pdparams")
    poison(weights, marker)
    return run, weights


@pytest.mark.parametrize(
    "tool, args",
    [
        ("eval.py", ["-c", os.path.join(ROOT, "configs", "quickstart.yaml")]),
        ("infer.py", [os.path.join(ROOT, "docs", "images", "attention_gradcam.png")]),
        ("visualize.py", [os.path.join(ROOT, "docs", "images", "attention_gradcam.png"), "--out", "{out}"]),
    ],
)
def test_tools_refuse_a_poisoned_checkpoint_with_exit_2(poisoned_checkpoint, tmp_path, tool, args):
    run, weights = poisoned_checkpoint
    result = run_tool(tool, "--checkpoint", run, *[a.format(out=tmp_path / "out") for a in args])
    assert_user_error(result, refused(weights), "--trusted")


def test_trusted_reads_an_old_file_holding_another_object(tmp_path):
    run = make_checkpoint(tmp_path / "run", "resnet18")
    weights = os.path.join(run, "checkpoints", "epoch_0001", "model.pdparams")
    params = paddle.load(weights, return_numpy=True)
    with open(weights, "wb") as f:  # an old script's extra object beside the tensors (harmless here)
        pickle.dump({**params, safe_pickle.NAME_TABLE: fractions.Fraction(1, 3)}, f)
    with pytest.raises(
        CheckpointError, match=re.escape(f"refused to load fractions.Fraction from {os.path.realpath(weights)!r}")
    ):
        load_params(run)
    assert load_params(run, trusted=True).keys() == params.keys()


def test_object_arrays_are_refused(tmp_path):
    """An object array's items are any pickled objects: refused at its dtype, before any item is read."""
    (tmp_path / "objects.pdparams").write_bytes(pickle.dumps({"fc.bias": np.array([1, "a"], dtype=object)}))
    with pytest.raises(
        CheckpointError,
        match=re.escape(f"refused to load numpy.dtype('O8') from {str(tmp_path / 'objects.pdparams')!r}"),
    ):
        safe_pickle.load(str(tmp_path / "objects.pdparams"))


def tiny_run(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    train(config)
    return tiny_config(tmp_path, "run.resume=auto", epochs=2), os.path.join(
        tmp_path, "run", "checkpoints", "epoch_0001"
    )


@pytest.mark.parametrize("file", ["model.pdparams", "model.pdopt"])
def test_resume_refuses_a_poisoned_file(tmp_path, marker, file):
    config, checkpoint = tiny_run(tmp_path)
    poison(os.path.join(checkpoint, file), marker, load_params(checkpoint) if file == "model.pdopt" else None)
    with pytest.raises(CheckpointError, match=re.escape(refused(os.path.join(checkpoint, file)))):
        train(config)


def test_no_paddle_load_or_free_unpickling_in_the_library_or_tools():
    """Every weights file is read through safe_pickle; paddle.load and pickle.load would run a file's code."""
    found = []
    for folder in ("paddle_attn", "tools"):
        for root, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in (n for n in names if n.endswith(".py")):
                path = os.path.join(root, name)
                source = open(path).read()
                if re.search(r"paddle\.load\(|\bjit\.load\(", source):
                    found.append(f"{path}: paddle.load")
                if re.search(r"\bpickle\.(load|loads|Unpickler)\b", source) and name != "safe_pickle.py":
                    found.append(f"{path}: pickle")
    assert found == []


class Call:
    """Pickled as `func(*args)`, then BUILD with `state` if given: a node of a random or a crafted pickle."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, tuple(args), state


class CallPickler(pickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, Call):
            return (obj.func, obj.args) if obj.state is None else (obj.func, obj.args, obj.state)
        return NotImplemented


def functions_in(node):
    if isinstance(node, Call):
        yield node.func
        for child in (*node.args, node.state):
            yield from functions_in(child)
    elif isinstance(node, (list, tuple)):
        for child in node:
            yield from functions_in(child)
    elif isinstance(node, dict):
        for child in node.values():
            yield from functions_in(child)
    elif callable(node):
        yield node


def test_random_pickles_never_act_and_load_only_plain_values(tmp_path_factory):
    import builtins
    import codecs
    import collections
    import subprocess

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    folder = tmp_path_factory.mktemp("random-pickles")
    marker, sentinel, path = str(folder / "marker"), str(folder / "sentinel"), str(folder / "x.pdparams")
    open(sentinel, "w").close()
    dangerous = [
        builtins.eval,
        builtins.exec,
        builtins.open,
        builtins.getattr,
        builtins.__import__,
        os.system,
        os.remove,
        os.mkdir,
        subprocess.call,
        subprocess.check_output,
        np.save,
        np.load,
        paddle.save,
        paddle.to_tensor,
    ]
    allowed = [
        np._core.multiarray._reconstruct,
        np._core.multiarray.scalar,
        np.ndarray,
        np.dtype,
        codecs.encode,
        collections.OrderedDict,
        builtins.tuple,
    ]
    leaves = st.sampled_from(
        [
            f"touch {marker}",
            marker,
            sentinel,
            f"open({marker!r}, 'w')",
            "__import__('os').system('touch " + marker + "')",
            ["touch", marker],
            "w",
            "f4",
            "O",
            "latin1",
            b"\0" * 8,
            b"b",
            0,
            2,
            1.5,
            (0,),
            (2,),
            None,
            True,
            "os",
            "system",
            np.ndarray,
            np.dtype,
            np.float32(1.0),
        ]
    )
    trees = st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(Call, st.sampled_from(dangerous + allowed), st.lists(children, max_size=3), st.none() | children),
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(["a", "fc.weight"]), children, max_size=2),
        ),
        max_leaves=12,
    )
    allowed_names = {f"{f.__module__}.{f.__qualname__}" for f in allowed}

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(trees, st.sampled_from([2, 3, 4]))
    def check(tree, protocol):
        try:
            with open(path, "wb") as f:
                CallPickler(f, protocol=protocol).dump(tree)
        except (pickle.PicklingError, TypeError, AttributeError):
            return
        try:
            loaded = safe_pickle.load(path)
        except CheckpointError as err:
            assert str(path) in str(err)
        else:
            used = {f"{f.__module__}.{f.__qualname__}" for f in functions_in(tree)}
            assert used <= allowed_names, used
            safe_pickle.check_plain(loaded, max_bytes=2**30)
        assert not os.path.exists(marker) and os.path.exists(sentinel)
        assert sorted(os.listdir(folder)) == ["sentinel", "x.pdparams"]

    check()
