"""Checkpoints on disk: one directory per save, written whole before it becomes visible.

Layout of a run directory:
    config.yaml                  the config the run used
    checkpoints/epoch_0003/      model.pdparams, model.pdopt (optimizer + LR schedule), state.json
    checkpoints/latest -> epoch_0003    symlinks, switched atomically after a save completes
    checkpoints/best   -> epoch_0002
`state.json` holds the epoch, the global step, the best top-1 so far, the metrics and the model spec
(`name`, `num_classes`, `stem`, `kwargs`), so a checkpoint alone rebuilds its network.
"""

import json
import os
import shutil

import paddle

from paddle_attn.errors import CheckpointError

MODEL_FILE, OPTIMIZER_FILE, STATE_FILE = "model.pdparams", "model.pdopt", "state.json"


def save_checkpoint(directory, name, model_state, optimizer_state, state):
    """Write `directory/name/` via a temporary directory renamed into place; return its path.

    On an OS error (a full disk) the partial directory is removed, so it keeps no space from the resume, and a
    CheckpointError names the error, the folder and the newest complete checkpoint.
    """
    tmp = os.path.join(directory, f".{name}.tmp")
    try:
        return _write_checkpoint(directory, name, tmp, model_state, optimizer_state, state)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        last = find_latest(os.path.dirname(os.path.abspath(directory)))
        resume = (
            f"resume from {last} (-o run.resume=auto) once"
            if last
            else "no complete checkpoint to resume from; start again"
        )
        raise CheckpointError(
            f"cannot save checkpoint {name} in {directory!r}: {err.strerror or err}; the partial "
            f"checkpoint was removed, {resume} the disk has room"
        ) from err


def _write_checkpoint(directory, name, tmp, model_state, optimizer_state, state):
    final = os.path.join(directory, name)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    paddle.save(model_state, os.path.join(tmp, MODEL_FILE))
    if optimizer_state is not None:
        paddle.save(optimizer_state, os.path.join(tmp, OPTIMIZER_FILE))
    with open(os.path.join(tmp, STATE_FILE), "w") as f:
        json.dump(state, f, indent=2)
    for path in os.listdir(tmp):
        _fsync(os.path.join(tmp, path))
    if os.path.exists(final):
        remove(final)
    os.rename(tmp, final)
    _fsync(directory)
    return final


def set_link(directory, link, target):
    """Make `directory/link` a symlink to `target` (a sibling name), replacing any old one atomically."""
    tmp = os.path.join(directory, f".{link}.tmp")
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, os.path.join(directory, link))
    _fsync(directory)


def remove(path):
    """Delete a checkpoint directory; renamed first, so an interrupted delete leaves no half checkpoint behind."""
    trash = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.trash")
    shutil.rmtree(trash, ignore_errors=True)
    os.rename(path, trash)
    shutil.rmtree(trash)


def resolve(path):
    """The checkpoint directory meant by `path`: a checkpoint directory, a file inside one,
    a run's `checkpoints/` directory or a run directory (both meaning its `best`, else `latest`)."""
    if os.path.isfile(path):
        path = os.path.dirname(path)
    for candidate in (
        path,
        os.path.join(path, "best"),
        os.path.join(path, "latest"),
        os.path.join(path, "checkpoints", "best"),
        os.path.join(path, "checkpoints", "latest"),
    ):
        if os.path.isfile(os.path.join(candidate, STATE_FILE)):
            return os.path.realpath(candidate)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    raise CheckpointError(
        f"{path!r} is not a checkpoint: no {STATE_FILE} in it, nor a best/ or latest/ checkpoint below it"
    )


def find_latest(run_dir):
    """The newest complete checkpoint of a run: `latest` if it resolves, else the highest complete
    `epoch_NNNN` (a run killed mid-save leaves only complete ones under that name); None if there is none."""
    directory = os.path.join(run_dir, "checkpoints")
    latest = os.path.join(directory, "latest")
    if os.path.isfile(os.path.join(latest, STATE_FILE)):
        return os.path.realpath(latest)
    complete = sorted(
        entry
        for entry in (os.listdir(directory) if os.path.isdir(directory) else [])
        if entry.startswith("epoch_") and os.path.isfile(os.path.join(directory, entry, STATE_FILE))
    )
    return os.path.join(directory, complete[-1]) if complete else None


def read_state(path):
    """The `state.json` of the checkpoint at `path`."""
    directory = resolve(path)
    try:
        with open(os.path.join(directory, STATE_FILE)) as f:
            state = json.load(f)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint {directory!r}: cannot read {STATE_FILE}: {err}") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {directory!r}: {STATE_FILE} holds a {type(state).__name__}, not a mapping")
    return state


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
