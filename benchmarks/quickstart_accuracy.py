"""Runs the README's quick start (configs/quickstart.yaml) and prints its time and eval top-1.

python benchmarks/quickstart_accuracy.py [--out output/quickstart-bench] [--kernels auto|paddle|onednn]
    [--precision fp32|bf16] [--seed N]
The README claims top-1 well above chance (0.10); this script checks the claim of >= 0.60.
"""

import argparse
import os
import sys
import time

from paddle_attn.config import load_config
from paddle_attn.cpu import apply_cpu_settings
from paddle_attn.training import train

CLAIM = 0.60

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="output/quickstart-bench")
    parser.add_argument("--kernels", default="auto", help="cpu.kernels: auto, paddle or onednn (default auto)")
    parser.add_argument("--precision", default="fp32", help="device.precision: fp32 or bf16 (default fp32)")
    parser.add_argument("--seed", type=int, default=None, help="train.seed (default: the config's)")
    args = parser.parse_args()
    overrides = [f"run.output_dir={args.out}", "train.verbose=0", "run.move_existing_run=true"]
    overrides += [f"cpu.kernels={args.kernels}", f"device.precision={args.precision}"]
    overrides += [] if args.seed is None else [f"train.seed={args.seed}"]
    config = load_config("quickstart", overrides)  # the installed package's configs/quickstart.yaml
    apply_cpu_settings()  # as tools/train.py does, before the first conv
    start = time.perf_counter()
    result = train(config)
    minutes = (time.perf_counter() - start) / 60
    print(
        f"quickstart: {config['train']['epochs']} epochs in {minutes:.1f} min on {os.cpu_count()} cores; "
        f"best eval top-1 {result['best_top1']:.4f} (claim >= {CLAIM}, chance 0.10); "
        f"cpu.kernels={args.kernels}, device.precision={args.precision}, train.seed={config['train']['seed']}"
    )
    sys.exit(0 if result["best_top1"] >= CLAIM else 1)
