"""`relu` of an fp32 CPU tensor run by the onednn_relu operator (oneDNN's eltwise primitives, both threads)."""


def relu(x):
    """max(x, 0); its gradient reads the output, as Paddle's does."""
    from paddle_attn.kernels.onednn.build import load_ops  # optional: compiles the operator (C++ compiler) on first use

    return load_ops().onednn_relu(x)
