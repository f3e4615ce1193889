"""PNG figures of what attention does: Grad-CAM and CBAM spatial gates over each image, and per model the
gate distributions per stage, EPSANet's kernel-size weights and NAM's normalized scales (Agg, no display)."""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure  # a bare Figure renders with Agg; pyplot would pick a GUI backend
from matplotlib.ticker import MaxNLocator

from paddle_attn.data.transforms import PRESETS

CAM_COLORMAP, GATE_COLORMAP = "jet", "viridis"
STAGE_TITLES = {"layer1": "stage 1", "layer2": "stage 2", "layer3": "stage 3", "layer4": "stage 4", "": "other"}
PANEL_INCHES = 2.6


def to_display(images, preset, mean=None, std=None):
    """Preprocessed (N, 3, H, W) images back to (N, H, W, 3) RGB in [0, 1], undoing the preset's normalization."""
    mean = np.asarray(mean or PRESETS[preset][0], dtype=np.float32)[:, None, None]
    std = np.asarray(std or PRESETS[preset][1], dtype=np.float32)[:, None, None]
    return np.clip(np.asarray(images) * std + mean, 0, 1).transpose(0, 2, 3, 1)


def _image_axes(figure, count, columns, index):
    axes = figure.add_subplot((count + columns - 1) // columns, columns, index)
    axes.set_xticks([])
    axes.set_yticks([])
    return axes


def _overlay(axes, image, heat, cmap, vmin=0.0, vmax=1.0, alpha=0.55):
    """`heat` (any size) stretched bilinearly over `image` in colour (in grey, shapes of the quick start's
    data vanish: their luma matches the background's); returns the heat map's artist (for a colour bar)."""
    height, width = image.shape[:2]
    axes.imshow(image, interpolation="nearest", extent=(0, width, height, 0))
    return axes.imshow(
        heat, cmap=cmap, vmin=vmin, vmax=vmax, alpha=alpha, interpolation="bilinear", extent=(0, width, height, 0)
    )


def plot_image_maps(image, panels, title, path=None):
    """One image and its maps side by side: `panels` is a list of (title, map, kind), kind "cam" (Grad-CAM
    in [0, 1], jet) or "gate" (over the gate's own value range, viridis, with a colour bar). Saved to `path` if given."""
    count = 1 + len(panels)
    figure = Figure(figsize=(PANEL_INCHES * count, PANEL_INCHES + 0.5), layout="constrained")
    axes = _image_axes(figure, count, count, 1)
    axes.imshow(image, interpolation="nearest")
    axes.set_title("input", fontsize=9)
    for index, (panel_title, heat, kind) in enumerate(panels, start=2):
        axes = _image_axes(figure, count, count, index)
        if kind == "cam":
            _overlay(axes, image, heat, CAM_COLORMAP)
        elif np.ptp(heat) < 1e-6:  # one value (a 1x1 map): a colour bar would only repeat it
            _overlay(axes, image, heat, GATE_COLORMAP, 0.0, 1.0)
        else:  # gates often span a narrow range: show it, with the values on a colour bar
            artist = _overlay(axes, image, heat, GATE_COLORMAP, float(heat.min()), float(heat.max()))
            bar = figure.colorbar(artist, ax=axes, shrink=0.8, format="%.3g")
            bar.locator = MaxNLocator(4)
            bar.ax.tick_params(labelsize=7)
        axes.set_title(panel_title, fontsize=9)
    figure.suptitle(title, fontsize=10)
    if path:
        figure.savefig(path, dpi=90)
    return figure


def plot_cam_grid(images, cams, titles, columns=4):
    """Grad-CAM overlays of several images in a grid, titled each (VisualDL's image of a test batch)."""
    count = len(images)
    columns = min(columns, count)
    rows = (count + columns - 1) // columns
    figure = Figure(figsize=(2.2 * columns, 2.4 * rows), layout="constrained")
    for index, (image, cam, title) in enumerate(zip(images, cams, titles), start=1):
        axes = _image_axes(figure, count, columns, index)
        _overlay(axes, image, cam, CAM_COLORMAP)
        axes.set_title(title, fontsize=8)
    return figure


def figure_array(figure, dpi=80):
    """The figure rendered to an (H, W, 3) uint8 array."""
    figure.set_dpi(dpi)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def _stages(by_stage):
    return [stage for stage in STAGE_TITLES if stage in by_stage]


def _violins(axes, by_stage, stages):
    parts = axes.violinplot([by_stage[stage] for stage in stages], showmedians=True, widths=0.8)
    for body in parts["bodies"]:
        body.set_alpha(0.45)
    axes.set_xticks(range(1, len(stages) + 1), [STAGE_TITLES[stage] for stage in stages])
    axes.margins(y=0.15)  # room for the labels above the violins
    low, high = axes.get_ylim()
    floor = min(values.min() for values in by_stage.values())
    axes.set_ylim(max(low, floor - 0.02 * (high - low)) if floor >= 0 else low, high)  # gates and scales are >= 0
    axes.grid(axis="y", alpha=0.3)


def _label_stages(axes, labels):
    for position, label in enumerate(labels, start=1):
        axes.annotate(
            label,
            (position, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, -12),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )


def _reference_line(axes, value, horizontal=True, **style):
    """A line at `value` if it falls inside the axes' current range (which it leaves as it is)."""
    low, high = axes.get_ylim() if horizontal else axes.get_xlim()
    if low <= value <= high:
        (axes.axhline if horizontal else axes.axvline)(value, linewidth=1, **style)


def plot_gate_distributions(values_by_kind, title, path):
    """Per gate kind one panel: the distribution of its values over the images, one violin per stage, the
    axis fitted to the values (attention gates often stay near 0.5).

    `values_by_kind`: {kind: {stage: 1-D values}}, e.g. {"channel": {"layer1": ..., ...}}."""
    kinds = list(values_by_kind)
    figure = Figure(figsize=(max(7.0, 5.5 * len(kinds)), 4.2), layout="constrained")
    for index, kind in enumerate(kinds, start=1):
        by_stage = values_by_kind[kind]
        stages = _stages(by_stage)
        axes = figure.add_subplot(1, len(kinds), index)
        _violins(axes, by_stage, stages)
        _label_stages(axes, [f"mean {by_stage[stage].mean():.3f}" for stage in stages])
        axes.set_ylabel(f"{kind} gate value")
    figure.suptitle(title, fontsize=10)
    figure.savefig(path, dpi=100)
    return figure  # to show it too: a notebook displays a Figure


def plot_scale_weights(weights_by_stage, title, path):
    """EPSANet: the mean softmax weight of each kernel size per stage (grouped bars; equal use: 1/scales).

    `weights_by_stage`: {stage: (kernel sizes, weights per kernel size)}."""
    stages = _stages(weights_by_stage)
    kernels = sorted(weights_by_stage[stages[0]][0])
    figure = Figure(figsize=(7, 4.2), layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / len(kernels)
    for k_index, kernel in enumerate(kernels):
        heights = [weights_by_stage[stage][1][list(weights_by_stage[stage][0]).index(kernel)] for stage in stages]
        positions = np.arange(len(stages)) + (k_index - (len(kernels) - 1) / 2) * width
        bars = axes.bar(positions, heights, width, label=f"{kernel}x{kernel}", color=f"C{k_index}")
        axes.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    axes.axhline(1 / len(kernels), color="grey", linestyle="--", linewidth=1, label="equal weights")
    axes.set_xticks(range(len(stages)), [STAGE_TITLES[stage] for stage in stages])
    axes.set_ylabel("mean PSA softmax weight")
    axes.legend(
        title="kernel",
        fontsize=8,
        title_fontsize=8,
        ncols=len(kernels) + 1,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
    )
    axes.grid(axis="y", alpha=0.3)
    axes.set_ylim(0, max(max(weights) for _, weights in weights_by_stage.values()) * 1.2)
    figure.suptitle(title, fontsize=10)
    figure.savefig(path, dpi=100)
    return figure  # to show it too: a notebook displays a Figure


def plot_nam_scales(relative_by_stage, threshold, title, path):
    """NAM: each stage's normalized BatchNorm scales |gamma| / sum|gamma| times the block's channel count
    (1 = an equal share): violins with the share under `threshold` (left) and their cumulative share (right)."""
    stages = _stages(relative_by_stage)
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    violins, cumulative = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    _violins(violins, relative_by_stage, stages)
    _label_stages(
        violins, [f"{np.mean(relative_by_stage[stage] < threshold):.0%} under {threshold:g}" for stage in stages]
    )
    _reference_line(violins, threshold, color="C3", linestyle="--")
    _reference_line(violins, 1.0, color="grey", linestyle=":")
    violins.set_ylabel("normalized scale x channels (1 = equal share)")
    for color, stage in enumerate(stages):
        values = np.sort(relative_by_stage[stage])
        cumulative.plot(
            values, np.arange(1, values.size + 1) / values.size, color=f"C{color}", label=STAGE_TITLES[stage]
        )
    _reference_line(
        cumulative, threshold, horizontal=False, color="C3", linestyle="--", label=f"threshold {threshold:g}"
    )
    cumulative.set_xlabel("normalized scale x channels")
    cumulative.set_ylabel("share of channels at or below")
    cumulative.legend(fontsize=8)
    cumulative.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.savefig(path, dpi=100)
    return figure  # to show it too: a notebook displays a Figure
