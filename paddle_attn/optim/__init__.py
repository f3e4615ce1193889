"""What a training step optimizes with: the optimizer, the LR schedule, the loss, NAM's and the BatchNorm scales'
sparsity penalties."""

from paddle_attn.optim.bn_sparsity import add_bn_sparsity, batchnorm_scales
from paddle_attn.optim.loss import SmoothedCrossEntropy
from paddle_attn.optim.nam_sparsity import add_nam_sparsity, nam_gammas
from paddle_attn.optim.optimizer import OPTIMIZERS, build_optimizer
from paddle_attn.optim.schedule import (
    SCHEDULES,
    build_schedule,
    load_optimizer_state,
    schedule_from_config,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SmoothedCrossEntropy",
    "add_bn_sparsity",
    "add_nam_sparsity",
    "batchnorm_scales",
    "build_optimizer",
    "build_schedule",
    "load_optimizer_state",
    "nam_gammas",
    "schedule_from_config",
]
