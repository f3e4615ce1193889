"""PNG figures: model comparisons and training curves (matplotlib's Agg renderer, no display needed)."""

import textwrap

from matplotlib.figure import Figure  # a bare Figure renders with Agg; pyplot would pick a GUI backend
from matplotlib.ticker import MaxNLocator

from paddle_attn.analysis.run_logs import EVAL_TAGS, TRAIN_TAGS

TITLES = {"top1": "top-1 accuracy", "top5": "top-5 accuracy", "loss": "loss", "lr": "learning rate"}


def plot_comparison(rows, path, title):
    """Trainable parameters against GFLOPs, one labelled point per row; with a second panel of
    top-1 against GFLOPs when some rows carry an evaluation result (`row["top1"]`)."""
    evaluated = [row for row in rows if row.get("top1") is not None]
    panels = [("params", "trainable parameters (M)", rows, 1e-6)]
    if evaluated:
        panels.append(("top1", "top-1 accuracy (eval)", evaluated, 1.0))
    figure = Figure(figsize=(7 * len(panels), 5.5), layout="constrained")
    for index, (key, label, points, scale) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        xs = [row["flops"] / 1e9 for row in points]
        ys = [row[key] * scale for row in points]
        axes.scatter(xs, ys)
        for x, y, row in zip(xs, ys, points):
            axes.annotate(row["model"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        axes.set_xlabel("GFLOPs per image (multiply-adds)")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    figure.suptitle(textwrap.fill(title, 60 * len(panels)), fontsize=10)
    figure.savefig(path, dpi=110)


def plot_curves(runs, path, smooth=0.6):
    """Training curves of several runs, one colour per run named in the legend.

    `runs`: {run name: {tag: (steps, values)}} (see `run_logs.read_scalars`). Top row: the train
    tags per step, loss and accuracies drawn faint and as an exponential moving average with
    weight `smooth` (0 = none); bottom row: the eval tags per epoch.
    """
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    figure = Figure(figsize=(18, 8), layout="constrained")
    grid = figure.subplots(2, len(TRAIN_TAGS), squeeze=False)
    for row, (tags, x_label) in enumerate(((TRAIN_TAGS, "step"), (EVAL_TAGS, "epoch"))):
        for column, tag in enumerate(tags):
            axes = grid[row][column]
            for color, (name, scalars) in enumerate(runs.items()):
                if tag not in scalars:
                    continue
                steps, values = scalars[tag]
                if row == 0 and smooth > 0 and tag != "train/lr":  # the LR is exact, not noisy
                    axes.plot(steps, values, color=f"C{color}", alpha=0.25, linewidth=0.8)
                    axes.plot(steps, _moving_average(values, smooth), color=f"C{color}", label=name)
                else:
                    axes.plot(steps, values, color=f"C{color}", marker="o" if row else None, markersize=3, label=name)
            kind, _, metric = tag.partition("/")
            axes.set_title(f"{kind} {TITLES[metric]}")
            axes.set_xlabel(x_label)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.grid(alpha=0.3)
            if axes.lines:
                axes.legend(fontsize=8)
            else:
                axes.text(0.5, 0.5, "not logged", ha="center", va="center", transform=axes.transAxes)
    grid[1][-1].axis("off")  # eval has no learning rate
    figure.savefig(path, dpi=100)
    return figure  # to show it too: a notebook displays a Figure


def _moving_average(values, weight):
    smoothed, average = [], values[0]
    for value in values:
        average = weight * average + (1 - weight) * value
        smoothed.append(average)
    return smoothed
