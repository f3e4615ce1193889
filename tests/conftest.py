"""Every test starts from the same seeds, with Paddle on every core."""

import numpy as np
import paddle
import pytest
from hypothesis import settings

import paddle_attn

paddle_attn.set_cpu_threads()

# property tests draw the same examples on every run and machine: a failure is reproducible, never a fluke
settings.register_profile("reproducible", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("reproducible")


@pytest.fixture(autouse=True)
def _seed():
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
