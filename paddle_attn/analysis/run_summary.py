"""How runs ended, read from their logs (`run_logs.read_scalars`): a Markdown table of each run's last
evaluation and one line per run saying how much of the task its network learned."""

# top-1 as multiples of chance: the tutorials' grades of "learned the classes" / "learned part of the task"
LEARNED, PARTLY_LEARNED = 6.0, 2.0


def last_values(scalars):
    """{tag: the last logged value} of one run's `read_scalars`."""
    return {tag: values[-1] for tag, (_, values) in scalars.items()}


def learning_verdict(top1, num_classes):
    """What an evaluation top-1 says of a network trained on `num_classes` balanced classes."""
    chance = 1.0 / num_classes
    learned = min(LEARNED / num_classes, 0.9)  # with few classes, 6x chance is beyond 1
    if top1 >= learned:
        return f"it tells the {num_classes} classes apart"
    if top1 >= min(PARTLY_LEARNED / num_classes, (chance + learned) / 2):
        return "it has learned part of the task: top-1 well above chance, far from all"
    return "it has not learned much: top-1 close to chance"


def final_scores(runs, num_classes):
    """(Markdown table, verdict lines) of `runs` ({name: read_scalars(run_dir)}): each run's last eval top-1,
    top-5 and loss and its last training loss; then, per run, `learning_verdict` of its last eval top-1."""
    last = {name: last_values(scalars) for name, scalars in runs.items()}
    table = [
        "| network | eval top-1 | eval top-5 | eval loss | train loss (last step) |",
        "| --- | --- | --- | --- | --- |",
    ]
    table += [
        f"| {name} | {v['eval/top1']:.3f} | {v['eval/top5']:.3f} | {v['eval/loss']:.3f} | {v['train/loss']:.3f} |"
        for name, v in last.items()
    ]
    verdicts = [
        f"{name}: eval top-1 {v['eval/top1']:.3f}, top-5 {v['eval/top5']:.3f}: "
        f"{learning_verdict(v['eval/top1'], num_classes)}"
        for name, v in last.items()
    ]
    return "\n".join(table), "\n".join(verdicts)
