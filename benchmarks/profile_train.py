"""Where a training step's time goes: Paddle's profiler over a few steps, one table of operators.

    python benchmarks/profile_train.py                          # resnet50_nam, CIFAR stem, 32x32, batch 64
    python benchmarks/profile_train.py --model resnet50 --steps 2 --batch 32
    python benchmarks/profile_train.py --kernels onednn         # as cpu.kernels=auto runs (train_step.py's KERNELS)
    python benchmarks/profile_train.py --kernels onednn_bn_channel_loops  # and the batch norms' channel loops

Prints Paddle's operator view (`paddle.profiler`, CPU), sorted by total CPU time: which kernels
(forward and `*_grad`) a step spends its time in. The evidence behind the README's speed notes.
"""

import argparse

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet50_nam")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--stem", default="cifar", choices=("cifar", "imagenet"))
    parser.add_argument("--steps", type=int, default=2, help="profiled steps after one warm-up step (default 2)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--kernels",
        default="paddle",
        help="train_step.py's KERNELS: paddle, onednn_grouped, onednn_conv, onednn_activations, onednn, onednn_bf16, ...",
    )
    args = parser.parse_args()

    from train_step import TrainStep, with_kernels

    from paddle_attn.cpu import apply_cpu_settings

    settings = apply_cpu_settings(args.threads)
    import paddle
    import paddle.profiler as profiler

    import paddle_attn

    net = with_kernels(paddle_attn.create_model(args.model, num_classes=100, stem=args.stem), args.kernels)
    optimizer = paddle.optimizer.Momentum(0.01, 0.9, net.parameters(), weight_decay=5e-4)
    step = TrainStep(net, paddle.nn.CrossEntropyLoss(), optimizer)
    rng = np.random.default_rng(0)
    images = paddle.to_tensor(rng.standard_normal((args.batch, 3, args.image_size, args.image_size), dtype=np.float32))
    labels = paddle.to_tensor(rng.integers(0, 100, args.batch))
    print(f"{args.model}, batch {args.batch}, {args.image_size}x{args.image_size}, settings {settings}", flush=True)
    step(images, labels)  # warm-up
    prof = profiler.Profiler(
        targets=[profiler.ProfilerTarget.CPU], scheduler=(0, args.steps), on_trace_ready=lambda _: None
    )  # the table only, no trace files
    prof.start()
    for _ in range(args.steps):
        float(step(images, labels))
        prof.step()
    prof.stop()
    prof.summary(
        sorted_by=profiler.SortedKeys.CPUTotal,
        op_detail=False,
        thread_sep=False,
        time_unit="ms",
        views=[profiler.SummaryView.OperatorView],
    )


if __name__ == "__main__":
    main()
