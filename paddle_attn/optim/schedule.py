"""Learning rate by step, composed from Paddle's own schedulers: a linear warm-up from 0 around cosine,
constant, step or multi-step decay, with epoch boundaries converted to steps."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from paddle.optimizer import Optimizer
from paddle.optimizer.lr import (
    CosineAnnealingDecay,
    LambdaDecay,
    LinearWarmup,
    LRScheduler,
    MultiStepDecay,
    StepDecay,
)

SCHEDULES = ("cosine", "constant", "step", "multistep")


def build_schedule(
    base_lr: float,
    total_steps: int,
    steps_per_epoch: int = 1,
    warmup_steps: int = 0,
    schedule: str = "cosine",
    min_lr: float = 0.0,
    step_size: int = 30,
    gamma: float = 0.1,
    milestones: Sequence[int] = (),
) -> LRScheduler:
    """A Paddle LRScheduler stepped once per batch; its state travels with the optimizer's state dict.

    Warm-up (`warmup_steps` > 0; NAM recipe: 2000): `LinearWarmup` from 0 to `base_lr`, which then hands
    the decay `step - warmup_steps`. So the decay starts at the warm-up's end: "cosine"
    (`CosineAnnealingDecay`) reaches `min_lr` at `total_steps`; "step" (`StepDecay`) multiplies by
    `gamma` every `step_size` epochs; "multistep" (`MultiStepDecay`) by `gamma` at each epoch of
    `milestones`; "constant" keeps `base_lr`. Without warm-up (the papers' ImageNet and CIFAR recipes)
    epochs count from the run's start, as in the authors' code.
    """
    decay: LRScheduler
    if schedule == "cosine":
        decay = CosineAnnealingDecay(base_lr, max(1, total_steps - warmup_steps), min_lr)
    elif schedule == "step":
        decay = StepDecay(base_lr, step_size * steps_per_epoch, gamma)
    elif schedule == "multistep":
        decay = MultiStepDecay(base_lr, [epoch * steps_per_epoch for epoch in milestones], gamma)
    elif schedule == "constant":
        decay = LambdaDecay(base_lr, lambda step: 1.0)
    else:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    return LinearWarmup(decay, warmup_steps, 0.0, base_lr) if warmup_steps > 0 else decay


def schedule_from_config(lr: dict, epochs: int, steps_per_epoch: int) -> LRScheduler:
    """`build_schedule` for a config's `lr` section, a run of `epochs` epochs of `steps_per_epoch` batches."""
    return build_schedule(
        lr["base"],
        epochs * steps_per_epoch,
        steps_per_epoch,
        lr["warmup_steps"],
        lr["schedule"],
        lr["min_lr"],
        lr["step_size"],
        lr["gamma"],
        lr["milestones"] or (),
    )


def load_optimizer_state(optimizer: Optimizer, optimizer_state: dict) -> None:
    """`optimizer.set_state_dict(optimizer_state)` for an optimizer whose LR is a `build_schedule` scheduler.

    Checkpoints written before the schedules were Paddle's hold only the step count; `LinearWarmup` also
    wants its decay's state, which it recomputes from the step count at every step, so the decay's fresh
    state completes it exactly. Paddle warns of "unused values" whenever it loads a `LinearWarmup`'s own
    state (it counts the decay's state as one too many): that warning is silenced here, only here.
    """
    scheduler, lr_state = optimizer._learning_rate, optimizer_state.get("LR_Scheduler")
    if (
        isinstance(scheduler, LinearWarmup)
        and isinstance(scheduler.learning_rate, LRScheduler)
        and isinstance(lr_state, dict)
        and "LinearWarmup_LR" not in lr_state
    ):
        lr_state = {**lr_state, "LinearWarmup_LR": scheduler.learning_rate.state_dict()}
        optimizer_state = {**optimizer_state, "LR_Scheduler": lr_state}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There are some unused values in state_dict")
        optimizer.set_state_dict(optimizer_state)
