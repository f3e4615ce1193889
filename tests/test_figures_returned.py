"""The figure writers return the Figure they saved, so that a notebook shows it without reading the PNG back."""

import numpy as np
from matplotlib.figure import Figure

from paddle_attn.analysis.attention_figures import plot_gate_distributions, plot_nam_scales, plot_scale_weights
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import EVAL_TAGS, TRAIN_TAGS


def _saved_and_returned(figure, path):
    assert isinstance(figure, Figure)
    assert path.stat().st_size > 0
    return len(figure.axes)


def test_curves(tmp_path):
    scalars = {tag: ([1, 2, 3], [0.5, 0.4, 0.3]) for tag in TRAIN_TAGS + EVAL_TAGS}
    path = tmp_path / "curves.png"
    assert _saved_and_returned(plot_curves({"run": scalars}, path), path) == 2 * len(TRAIN_TAGS)


def test_attention_figures(tmp_path):
    values = {"layer1": np.linspace(0.2, 0.8, 50), "layer2": np.linspace(0.4, 0.6, 50)}
    path = tmp_path / "gates.png"
    assert _saved_and_returned(plot_gate_distributions({"channel": values}, "gates", path), path) >= 1
    weights = {"layer1": ([3, 5, 7, 9], np.array([0.1, 0.2, 0.3, 0.4]))}
    path = tmp_path / "psa.png"
    assert _saved_and_returned(plot_scale_weights(weights, "psa", path), path) >= 1
    path = tmp_path / "nam.png"
    assert _saved_and_returned(plot_nam_scales(values, 0.1, "nam", path), path) == 2
