"""Networks side by side: parameters, FLOPs and CPU forward speed, plus top-1 of finished runs.

Written as a Markdown table, a CSV file and a PNG scatter plot (`run_figures.plot_comparison`).
"""

import csv
import os

from paddle_attn.analysis.model_cost import count_flops, count_params, measure_speed
from paddle_attn.checkpoint import read_state
from paddle_attn.errors import CheckpointError, ModelError
from paddle_attn.models import build_model_from_spec, list_models

CSV_COLUMNS = (
    "model",
    "network",
    "num_classes",
    "stem",
    "params",
    "total_params",
    "flops",
    "ms_per_batch",
    "images_per_s",
    "top1",
)


def registry_entries(patterns, num_classes, stem):
    """One entry per registered model matching any shell-style pattern, in registry order, no repeats."""
    names = []
    for pattern in patterns:
        matched = list_models(pattern)
        if not matched:
            raise ModelError(f"no registered model matches {pattern!r}; `paddle_attn.list_models()` lists them")
        names += [name for name in matched if name not in names]
    spec = {"num_classes": num_classes, "stem": stem, "kwargs": {}}
    return [{"label": name, "model": {"name": name, **spec}, "top1": None} for name in names]


def run_entry(run_dir):
    """The entry of a training run: its checkpoint's network and eval top-1 (None if not recorded)."""
    state = read_state(run_dir)  # the run's best checkpoint, else its latest
    if not state.get("model"):
        raise CheckpointError(f"the checkpoint of run {run_dir!r} does not name its model")
    label = os.path.basename(os.path.normpath(run_dir))
    return {"label": label, "model": state["model"], "top1": (state.get("metrics") or {}).get("eval_top1")}


def compare(entries, batch_size, image_size, warmup, iterations, progress=None):
    """One row per entry (see CSV_COLUMNS); `progress(line)` is called after each network."""
    rows = []
    for index, entry in enumerate(entries, start=1):
        spec = entry["model"]
        net = build_model_from_spec(spec)
        total, trainable = count_params(net)
        flops, _ = count_flops(net, [1, 3, image_size, image_size])
        ms_per_batch, images_per_s = measure_speed(net, batch_size, image_size, warmup, iterations)
        rows.append(
            {
                "model": entry["label"],
                "network": spec["name"],
                "num_classes": spec["num_classes"],
                "stem": spec["stem"],
                "params": trainable,
                "total_params": total,
                "flops": flops,
                "ms_per_batch": ms_per_batch,
                "images_per_s": images_per_s,
                "top1": entry["top1"],
            }
        )
        if progress:
            progress(
                f"[{index}/{len(entries)}] {entry['label']}: {trainable / 1e6:.2f} M params, "
                f"{flops / 1e9:.3f} GFLOPs, {ms_per_batch:.1f} ms/batch, {images_per_s:.1f} images/s"
            )
    return rows


def markdown_table(rows, caption):
    """The rows as a Markdown table under a one-paragraph `caption`."""
    with_top1 = any(row["top1"] is not None for row in rows)
    header = ["model", "classes, stem", "params (M)", "GFLOPs", "ms/batch", "images/s"] + (
        ["top-1"] if with_top1 else []
    )
    lines = [caption, "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [
            f"`{row['model']}`",
            f"{row['num_classes']}, {row['stem']}",
            f"{row['params'] / 1e6:.2f}",
            f"{row['flops'] / 1e9:.3f}",
            f"{row['ms_per_batch']:.1f}",
            f"{row['images_per_s']:.1f}",
        ]
        if with_top1:
            cells.append("" if row["top1"] is None else f"{row['top1']:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
