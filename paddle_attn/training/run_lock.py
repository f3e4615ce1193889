"""One run per output folder, even when two start at the same moment: an exclusive `flock` held for the run's life.

The kernel drops the lock when the process ends, however it ends, so a killed run never leaves a stale one.
"""

import fcntl
import json
import os
import socket
import time

from paddle_attn.errors import ConfigError

LOCK_FILE = ".run.lock"


class RunLock:
    """Holds `run_dir/.run.lock` from construction to `release()`; raises ConfigError naming the holder if another
    process holds it. The file records the holder's PID, host and start time for that message."""

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, LOCK_FILE)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(self._fd)
            os.close(self._fd)
            raise ConfigError(
                f"run.output_dir {run_dir!r} is in use by another run ({holder}); wait for it to end, "
                f"or write to another -o run.output_dir=..."
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(
            self._fd,
            json.dumps(
                {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
            ).encode(),
        )

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = None


def _read_holder(fd):
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        return f"PID {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):  # the holder has not written itself down yet
        return "its PID is not written yet"
