"""The device a run uses (`device.name`), its process group, and mixed precision through
`paddle.Model.prepare(amp_configs=...)`: float16 autocast with dynamic loss scaling, GPUs only."""

from __future__ import annotations

import paddle

from paddle_attn.cpu import set_cpu_threads
from paddle_attn.errors import ConfigError
from paddle_attn.training.distributed import world_size


def run_device(device):
    """The device a run uses for `device.name`: "auto" is the GPU when Paddle sees one, else the CPU."""
    if device == "auto":
        return "gpu" if paddle.device.cuda.device_count() > 0 else "cpu"
    return device


def amp_configs(level, device):
    """`prepare`'s `amp_configs` for `device.amp` = `level` on `device` ("cpu" or "gpu"); None for "off".

    O1 runs the ops on Paddle's autocast white list (convolutions, matmuls) in float16, hapi's autocast
    dtype (its `amp_configs` take no dtype), and scales the loss dynamically (Paddle's GradScaler defaults:
    2^16, halved on an overflow, doubled after 2000 clean steps). hapi's `eval_batch` runs outside autocast,
    so evaluation stays float32. Paddle's AMP needs CUDA: on the CPU it is a ConfigError.
    """
    if level in ("off", False):  # YAML 1.1 reads a bare `off` as false
        return None
    if device != "gpu":
        raise ConfigError(
            f"device.amp is {level!r}, but Paddle's automatic mixed precision runs on GPUs only and this "
            f"run is on the CPU: set device.amp=off (or device.name=gpu on a machine with a GPU)"
        )
    return {"level": level, "use_dynamic_loss_scaling": True}


def prepare_device(config: dict) -> str:
    """Device, process group (under paddle.distributed.launch), threads if the config sets them (`cpu.threads`),
    and seed; returns the device."""
    device = run_device(config["device"]["name"])
    paddle.set_device(device)
    if world_size() > 1:
        paddle.distributed.init_parallel_env()
    if config["cpu"]["threads"] is not None:
        set_cpu_threads(config["cpu"]["threads"])
    paddle.seed(config["train"]["seed"])
    return device
