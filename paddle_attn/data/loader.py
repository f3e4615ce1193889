"""The data loader of every run: Paddle's DataLoader, ending the run with a DataError naming the sample that failed
or the worker that stopped, never hanging, with workers that die with their trainer."""

import ctypes
import ctypes.util
import functools
import gc
import itertools
import json
import os
import signal
import threading

import numpy as np
import paddle
from paddle.io.dataloader.collate import default_collate_fn

from paddle_attn.errors import DataError, UserError

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
DEFAULT_TIMEOUT_S = 120.0  # data.timeout_s: a batch of 256 ImageNet images takes a worker a few seconds
POLL_S = 1  # Paddle's `timeout`: how often its wait for a worker's batch checks for dead workers (default 5 s)
FAILURE_TAG = "paddle_attn.sample_failure"  # second field of the batch that carries a failed sample's report


class ErrorReportingLoader(paddle.io.DataLoader):
    """`paddle.io.DataLoader` over `dataset` that raises a DataError naming the data set, the sample's index,
    its file (where it has one) and the exception's own message when reading or transforming a sample raises;
    and naming the worker when a worker process dies or sends no batch for `timeout_s` seconds (then every
    worker is stopped; without workers, a read that takes that long is reported). Worker processes exit when
    the process that started them dies.

    Paddle 3.3's loader hangs (no workers) or loses the message (workers) when a data set raises, and waits
    for a live worker forever (its own `timeout` is only how often it checks for dead ones: POLL_S), so each sample
    is read through `_Guarded`, which turns an exception into a report the main process raises. A SIGKILLed
    trainer (the out-of-memory killer, a scheduler's preemption) would otherwise leave its workers running
    forever, re-parented to init, each holding its memory.
    """

    def __init__(self, dataset, batch_sampler, num_workers=0, worker_init_fn=None, timeout_s=DEFAULT_TIMEOUT_S):
        if num_workers:
            worker_init_fn = functools.partial(_start_worker, os.getpid(), worker_init_fn)
        self.name = getattr(dataset, "name", None) or f"data set {type(dataset).__name__}"
        self.timeout_s = timeout_s
        super().__init__(
            _Guarded(dataset),
            batch_sampler=batch_sampler,
            num_workers=num_workers,
            worker_init_fn=worker_init_fn,
            collate_fn=_collate,
            timeout=POLL_S,
        )

    def __iter__(self):
        if self.num_workers:
            # an earlier iterator left in a reference cycle would be freed by gc in the forked workers: its queue's
            # condition variable, waited on by a thread that only the parent has, then hangs them (pthread_cond_destroy)
            gc.collect()
        batches, total = super().__iter__(), len(self)
        try:
            for number in itertools.count(1):
                watchdog = None
                try:  # Paddle's SIGCHLD handler raises wherever the main thread is, the watchdog's start included
                    watchdog = _Watchdog(batches, self.timeout_s)
                    batch = next(batches)
                except StopIteration:
                    return
                except SystemError as err:  # Paddle killed its queue: a worker died (or the watchdog stopped them)
                    fired = watchdog is not None and watchdog.fired
                    raise DataError(self._stopped(batches, f"{number} of {total}", fired, err)) from None
                finally:
                    if watchdog is not None:
                        watchdog.cancel()
                if isinstance(batch, (list, tuple)) and len(batch) == 3 and isinstance(batch[1], str):
                    if batch[1] == FAILURE_TAG:
                        raise DataError(self._failed(json.loads(batch[2])))
                yield batch
        except DataError:
            # now, not when the traceback lets go of `batches`: live workers hold the run folder's lock (forked)
            shut_down = getattr(batches, "_try_shutdown_all", None)
            if shut_down is not None:
                shut_down()
            raise

    def _failed(self, report):
        where = f" ({report['file']})" if report["file"] and report["file"] not in report["message"] else ""
        return f"sample {report['index']} of {self.name}{where}: {report['message']}"

    def _stopped(self, batches, number, fired, err):
        waiting = f"while batch {number} of {self.name} was loading"
        if fired and not self.num_workers:
            return (
                f"no sample was read for {self.timeout_s:g} s (data.timeout_s) {waiting}: a read stuck on a slow "
                f"or hung file system? (raise data.timeout_s if it is just slow)"
            )
        if fired:
            return (
                f"the data loader's workers sent no batch for {self.timeout_s:g} s (data.timeout_s) {waiting}, and "
                f"were stopped: a read stuck on a slow or hung file system? (raise data.timeout_s if it is just slow)"
            )
        dead = [w for w in getattr(batches, "_workers", ()) if w.exitcode not in (None, 0)]
        if dead:
            return f"the data loader's worker {'; '.join(map(_describe_exit, dead))} {waiting} (out of memory?)"
        return f"the data loader stopped {waiting}: {str(err).strip().splitlines()[0]}"


class _Guarded(paddle.io.Dataset):
    """`dataset`'s samples as (index, sample), or (index, report) where reading sample `index` raised."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        index = key[-1] if isinstance(key, tuple) else key  # (epoch, index) keys: see data.samples
        try:
            return index, self.dataset[key]
        except Exception as err:  # whatever a user's data set or transform raises is reported, not a hang
            return index, _report(self.dataset, index, err)


def _collate(pairs):
    """The batch of `pairs` (index, sample), or (zeros, FAILURE_TAG, report) for the first sample that failed,
    in fields Paddle's loader carries across processes (an array, strings)."""
    for _, sample in pairs:
        if isinstance(sample, _Report):
            return [np.zeros(1, "int64"), FAILURE_TAG, json.dumps(sample.fields)]
    try:
        return default_collate_fn([sample for _, sample in pairs])
    except Exception as err:  # samples of different shapes or types cannot be stacked into a batch
        indices = [index for index, _ in pairs]
        return [np.zeros(1, "int64"), FAILURE_TAG, json.dumps(_report(None, indices, err).fields)]


class _Report:
    def __init__(self, fields):
        self.fields = fields


def _report(dataset, index, err):
    file_of = getattr(dataset, "file_of", None)
    try:
        file = file_of(index) if file_of else None
    except Exception:  # naming the file is a courtesy: the report goes out without it
        file = None
    message = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
    return _Report({"index": index, "file": file, "message": message})


class _Watchdog:
    """Stops the workers of Paddle's iterator `batches` (SIGKILL) if no batch comes within `seconds`: Paddle then
    sees them dead and ends the iteration, instead of waiting on a worker stuck in I/O forever. Without workers,
    it ends the wait on Paddle's reading thread, which cannot be stopped: it is left behind (a daemon thread)."""

    def __init__(self, batches, seconds):
        self.batches, self.fired = batches, False
        self.timer = threading.Timer(seconds, self._stop_workers)
        self.timer.daemon = True
        self.timer.start()

    def _stop_workers(self):
        self.fired = True
        if not getattr(self.batches, "_workers", None):  # Paddle 3.3's single-process iterator
            self.batches._exit_thread_unexpectedly()  # kills its queue: the wait for a batch raises
            self.batches._thread = None  # not joined on shutdown: it is stuck
            return
        for worker in getattr(self.batches, "_workers", ()):
            if worker.is_alive():
                worker.kill()

    def cancel(self):
        self.timer.cancel()


def _describe_exit(worker):
    code = worker.exitcode
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
    return f"(pid {worker.pid}) {how}"


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
