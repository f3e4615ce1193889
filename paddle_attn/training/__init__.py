"""Training and evaluation through paddle.Model: the run's recipe, its callbacks, resuming, its folder.

`train(config)` runs a whole recipe. A hand-written `paddle.Model(net).prepare(...)` / `.fit(...)` can use the
same callbacks: `EvalLossMean` (the eval loss over the whole test set), `VisualDLLogger` (loss, top-1, top-5, LR),
`attention_logger` (gate histograms and Grad-CAM images into the same log), `CheckpointSaver`, beside Paddle's `LRScheduler(by_step=True, by_epoch=False)` stepping a schedule of
`optim.build_schedule` (its warm-up and decay count batches) after every batch, e.g.
`model.fit(..., callbacks=[paddle.callbacks.LRScheduler(by_step=True, by_epoch=False), EvalLossMean(),
VisualDLLogger(log_dir, scheduler), CheckpointSaver(run_dir, optimizer, save_freq=1, total_epochs=epochs)])`.
"""

from paddle_attn.training.checkpointing import CheckpointSaver
from paddle_attn.training.evaluation import EvalLossMean
from paddle_attn.training.trainer import evaluate, train
from paddle_attn.training.visualdl_logging import VisualDLLogger, attention_logger

__all__ = ["CheckpointSaver", "EvalLossMean", "VisualDLLogger", "attention_logger", "evaluate", "train"]
