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

from paddle_attn.errors import CheckpointError, ModelError
from paddle_attn.weights_file import as_tensors, read_weights_file

MODEL_FILE, OPTIMIZER_FILE, STATE_FILE = "model.pdparams", "model.pdopt", "state.json"
SHOWN_PER_KIND = 10


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
        resume = (f"resume from {last} (-o run.resume=auto) once" if last
                  else "no complete checkpoint to resume from; start again")
        raise CheckpointError(f"cannot save checkpoint {name} in {directory!r}: {err.strerror or err}; the partial "
                              f"checkpoint was removed, {resume} the disk has room") from err


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
    for candidate in (path, os.path.join(path, "best"), os.path.join(path, "latest"),
                      os.path.join(path, "checkpoints", "best"), os.path.join(path, "checkpoints", "latest")):
        if os.path.isfile(os.path.join(candidate, STATE_FILE)):
            return os.path.realpath(candidate)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    raise CheckpointError(f"{path!r} is not a checkpoint: no {STATE_FILE} in it, nor a best/ or latest/ checkpoint below it")


def find_latest(run_dir):
    """The newest complete checkpoint of a run: `latest` if it resolves, else the highest complete
    `epoch_NNNN` (a run killed mid-save leaves only complete ones under that name); None if there is none."""
    directory = os.path.join(run_dir, "checkpoints")
    latest = os.path.join(directory, "latest")
    if os.path.isfile(os.path.join(latest, STATE_FILE)):
        return os.path.realpath(latest)
    complete = sorted(
        entry for entry in (os.listdir(directory) if os.path.isdir(directory) else [])
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


def load_params(path, file=MODEL_FILE, trusted=False):
    """A state dict saved in the checkpoint at `path` (model weights by default), read without running code
    from it unless `trusted` (see `safe_pickle.load`)."""
    return as_tensors(read_weights_file(os.path.join(resolve(path), file), trusted))


def check_tensors(net, params, title, origins=None, source="checkpoint", error=CheckpointError):
    """Raise `error` headed by `title`, naming every missing, unexpected or misshapen tensor of `params` for `net`.

    `origins[key]`, if given, is the name a tensor had where it came from (a PyTorch name), shown beside
    the Paddle name; `source` names the side the shapes came from ("checkpoint", "converted").
    """
    origins = origins or {}
    expected = {key: list(value.shape) for key, value in net.state_dict().items()}

    def named(key):
        origin = origins.get(key, key)
        return key if origin == key else f"{key} (PyTorch {origin})"

    def shape(value):
        return list(getattr(value, "shape", None) or [])

    missing = sorted(set(expected) - set(params))
    unexpected = [named(key) for key in sorted(set(params) - set(expected))]
    misshapen = [f"{named(key)}: {source} {shape(params[key])} vs model {expected[key]}"
                 for key in expected if key in params and shape(params[key]) != expected[key]]
    if missing or unexpected or misshapen:
        lines = [f"{title}:"]
        for kind, items in (("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen)):
            if items:
                more = " ..." if len(items) > SHOWN_PER_KIND else ""
                lines.append(f"  {kind} ({len(items)}): " + ", ".join(items[:SHOWN_PER_KIND]) + more)
        raise error("\n".join(lines))


def load_model(path, trusted=False):
    """Rebuild the network a checkpoint was saved from and load its weights, in eval mode.

    Returns `(net, state)`, `state` being the checkpoint's `state.json`; `trusted`: see `load_params`.
    """
    from paddle_attn.models import create_model_from_spec

    state = read_state(path)
    spec = state.get("model")
    if not isinstance(spec, dict) or not {"name", "num_classes", "stem"} <= set(spec):
        raise CheckpointError(f"checkpoint {resolve(path)!r}: {STATE_FILE} lacks the model's name, num_classes or stem")
    try:
        net = create_model_from_spec(spec)
    except ModelError as err:  # a hand-edited spec
        raise CheckpointError(f"checkpoint {resolve(path)!r}: {STATE_FILE} names a model that cannot be built: {err}") from err
    params = load_params(path, trusted=trusted)
    check_tensors(net, params, f"checkpoint {resolve(path)!r} does not fit the model")
    net.set_state_dict(params)
    net.eval()
    return net, state


def portable_optimizer_state(optimizer_state, net):
    """The optimizer's state with each parameter's generated name (`conv2d_40.w_0_velocity_0`) replaced by
    its structured name (`layer1.0.conv1.weight/velocity_0`): generated names depend on how many layers the
    process built before, structured names do not."""
    return _rename_accumulators(optimizer_state, {p.name: k for k, p in net.named_parameters()}, "_", "/")


def restore_optimizer_state(portable_state, net):
    """Inverse of `portable_optimizer_state` for the parameters of `net` as built in this process."""
    return _rename_accumulators(portable_state, {k: p.name for k, p in net.named_parameters()}, "/", "_")


def _rename_accumulators(state, names, old_sep, new_sep):
    renamed = {}
    by_length = sorted(names, key=len, reverse=True)  # conv2d_40.w_0 before conv2d_4.w_0
    for key, value in state.items():
        owner = next((n for n in by_length if key.startswith(n + old_sep)), None)
        renamed[names[owner] + new_sep + key[len(owner) + 1:] if owner else key] = value
    return renamed


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
