"""`batch_norm` with the semantics of paddle.nn.functional.batch_norm (NCHW, fp32, CPU, use_global_stats=None), run by
the onednn_batch_norm operator. The operator can fuse the following ReLU (`fuse_relu`), refused here until its
gradient is right."""

# Activation layouts the operator may compute in (user tensors stay NCHW); values match batch_norm.cc's LayoutMode
LAYOUT_MODES = {"nchw": 0, "blocked": 1, "channel_loops": 2}  # channel_loops: no oneDNN, batch_norm_loops.h


def batch_norm(
    x,
    running_mean,
    running_var,
    weight,
    bias,
    training=False,
    momentum=0.9,
    epsilon=1e-5,
    fuse_relu=False,
    layout="nchw",
):
    """Training: normalizes by the batch statistics and updates the running ones in place (Paddle's convention,
    running = momentum * running + (1 - momentum) * batch); eval: normalizes by the running statistics."""
    from paddle_attn.kernels.onednn.build import load_ops  # optional: compiles the operator (C++ compiler) on first use

    if fuse_relu:
        raise ValueError(
            "the fused ReLU is disabled: its input gradient came out wrong (0.1-0.3 relative) at 64x128x32x32 and "
            "larger in every layout, intermittently, in benchmarks/onednn_batch_norm.py (workspace handling suspected)"
        )
    outputs = load_ops().onednn_batch_norm(
        x,
        weight,
        bias,
        running_mean,
        running_var,
        float(epsilon),
        float(momentum),
        bool(training),
        bool(fuse_relu),
        LAYOUT_MODES[layout],
    )
    return outputs[0]
