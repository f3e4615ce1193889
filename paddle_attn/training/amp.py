"""Mixed precision through `paddle.Model.prepare(amp_configs=...)`: float16 autocast with dynamic loss scaling, GPUs only."""

import paddle

from paddle_attn.config import ConfigError


def run_device(device):
    """The device a run uses for `train.device`: "auto" is the GPU when Paddle sees one, else the CPU."""
    if device == "auto":
        return "gpu" if paddle.device.cuda.device_count() > 0 else "cpu"
    return device


def amp_configs(level, device):
    """`prepare`'s `amp_configs` for `train.amp` = `level` on `device` ("cpu" or "gpu"); None for "off".

    O1 runs the ops on Paddle's autocast white list (convolutions, matmuls) in float16, hapi's autocast
    dtype (its `amp_configs` take no dtype), and scales the loss dynamically (Paddle's GradScaler defaults:
    2^16, halved on an overflow, doubled after 2000 clean steps). hapi's `eval_batch` runs outside autocast,
    so evaluation stays float32. Paddle's AMP needs CUDA: on the CPU it is a ConfigError.
    """
    if level in ("off", False):  # YAML 1.1 reads a bare `off` as false
        return None
    if device != "gpu":
        raise ConfigError(f"train.amp is {level!r}, but Paddle's automatic mixed precision runs on GPUs only and this "
                          f"run is on the CPU: set train.amp=off (or train.device=gpu on a machine with a GPU)")
    return {"level": level, "use_dynamic_loss_scaling": True}
