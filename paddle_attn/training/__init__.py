"""Training and evaluation through paddle.Model: the run's recipe, its callbacks, resuming, its folder.

`train(config)` runs a whole recipe. A hand-written `paddle.Model(net).prepare(...)` / `.fit(...)` can use the
same callbacks: `step_lr()` (a step-wise schedule of `optim.build_schedule`, warm-up included), `EvalLossMean`
(the eval loss over the whole test set), `VisualDLLogger` (loss, top-1, top-5, LR), `CheckpointSaver`, e.g.
`model.fit(..., callbacks=[step_lr(), EvalLossMean(), VisualDLLogger(log_dir, scheduler),
CheckpointSaver(run_dir, optimizer, save_freq=1, total_epochs=epochs)])`.
"""

from paddle_attn.training.checkpointing import CheckpointSaver
from paddle_attn.training.evaluation import EvalLossMean
from paddle_attn.training.fit_callbacks import step_lr
from paddle_attn.training.trainer import evaluate, train
from paddle_attn.training.visualdl_logging import VisualDLLogger

__all__ = ["CheckpointSaver", "EvalLossMean", "VisualDLLogger", "evaluate", "step_lr", "train"]
