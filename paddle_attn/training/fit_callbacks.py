"""The callbacks of a training run's `fit`, built from one `FitPlan` and run in named phases (`Phase`)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

import paddle

from paddle_attn import checkpoint as ckpt
from paddle_attn.training.checkpointing import CheckpointSaver
from paddle_attn.training.distributed import AverageBatchNormStats
from paddle_attn.training.evaluation import EvalLossMean, EvaluatingModel
from paddle_attn.training.resume import RunStart
from paddle_attn.training.seeding import EpochSeed
from paddle_attn.training.stopping import StopOnNonFinite, StopOnSignal
from paddle_attn.training.visualdl_logging import visualdl_loggers


class Phase(enum.IntEnum):
    """The order the run's callbacks see each event in: a phase's callbacks run before the next phase's."""

    SCHEDULE = enum.auto()  # Paddle's LRScheduler steps the LR after each batch, before the next one reads it
    DATA_ORDER = enum.auto()  # the epoch's shuffle and augmentation keys, set before its first batch
    EVALUATION = enum.auto()  # the evaluation path's runner, set up before the first eval batch
    GUARD = enum.auto()  # a NaN loss stops the run before anything after it saves or logs that step
    SYNC = enum.auto()  # the ranks' BatchNorm statistics averaged before the epoch is evaluated and saved
    EVAL_SUMMARY = enum.auto()  # the eval loss mean, computed before it is saved and logged
    SAVE = enum.auto()  # checkpoints
    LOG = enum.auto()  # VisualDL
    INTERRUPT = enum.auto()  # a signal saves once the step is counted (SAVE) and logged (LOG)
    CALLER = enum.auto()  # the caller's own callbacks, last


@dataclass(frozen=True)
class FitPlan:
    """What a run's `fit` callbacks are built from: the run (`config`: `train` for the checkpoints, `visualdl`,
    `data`, `model` for the logs) into `run_dir`, its prepared `model`, optimizer, schedule and `seeding`
    (`sampler.run_loaders`), what each checkpoint records (`resume.describe_run`), and where it starts."""

    config: dict
    run_dir: str
    model: EvaluatingModel
    optimizer: paddle.optimizer.Optimizer
    scheduler: paddle.optimizer.lr.LRScheduler
    seeding: EpochSeed
    run_description: dict
    test_set: paddle.io.Dataset
    start: RunStart = field(default_factory=RunStart)


def in_phases(by_phase: dict[Phase, Sequence[paddle.callbacks.Callback]]) -> list[paddle.callbacks.Callback]:
    """The callbacks of `by_phase`, phase by phase in `Phase`'s order, each phase's in its given order."""
    return [callback for phase in sorted(by_phase) for callback in by_phase[phase]]


def fit_callbacks(plan: FitPlan, extra: Sequence[paddle.callbacks.Callback] = ()):
    """(callbacks, saver, stop_on_signal) of the run `plan`, `extra` (the caller's own) last:
    `saver.best_top1` is the run's best at the end, `stop_on_signal.restore()` puts the signal handlers back."""
    start, train = plan.start, plan.config["train"]
    plan.seeding.epoch_offset = start.epoch
    saver = CheckpointSaver(
        plan.run_dir,
        plan.optimizer,
        train["save_freq"],
        train["epochs"],
        plan.run_description,
        start.epoch,
        start.best_top1,
        start.step,
    )
    stop_on_signal = StopOnSignal(saver.save_interrupted)
    callbacks = in_phases(
        {
            Phase.SCHEDULE: [paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)],
            Phase.DATA_ORDER: [plan.seeding],
            Phase.EVALUATION: plan.model.eval_callbacks(),
            Phase.GUARD: [StopOnNonFinite(start.step, lambda: ckpt.find_latest(plan.run_dir))],
            Phase.SYNC: [AverageBatchNormStats()],
            Phase.EVAL_SUMMARY: [EvalLossMean()],
            Phase.SAVE: [saver],
            Phase.LOG: visualdl_loggers(
                plan.config, plan.run_dir, plan.scheduler, plan.test_set, start.epoch, start.step
            ),
            Phase.INTERRUPT: [stop_on_signal],
            Phase.CALLER: list(extra),
        }
    )
    return callbacks, saver, stop_on_signal
