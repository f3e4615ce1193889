"""Resuming a run: what its checkpoints record (`describe_run`), whether it may continue (`check_resumable`),
and restoring it (`restore`: state, tensors, optimizer state, the batches already trained on).

What a resumed run may change: whatever does not alter the steps it continues. Anything else is refused.
The batch size, the data, the model, the optimizer, the LR schedule and the number of ranks decide
which batches come next and with which LR; a checkpoint saves them (`state["config"]`, `state["ranks"]`,
`state["train_samples"]`), and resuming with another value stops, naming the key. More (or fewer)
epochs are allowed: the schedule is stretched to the new length, and the run says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from paddle_attn import checkpoint as ckpt
from paddle_attn.config import defaults, migrate_config
from paddle_attn.data.datasets import class_names
from paddle_attn.data.transforms import split_presets
from paddle_attn.errors import CheckpointError
from paddle_attn.optim import load_optimizer_state
from paddle_attn.training.distributed import world_size


@dataclass(frozen=True)
class RunStart:
    """Where a run's `fit` starts: the epochs and steps already trained, the best eval top-1 so far (-1: none)."""

    epoch: int = 0
    step: int = 0
    best_top1: float = -1.0


# config keys that must be equal for a run to continue exactly (None: every key of the section)
MUST_MATCH = {
    "model": None,
    "data": (
        "dataset",
        "data_file",
        "root",
        "train_list",
        "transform",
        "image_size",
        "mean",
        "std",
        "synthetic_train_per_class",
        "synthetic_test_per_class",
    ),
    "optimizer": None,
    "lr": None,
    "loss": None,
    "train": ("batch_size", "seed"),
    "device": ("amp", "precision"),
}  # run.resume_strict=false lets any of these change


def describe_run(config, train_set):
    """What every checkpoint of the run records: the network and evaluation pipeline to rebuild it, and
    what a resume must match (`resume_description`)."""
    model, data = config["model"], config["data"]
    return {
        "model": {key: model[key] for key in ("name", "num_classes", "stem", "kwargs")},
        "data": {
            "dataset": data["dataset"],
            "transform": split_presets(data)[1],
            "image_size": data["image_size"],
            "mean": data["mean"],
            "std": data["std"],
            "class_names": class_names(data, train_set),
        },
        **resume_description(config, world_size(), len(train_set)),
    }


def resume_description(config, ranks, train_samples):
    """What `check_resumable` compares, as saved in every checkpoint's state.json."""
    return {"config": config, "ranks": ranks, "train_samples": train_samples}


def resume_point(run):
    """The checkpoint to resume from, or None: `run.resume` is a path, or "auto" for the run's newest checkpoint."""
    resume = run["resume"]
    if not resume:
        return None
    if resume == "auto":
        return ckpt.find_latest(run["output_dir"])
    return ckpt.resolve(resume)


def read_run_state(path):
    """A checkpoint's state.json, its saved config in today's sections (`config.migrate_config`: checkpoints
    written before the `train` section was split)."""
    state = ckpt.read_state(path)
    if isinstance(state.get("config"), dict):
        state = {**state, "config": migrate_config(state["config"])}
    return state


def restore(resume_from, config, net, optimizer, train_loader, train_samples):
    """Continue the run of checkpoint `resume_from` in `net`, `optimizer` (with its LR schedule) and `train_loader`
    (skipping the batches a mid-epoch checkpoint trained on), after `check_resumable`; prints where it resumes and
    returns its `RunStart`."""
    trusted = config["run"]["trusted"]
    state = read_run_state(resume_from)
    params = ckpt.load_params(resume_from, trusted=trusted)
    ckpt.check_tensors(net, params, f"checkpoint {resume_from!r} does not fit the model")
    note = check_resumable(state, config, world_size(), train_samples, resume_from)
    net.set_state_dict(params)
    optimizer_state = ckpt.load_params(resume_from, ckpt.OPTIMIZER_FILE, trusted)  # with the LR schedule
    load_optimizer_state(optimizer, ckpt.restore_optimizer_state(optimizer_state, net))
    start = RunStart(state["epoch"], state["step"], state["best_top1"])
    train_loader.batch_sampler.skip_batches(state.get("step_in_epoch", 0))
    print(
        f"resumed from {resume_from}: epoch {start.epoch} + {state.get('step_in_epoch', 0)} steps, "
        f"step {start.step}, best top-1 {start.best_top1:.4f}" + (f"; {note}" if note else "")
    )
    return start


def check_resumable(state, config, ranks, train_samples, source):
    """Raise CheckpointError if the run the checkpoint `state` came from cannot continue exactly with `config`
    (unless `run.resume_strict` is false: then the changes are only listed); return a note to print when
    it continues with another length or changed settings (None otherwise)."""
    saved = state.get("config")
    if not isinstance(saved, dict):  # a checkpoint written before the config was saved in it
        return f"note: {source} does not record its run's config; only its tensors were checked"
    changed, default = [], defaults()
    for section, keys in MUST_MATCH.items():
        # a key added since the run was saved had its default there (loss.bn_sparsity: 0)
        mine, theirs = config.get(section, {}), {**default.get(section, {}), **(saved.get(section) or {})}
        for key in keys or sorted(set(mine) | set(theirs)):
            if mine.get(key) == theirs.get(key):
                continue
            if not config["run"]["resume_strict"]:
                changed.append(f"{section}.{key} {theirs.get(key)!r} -> {mine.get(key)!r}")
                continue
            raise CheckpointError(
                f"cannot resume from {source}: {section}.{key} is {mine.get(key)!r} here but was "
                f"{theirs.get(key)!r} in that run, so the run would not continue as it started. Resume with "
                f"-o {section}.{key}={_yaml(theirs.get(key))}, start a new run in another run.output_dir, or "
                f"continue anyway with -o run.resume_strict=false"
            )
    for what, now, then in (
        ("ranks (processes)", ranks, state.get("ranks")),
        ("training images", train_samples, state.get("train_samples")),
    ):
        if then is not None and now != then:
            raise CheckpointError(
                f"cannot resume from {source}: the run had {then} {what}, this one has {now}; "
                f"the batches it continues with would differ"
            )
    notes = [f"continuing with changed settings (run.resume_strict is false): {', '.join(changed)}"] if changed else []
    before, now = saved["train"]["epochs"], config["train"]["epochs"]
    if before != now:
        notes.append(
            f"train.epochs is {now}, the run was started for {before}: the LR schedule is "
            f"{'stretched' if now > before else 'shortened'} to end at epoch {now}"
        )
    return "; ".join(notes) or None


def _yaml(value):
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
