"""Every test starts from the same seeds, with Paddle on its share of the cores."""

import os

import numpy as np
import paddle
import pytest
from hypothesis import settings

import paddle_attn
from paddle_attn.cpu import available_cores

# pytest-xdist's workers (`-n 2`) split the cores between them: two 2-thread workers on 2 cores would contend
THREADS = max(1, available_cores() // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))

# property tests draw the same examples on every run and machine: a failure is reproducible, never a fluke
settings.register_profile("reproducible", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("reproducible")


@pytest.fixture(autouse=True)
def _seed():
    paddle_attn.set_cpu_threads(THREADS)  # again for every test: a test of the CPU settings may have changed it
    paddle.seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def onednn_ops():
    """The oneDNN operator built (or loaded from the cache); the test is skipped with the reason where it cannot be."""
    from paddle_attn.kernels.onednn.build import BuildUnavailable, load_ops

    try:
        load_ops()
    except BuildUnavailable as err:
        pytest.skip(f"the oneDNN operator cannot be built here: {err}")


@pytest.fixture(scope="session")
def onnx_exports(tmp_path_factory):
    """{family: (checkpoint run, export dir with model.onnx)}: random weights and norms, CIFAR stem, 10 classes,
    ONNX_SIZE x ONNX_SIZE inputs; built once per run for the ONNX and int8 tests (copy a directory to write in it),
    and under pytest-xdist once for all workers: the first to ask builds it, the others wait and read it."""
    pytest.importorskip("paddle2onnx", reason="ONNX export needs paddle2onnx: pip install -e '.[onnx]'")
    import fcntl
    import os

    from tests.helpers import ONNX_FAMILIES

    # pytest-xdist: each worker's base folder lies in the run's own folder, which all of them share
    shared = tmp_path_factory.getbasetemp().parent if "PYTEST_XDIST_WORKER" in os.environ else None
    root = (shared or tmp_path_factory.getbasetemp()) / "onnx_exports"
    made = {name: (str(root / name), str(root / name / "inference")) for name in ONNX_FAMILIES}
    with open(str(root) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "complete").exists():
            _write_onnx_exports(made)
            (root / "complete").touch()
    return made


def _write_onnx_exports(made):
    import os
    from concurrent.futures import ThreadPoolExecutor

    from paddle_attn.inference.onnx_conversion import export_onnx
    from paddle_attn.inference.write_export import export
    from tests.helpers import ONNX_SIZE, make_checkpoint

    for name, (run, out) in made.items():
        make_checkpoint(run, name, random_norms=True)
        export(run, out, image_size=ONNX_SIZE)
    with ThreadPoolExecutor(2) as pool:  # each conversion runs in a child process
        written = list(pool.map(export_onnx, [out for _, out in made.values()]))
    assert written == [os.path.join(out, "model.onnx") for _, out in made.values()]
