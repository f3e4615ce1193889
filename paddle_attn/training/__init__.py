"""Training and evaluation through paddle.Model: the run's recipe, its callbacks, resuming, its folder."""

from paddle_attn.training.trainer import evaluate, train

__all__ = ["evaluate", "train"]
