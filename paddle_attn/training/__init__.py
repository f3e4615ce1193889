"""Training and evaluation through paddle.Model: schedule, callbacks, NAM sparsity, runs."""

from paddle_attn.training.schedule import WarmupCosine
from paddle_attn.training.sparsity import add_nam_sparsity, nam_scales
from paddle_attn.training.trainer import evaluate, train

__all__ = ["WarmupCosine", "add_nam_sparsity", "evaluate", "nam_scales", "train"]
