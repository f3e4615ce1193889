"""LR schedules from Paddle's classes: values across warm-up, boundaries and resume."""

import warnings

import paddle
import pytest
from paddle.optimizer.lr import CosineAnnealingDecay, LinearWarmup, MultiStepDecay, StepDecay

from paddle_attn.config import ConfigError, load_config
from paddle_attn.optim.schedule import build_schedule, load_optimizer_state, schedule_from_config


def lrs(scheduler, steps):
    """The LR each of the first `steps` batches trains with (the scheduler steps after each batch)."""
    values = []
    for _ in range(steps):
        values.append(scheduler())
        scheduler.step()
    return values


def test_step_decay_every_step_size_epochs_after_the_warmup():
    # 10 batches an epoch, 5 warm-up steps, x0.1 every 3 epochs (30 steps) of the decay
    values = lrs(build_schedule(0.1, 1000, 10, warmup_steps=5, schedule="step", step_size=3, gamma=0.1), 100)
    expected = {0: 0.0, 1: 0.02, 4: 0.08, 5: 0.1, 34: 0.1, 35: 0.01, 64: 0.01, 65: 0.001, 95: 1e-4}
    assert {step: values[step] for step in expected} == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_step_decay_without_warmup_counts_epochs_from_the_start():
    # the ImageNet recipes: x0.1 at the start of epochs 30 and 60 (300 batches an epoch here)
    values = lrs(build_schedule(0.1, 90 * 300, 300, schedule="step", step_size=30, gamma=0.1), 60 * 300 + 1)
    expected = {0: 0.1, 30 * 300 - 1: 0.1, 30 * 300: 0.01, 60 * 300 - 1: 0.01, 60 * 300: 0.001}
    assert {step: values[step] for step in expected} == pytest.approx(expected, rel=1e-12)


def test_multistep_decay_at_the_milestone_epochs():
    # NAM's CIFAR-100 recipe: x0.2 at epochs 60, 120, 160 (4 batches an epoch here)
    values = lrs(build_schedule(0.1, 200 * 4, 4, schedule="multistep", milestones=[60, 120, 160], gamma=0.2), 200 * 4)
    expected = {0: 0.1, 239: 0.1, 240: 0.02, 479: 0.02, 480: 0.004, 639: 0.004, 640: 0.0008, 799: 0.0008}
    assert {step: values[step] for step in expected} == pytest.approx(expected, rel=1e-12)


def test_multistep_with_warmup_shifts_the_milestones_by_the_warmup():
    values = lrs(build_schedule(0.1, 100, 2, warmup_steps=4, schedule="multistep", milestones=[3, 5], gamma=0.5), 20)
    expected = {0: 0.0, 2: 0.05, 4: 0.1, 9: 0.1, 10: 0.05, 13: 0.05, 14: 0.025, 19: 0.025}
    assert {step: values[step] for step in expected} == pytest.approx(expected, rel=1e-12)


def test_schedules_are_paddles_own_classes():
    assert isinstance(build_schedule(0.1, 100, schedule="step"), StepDecay)
    assert isinstance(build_schedule(0.1, 100, schedule="multistep", milestones=[3]), MultiStepDecay)
    assert isinstance(build_schedule(0.1, 100, schedule="cosine"), CosineAnnealingDecay)
    warm = build_schedule(0.1, 100, warmup_steps=3, schedule="cosine")
    assert isinstance(warm, LinearWarmup) and isinstance(warm.learning_rate, CosineAnnealingDecay)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"schedule": "step", "step_size": 2, "warmup_steps": 3},
        {"schedule": "multistep", "milestones": [2, 4]},
        {"schedule": "multistep", "milestones": [2, 4], "warmup_steps": 5},
        {"schedule": "cosine", "warmup_steps": 5},
        {"schedule": "constant", "warmup_steps": 5},
    ],
)
def test_resume_through_the_optimizer_state_continues_the_same_lrs(kwargs):
    def optimizer():
        scheduler = build_schedule(0.1, 60, 5, gamma=0.5, **kwargs)
        return paddle.optimizer.Momentum(scheduler, parameters=paddle.nn.Linear(2, 2).parameters()), scheduler

    whole = lrs(optimizer()[1], 60)
    saved_optimizer, saved = optimizer()
    lrs(saved, 23)
    resumed_optimizer, resumed = optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on a resume
        load_optimizer_state(resumed_optimizer, saved_optimizer.state_dict())
    assert lrs(resumed, 37) == whole[23:]


def test_a_checkpoint_of_the_former_warmup_cosine_resumes_at_its_step():
    scheduler = build_schedule(0.1, 110, warmup_steps=10)
    whole = lrs(build_schedule(0.1, 110, warmup_steps=10), 111)
    former = {"LR_Scheduler": {"last_epoch": 37, "last_lr": whole[37]}}  # what WarmupCosine saved
    optimizer = paddle.optimizer.Momentum(scheduler, parameters=paddle.nn.Linear(2, 2).parameters())
    load_optimizer_state(optimizer, former)
    assert lrs(scheduler, 74) == pytest.approx(whole[37:], rel=1e-12)


def test_config_builds_the_schedule_in_steps():
    config = load_config(None, ["lr.schedule=multistep", "lr.milestones=[2, 3]", "lr.gamma=0.5", "lr.base=0.2"])
    values = lrs(schedule_from_config(config["lr"], epochs=4, steps_per_epoch=3), 12)
    assert values == pytest.approx([0.2] * 6 + [0.1] * 3 + [0.05] * 3, rel=1e-12)


def test_config_warmup_is_counted_in_steps_not_epochs():
    # 4 warm-up steps in epochs of 5 batches: base at step 4, not at step 20 (4 epochs)
    config = load_config(None, ["lr.schedule=constant", "lr.warmup_steps=4", "lr.base=0.2"])
    values = lrs(schedule_from_config(config["lr"], epochs=6, steps_per_epoch=5), 8)
    assert values == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2, 0.2, 0.2, 0.2], rel=1e-12)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["lr.gamma=1.5"], "lr.gamma must be in (0, 1), got 1.5"),
        (["lr.gamma=0"], "lr.gamma must be in (0, 1), got 0.0"),
        (["lr.step_size=0"], "lr.step_size must be >= 1, got 0"),
        (["lr.step_size=2.5"], "lr.step_size must be int, got 2.5"),
        (["lr.milestones=[120, 60]"], "lr.milestones must be increasing epoch numbers >= 1, got [120, 60]"),
        (["lr.milestones=[0, 5]"], "lr.milestones must be increasing epoch numbers >= 1, got [0, 5]"),
        (["lr.milestones=30"], "lr.milestones must be list or null, got 30"),
        (["lr.schedule=multistep"], "lr.schedule 'multistep' needs lr.milestones"),
        (["lr.schedule=steps"], "lr.schedule is 'steps' (did you mean 'step'"),
    ],
)
def test_bad_schedule_settings_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config(None, overrides)
    assert message in str(error.value) and "command line -o" in str(error.value)
