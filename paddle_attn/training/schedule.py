"""Learning rate by step: linear warm-up from 0, then cosine decay (or constant) to the end of the run."""

import math

from paddle.optimizer.lr import LRScheduler


class WarmupCosine(LRScheduler):
    """lr(step) = base * step / warmup_steps while step < warmup_steps (NAM recipe: 2000 steps),
    then min_lr + (base - min_lr) * (1 + cos(pi * t)) / 2 with t going 0 -> 1 over the remaining steps
    (`schedule="cosine"`), or base (`schedule="constant"`).

    Stepped once per batch; its state (the step count) travels with the optimizer's state dict.
    """

    def __init__(self, base_lr, total_steps, warmup_steps=0, min_lr=0.0, schedule="cosine", last_epoch=-1):
        if schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)
        self.min_lr, self.schedule = float(min_lr), schedule
        super().__init__(float(base_lr), last_epoch)

    def get_lr(self):
        step = self.last_epoch
        if step < self.warmup_steps:
            return self.base_lr * step / self.warmup_steps
        if self.schedule == "constant":
            return self.base_lr
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
