"""The data loader of every run: Paddle's DataLoader, naming unreadable files, with workers that die with their trainer."""

import ctypes
import ctypes.util
import functools
import os
import signal

import paddle

from paddle_attn.data.images import load_image
from paddle_attn.errors import DataError

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class ErrorReportingLoader(paddle.io.DataLoader):
    """`paddle.io.DataLoader` that raises the DataError of a sample its data set marked unreadable, and whose
    worker processes exit when the process that started them dies.

    Paddle 3.3's loader hangs (no workers) or loses the message (workers) when a data set raises, so
    `LabeledImageFiles` marks an unreadable sample with label -1 - index and the main process names the
    file here. A SIGKILLed trainer (the out-of-memory killer, a scheduler's preemption) would otherwise
    leave its workers running forever, re-parented to init, each holding its memory.
    """

    def __init__(self, dataset, batch_sampler, num_workers=0, worker_init_fn=None):
        if num_workers:
            worker_init_fn = functools.partial(_start_worker, os.getpid(), worker_init_fn)
        super().__init__(dataset, batch_sampler=batch_sampler, num_workers=num_workers, worker_init_fn=worker_init_fn)

    def __iter__(self):
        for batch in super().__iter__():
            labels = batch[1].numpy()
            if (labels < 0).any():
                path = self.dataset.samples[-1 - int(labels[labels < 0][0])][0]
                load_image(path)  # raises the DataError naming the file
                raise DataError(f"{path!r} could not be read by a loader worker")
            yield batch


def _start_worker(parent_pid, worker_init_fn, worker_id):
    die_with_parent(parent_pid)
    if worker_init_fn is not None:
        worker_init_fn(worker_id)


def die_with_parent(parent_pid):
    """Have Linux SIGKILL this process when its parent exits (a no-op elsewhere); exit now if it already has."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)
