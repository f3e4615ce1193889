"""Training and evaluation through paddle.Model: schedule, callbacks, NAM sparsity, runs."""

from paddle_attn.training.schedule import build_schedule
from paddle_attn.training.sparsity import add_nam_sparsity, nam_scales
from paddle_attn.training.trainer import evaluate, train

__all__ = ["add_nam_sparsity", "build_schedule", "evaluate", "nam_scales", "train"]
