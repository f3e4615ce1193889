"""Scalars from a run's VisualDL logs, `<run_dir>/vdl/vdlrecords.*.log`.

Training logs per step `train/loss`, `train/top1`, `train/top5`, `train/lr` and per epoch
`eval/loss`, `eval/top1`, `eval/top5`. A resumed run writes a new log file; they are merged
oldest first, a later file's value replacing an earlier one at the same step.
"""

import os

from paddle_attn.errors import DataError

TRAIN_TAGS = ("train/top1", "train/top5", "train/loss", "train/lr")
EVAL_TAGS = ("eval/top1", "eval/top5", "eval/loss")
LOG_PREFIX = "vdlrecords."


def log_files(run_dir):
    """The VisualDL log files of a run (in `run_dir/vdl/` or `run_dir` itself), oldest first."""
    if not os.path.exists(run_dir):
        raise DataError(f"run directory {run_dir!r} does not exist")
    for directory in (os.path.join(run_dir, "vdl"), run_dir):
        if os.path.isdir(directory):
            files = [name for name in os.listdir(directory) if name.startswith(LOG_PREFIX) and name.endswith(".log")]
            if files:
                return [os.path.join(directory, name) for name in sorted(files, key=_log_time)]
    raise DataError(f"no VisualDL log ({LOG_PREFIX}*.log) in {run_dir!r} or its vdl/ folder")


def read_scalars(run_dir, tags=TRAIN_TAGS + EVAL_TAGS):
    """{tag: (steps, values)} of every tag in `tags` the run logged, steps ascending."""
    from visualdl import LogReader  # imported here: only reading logs needs it

    merged = {tag: {} for tag in tags}
    for path in log_files(run_dir):
        reader = LogReader(file_path=path)
        for tag in tags:
            merged[tag].update((record.id, record.value) for record in reader.get_data("scalar", tag))
    return {
        tag: (sorted(points), [points[step] for step in sorted(points)]) for tag, points in merged.items() if points
    }


def _log_time(name):
    stamp = name[len(LOG_PREFIX) : -len(".log")]  # vdlrecords.<unix time>.log
    return (int(stamp), name) if stamp.isdigit() else (0, name)
