"""What each of paddle_attn's process-wide CPU settings (paddle_attn.cpu) is worth alone, on a training step.

    python benchmarks/cpu_settings.py [--model resnet18_nam --batch 32 --steps 4]

Each case runs in a fresh process (MKL reads its CPU type once, mallopt cannot be undone): Paddle as it
comes (one thread, MKL's own path, glibc's default allocator), each setting alone, each on top of
fast_blas, and all three, as `tools/*.py` apply them. Prints images/s and the speed-up over Paddle as it comes.
"""

import argparse
import json
import os
import subprocess
import sys

CASES = {  # name: (threads, fast_blas, keep_freed_memory); None threads: every core
    "as it comes": (1, False, False),
    "threads only": (None, False, False),
    "fast_blas only": (1, True, False),
    "keep_freed_memory only": (1, False, True),
    "fast_blas + threads": (None, True, False),
    "fast_blas + keep_freed_memory": (1, True, True),
    "all three": (None, True, True),
}

STEP = """
import json, sys, time
threads, fast_blas, keep_freed = {settings!r}
from paddle_attn.cpu import apply_cpu_settings
apply_cpu_settings(threads, fast_blas, keep_freed)
import paddle, paddle_attn
paddle.seed(0)
net = paddle_attn.create_model({model!r}, num_classes=100, stem="cifar")
opt = paddle.optimizer.Momentum(0.01, 0.9, net.parameters())
x, y = paddle.randn([{batch}, 3, 32, 32]), paddle.randint(0, 100, [{batch}])
def step():
    loss = paddle.nn.functional.cross_entropy(net(x), y)
    loss.backward(); opt.step(); opt.clear_grad()
    return float(loss)
step(); step()
start = time.perf_counter()
for _ in range({steps}):
    step()
print(json.dumps({{"images_per_s": {batch} * {steps} / (time.perf_counter() - start)}}))
"""


def measure(settings, args):
    env = {k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"}
    code = STEP.format(settings=settings, model=args.model, batch=args.batch, steps=args.steps)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])["images_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18_nam")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    from common import machine

    print(f"{args.model}, CIFAR stem 32x32, batch {args.batch}, {args.steps} timed training steps; {machine()}")
    base = None
    for name, settings in CASES.items():
        speed = measure(settings, args)
        base = base or speed
        print(f"{name:>30}: {speed:6.1f} images/s  ({speed / base:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
