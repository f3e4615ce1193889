"""The callbacks of a training run's `fit`, in the order they must run (each one's concern is its own module)."""

import paddle

from paddle_attn import checkpoint as ckpt
from paddle_attn.training.checkpointing import CheckpointSaver
from paddle_attn.training.distributed import AverageBatchNormStats
from paddle_attn.training.evaluation import EvalLossMean, inference_evaluation
from paddle_attn.training.stopping import StopOnNonFinite, StopOnSignal
from paddle_attn.training.visualdl_logging import visualdl_loggers


def fit_callbacks(config, run_dir, device, scheduler, optimizer, seeding, run_description, test_set, start, extra=()):
    """(callbacks, saver, stop_on_signal) for a run into `run_dir` continuing at `start` = (epoch, step, best_top1):
    `saver.best_top1` is the run's best at the end, `stop_on_signal.restore()` puts the signal handlers back.
    `extra`: the caller's own callbacks, last."""
    epoch, step, best_top1 = start
    seeding.epoch_offset = epoch
    saver = CheckpointSaver(
        run_dir,
        optimizer,
        config["train"]["save_freq"],
        config["train"]["epochs"],
        run_description,
        epoch,
        best_top1,
        step,
    )
    stop_on_signal = StopOnSignal(saver.save_interrupted)
    loggers = visualdl_loggers(config, run_dir, scheduler, test_set, epoch, step)
    fast_eval = inference_evaluation(config, device)
    # order matters: the LR steps after each batch; a NaN stops the run before anything saves it; the eval
    # loss mean is computed before it is logged and saved; a signal saves once the step is counted and logged
    callbacks = [
        paddle.callbacks.LRScheduler(by_step=True, by_epoch=False),
        seeding,
        *([fast_eval] if fast_eval else []),
        StopOnNonFinite(step, lambda: ckpt.find_latest(run_dir)),
        AverageBatchNormStats(),
        EvalLossMean(),
        saver,
        *loggers,
        stop_on_signal,
        *extra,
    ]
    return callbacks, saver, stop_on_signal
