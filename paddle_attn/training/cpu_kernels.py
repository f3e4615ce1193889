"""`cpu.kernels`: which kernels a CPU training run's convolutions, ReLU and sigmoid layers and residual junctions
(and batch norms) use, Paddle's own or paddle_attn's oneDNN operators.

`auto` takes oneDNN where the operators build (or load from the cache) and their start-up self-check against
Paddle's kernels passes, else Paddle's; either way one line says which path runs and why. GPU runs are left untouched.
Batch norms stay Paddle's unless `BATCH_NORM_LAYOUT` names a layout. `device.precision: bf16` runs the
convolutions' products in bf16 on the oneDNN operator (fp32 master weights, fp32 batch norms); it is refused where
that cannot run.
"""

from paddle_attn.cpu import bf16_supported
from paddle_attn.errors import ConfigError
from paddle_attn.kernels.onednn.layers import (
    use_onednn_activations,
    use_onednn_add_relu,
    use_onednn_batch_norms,
    use_onednn_convs,
)
from paddle_attn.kernels.onednn.self_check import self_check
from paddle_attn.models.resnet import ResidualReLU

# every convolution: measured faster per training step than grouped ones only (benchmarks/train_speed.py --kernels)
CONV_SET = "all"
# batch norms stay Paddle's (None; else a layout of kernels/onednn/batch_norm.py). The operator's channel loops run
# 1.57x Paddle's batch norm alone (benchmarks/onednn_batch_norm.py, resnet50_nam 32 px b64, Intel AVX-512, 2 threads)
# and a resnet50 step 1.04x, but made the quick start 1.6x slower (1.07 vs 0.67 min, loader workers beside them):
# off until that is understood. oneDNN's own primitives measured slower (NCHW 0.77-0.85x, blocked 0.80-0.87x)
BATCH_NORM_LAYOUT = None


def check_precision(precision, setting, device):
    """ConfigError unless `device.precision` = `precision` can run with `cpu.kernels` = `setting` on `device`."""
    if precision == "fp32":
        return
    if device != "cpu":
        raise ConfigError(f"device.precision=bf16 is for CPU runs; on the {device} use device.amp=O1 (float16)")
    if setting == "paddle":
        raise ConfigError("device.precision=bf16 runs on the oneDNN operator: set cpu.kernels=auto or onednn")
    if not bf16_supported():
        raise ConfigError(
            "device.precision=bf16 needs a CPU with AVX-512 BF16 or AMX (flags avx512_bf16 / amx_bf16 in "
            "/proc/cpuinfo); this one has neither: use device.precision=fp32"
        )


def choose_cpu_kernels(setting, device, precision="fp32"):
    """("paddle" or "onednn", why) for `cpu.kernels` = `setting` on `device`; ConfigError when `onednn` (or bf16)
    was asked for and cannot run here."""
    check_precision(precision, setting, device)
    if device != "cpu":
        return "paddle", f"the run is on the {device}; cpu.kernels applies to CPU runs"
    if setting == "paddle":
        return "paddle", "cpu.kernels=paddle"
    from paddle_attn.kernels.onednn.build import BuildUnavailable, load_ops  # optional: compiles with a C++ compiler

    try:
        load_ops()
        problem = self_check(BATCH_NORM_LAYOUT, precision)
    except BuildUnavailable as err:
        problem = str(err)
    if problem is None:
        return "onednn", f"cpu.kernels={setting}: the operators loaded and matched Paddle's in their self-check"
    if setting == "onednn" or precision == "bf16":  # bf16 has no fallback: Paddle's CPU kernels train in fp32 only
        raise ConfigError(
            f"cpu.kernels={setting}, device.precision={precision}, but the oneDNN operator cannot run here: {problem}"
            + ("; use device.precision=fp32" if precision == "bf16" else "; use auto or paddle")
        )
    return "paddle", f"cpu.kernels=auto, oneDNN unavailable: {problem}"


def apply_cpu_kernels(net, setting, device, precision="fp32"):
    """Put `net`'s convolutions, ReLU and sigmoid layers (and batch norms) on the kernels `cpu.kernels` = `setting`
    chooses, the convolutions' products in `precision`, printing one line; returns the path."""
    path, why = choose_cpu_kernels(setting, device, precision)
    if path == "onednn":
        count = use_onednn_convs(net, CONV_SET, precision)
        if BATCH_NORM_LAYOUT is None:
            norms = "batch norms: Paddle's"
        else:
            kind = "channel loops" if BATCH_NORM_LAYOUT == "channel_loops" else f"oneDNN, {BATCH_NORM_LAYOUT}"
            norms = f"batch norms: {kind} ({use_onednn_batch_norms(net, BATCH_NORM_LAYOUT)} layers)"
        kind = "oneDNN, bf16 products" if precision == "bf16" else "oneDNN"
        activations = (
            f"ReLU and sigmoid layers: oneDNN ({use_onednn_activations(net)}), residual add + ReLU: oneDNN "
            f"({use_onednn_add_relu(net, ResidualReLU)})"
        )
        print(f"convolutions: {kind} ({count} layers; {why}); {activations}; {norms}")
    else:
        print(f"convolutions: Paddle's kernels ({why})")
    return path
