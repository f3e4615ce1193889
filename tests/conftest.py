"""Every test starts from the same seeds, with Paddle on every core."""

import numpy as np
import paddle
import pytest

import paddle_attn

paddle_attn.set_cpu_threads()


@pytest.fixture(autouse=True)
def _seed():
    paddle.seed(0)
    np.random.seed(0)
