"""`batch_norm` with the semantics of paddle.nn.functional.batch_norm (NCHW, fp32, CPU, use_global_stats=None), run by
the onednn_batch_norm operator; `fuse_relu` also applies the ReLU that follows it, in the same pass."""

# Activation layouts the operator may compute in (user tensors stay NCHW); values match batch_norm.cc's LayoutMode
LAYOUT_MODES = {"nchw": 0, "blocked": 1}


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

    if fuse_relu and layout != "nchw":
        raise ValueError(
            "the fused ReLU runs in layout 'nchw' only: oneDNN 3.6's blocked and NHWC kernels gave wrong input "
            "gradients with it (1e-2 relative at 64x128x32x32; benchmarks/onednn_batch_norm.py)"
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
