"""Training and evaluation through paddle.Model: the run's recipe, its callbacks, resuming, its folder.

`train(config)` runs a whole recipe. A hand-written `paddle.Model(net).prepare(...)` / `.fit(...)` can use the
same pieces: `run_loaders` (the loaders of a config, and the `EpochSeed` callback that reshuffles them and draws
new augmentations every epoch), `EvalLossMean` (the eval loss over the whole test set), `VisualDLLogger` (loss,
top-1, top-5, LR), `attention_logger` (gate histograms and Grad-CAM images into the same log), `CheckpointSaver`
(with `describe_run`, so that `analysis.report.open_network` and the tools can rebuild the network), beside Paddle's
`LRScheduler(by_step=True, by_epoch=False)` stepping a schedule of `optim.build_schedule` (its warm-up and decay
count batches) after every batch, e.g.
`model.fit(train_loader, test_loader, callbacks=[seeding, paddle.callbacks.LRScheduler(by_step=True, by_epoch=False),
EvalLossMean(), VisualDLLogger(log_dir, scheduler), CheckpointSaver(run_dir, optimizer, save_freq=1,
total_epochs=epochs, run_description=describe_run(config, train_set))])`, inside `quiet_paddle()` (no warnings
Paddle gives at every run).
"""

from paddle_attn.training.checkpointing import CheckpointSaver
from paddle_attn.training.evaluation import EvalLossMean
from paddle_attn.training.resume import describe_run
from paddle_attn.training.sampler import run_loaders
from paddle_attn.training.trainer import evaluate, quiet_paddle, train
from paddle_attn.training.visualdl_logging import VisualDLLogger, attention_logger

__all__ = [
    "CheckpointSaver",
    "EvalLossMean",
    "VisualDLLogger",
    "attention_logger",
    "describe_run",
    "evaluate",
    "quiet_paddle",
    "run_loaders",
    "train",
]
