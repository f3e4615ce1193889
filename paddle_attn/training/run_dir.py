"""A run's output directory: writable before anything is built, and never taken over by a new run.

A new run into a directory that holds one would delete its checkpoints (only the newest are kept)
and mix both runs' VisualDL curves, so it stops with a message, or moves the old run aside if asked.
"""

import os
import time

from paddle_attn.config import save_config
from paddle_attn.errors import ConfigError
from paddle_attn.training.distributed import is_main_process
from paddle_attn.training.run_lock import RunLock


def existing_run(run_dir):
    """What of an earlier run `run_dir` holds (e.g. ["checkpoints/epoch_0003", "VisualDL logs"]); [] if none."""
    found = []
    checkpoints = os.path.join(run_dir, "checkpoints")
    if os.path.isdir(checkpoints):
        found += [f"checkpoints/{name}" for name in sorted(os.listdir(checkpoints)) if name.startswith("epoch_")]
    vdl = os.path.join(run_dir, "vdl")
    if os.path.isdir(vdl) and any(name.startswith("vdlrecords.") for name in os.listdir(vdl)):
        found.append("VisualDL logs")
    if os.path.isfile(os.path.join(run_dir, "config.yaml")):
        found.append("config.yaml")
    return found


def claim_run_dir(run_dir, resume_from=None, move_existing=False):
    """Make sure a run may write into `run_dir`: empty, or the run being resumed (`resume_from` inside it).

    Otherwise move the old run to `<run_dir>.old-<date>-<time>` if `move_existing` (returns that path),
    else raise a ConfigError naming the ways on.
    """
    found = existing_run(run_dir)
    inside = resume_from is not None and os.path.realpath(resume_from).startswith(os.path.realpath(run_dir) + os.sep)
    if not found or inside:
        return None
    if move_existing:
        aside = f"{os.path.normpath(run_dir)}.old-{time.strftime('%Y%m%d-%H%M%S')}"
        os.rename(run_dir, aside)
        print(f"moved the earlier run in {run_dir} to {aside}")
        return aside
    shown = ", ".join(found[:4]) + (" ..." if len(found) > 4 else "")
    raise ConfigError(
        f"run.output_dir {run_dir!r} already holds a run ({shown}); a new run there would delete its checkpoints "
        f"and mix its curves. Continue it with -o run.resume=auto, write to another -o run.output_dir=..., or "
        f"move it aside with -o run.move_existing_run=true (to {os.path.normpath(run_dir)}.old-<date>-<time>)"
    )


def hold_run_dir(run_dir, resume_from=None, move_existing=False):
    """Lock `run_dir` for this run (`RunLock`), then claim it (`claim_run_dir`); returns the held lock, or None
    on the ranks other than the main one (they write nothing there).

    Locking first makes the claim safe against a run that starts at the same moment.
    """
    if not is_main_process():
        return None
    check_writable(run_dir)
    lock = RunLock(run_dir)
    try:
        if claim_run_dir(run_dir, resume_from, move_existing):  # the lock file moved aside with the old run
            lock.release()
            check_writable(run_dir)
            lock = RunLock(run_dir)
    except BaseException:
        lock.release()
        raise
    return lock


def check_writable(directory):
    """Fail before training, not at the first save, when the run directory cannot be written."""
    probe = os.path.join(directory, f".write-test-{os.getpid()}")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as err:
        raise ConfigError(f"cannot write to output directory {directory!r} (run.output_dir): {err.strerror}") from err


def write_run_config(run_dir, config):
    """`run_dir/config.yaml`: the config the run trains with, written by the main process."""
    if is_main_process():
        save_config(config, os.path.join(run_dir, "config.yaml"))
