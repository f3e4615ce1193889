"""What a resumed run may change: whatever does not alter the steps it continues. Anything else is refused.

The batch size, the data, the model, the optimizer, the LR schedule and the number of ranks decide
which batches come next and with which LR; a checkpoint saves them (`state["config"]`, `state["ranks"]`,
`state["train_samples"]`), and resuming with another value stops, naming the key. More (or fewer)
epochs are allowed: the schedule is stretched to the new length, and the run says so.
"""

from paddle_attn.errors import CheckpointError

# config keys that must be equal for a run to continue exactly (None: every key of the section)
MUST_MATCH = {
    "model": None,
    "data": ("dataset", "data_file", "root", "train_list", "transform", "image_size", "mean", "std",
             "synthetic_train_per_class", "synthetic_test_per_class"),
    "optimizer": None,
    "lr": None,
    "loss": None,
    "train": ("batch_size", "seed", "nam_sparsity", "amp"),  # resume_strict=false lets any of these change
}


def resume_description(config, ranks, train_samples):
    """What `check_resumable` compares, as saved in every checkpoint's state.json."""
    return {"config": config, "ranks": ranks, "train_samples": train_samples}


def check_resumable(state, config, ranks, train_samples, source):
    """Raise CheckpointError if the run the checkpoint `state` came from cannot continue exactly with `config`
    (unless `train.resume_strict` is false: then the changes are only listed); return a note to print when
    it continues with another length or changed settings (None otherwise)."""
    saved = state.get("config")
    if not isinstance(saved, dict):  # a checkpoint written before the config was saved in it
        return f"note: {source} does not record its run's config; only its tensors were checked"
    changed = []
    for section, keys in MUST_MATCH.items():
        mine, theirs = config.get(section, {}), saved.get(section) or {}
        for key in keys or sorted(set(mine) | set(theirs)):
            if mine.get(key) == theirs.get(key):
                continue
            if not config["train"]["resume_strict"]:
                changed.append(f"{section}.{key} {theirs.get(key)!r} -> {mine.get(key)!r}")
                continue
            raise CheckpointError(
                f"cannot resume from {source}: {section}.{key} is {mine.get(key)!r} here but was "
                f"{theirs.get(key)!r} in that run, so the run would not continue as it started. Resume with "
                f"-o {section}.{key}={_yaml(theirs.get(key))}, start a new run in another train.output_dir, or "
                f"continue anyway with -o train.resume_strict=false")
    for what, now, then in (("ranks (processes)", ranks, state.get("ranks")),
                            ("training images", train_samples, state.get("train_samples"))):
        if then is not None and now != then:
            raise CheckpointError(f"cannot resume from {source}: the run had {then} {what}, this one has {now}; "
                                  f"the batches it continues with would differ")
    notes = [f"continuing with changed settings (train.resume_strict is false): {', '.join(changed)}"] if changed else []
    before, now = saved["train"]["epochs"], config["train"]["epochs"]
    if before != now:
        notes.append(f"train.epochs is {now}, the run was started for {before}: the LR schedule is "
                     f"{'stretched' if now > before else 'shortened'} to end at epoch {now}")
    return "; ".join(notes) or None


def _yaml(value):
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
