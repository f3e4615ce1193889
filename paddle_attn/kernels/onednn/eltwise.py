"""Element-wise activations of an fp32 CPU tensor run by the onednn_eltwise operator (oneDNN's eltwise primitives,
on every thread Paddle uses; Paddle's own CPU activations are single-threaded loops)."""

# values match eltwise.cc's kAlgorithms
ACTIVATIONS = {"relu": 0, "sigmoid": 1}


def _ops():
    from paddle_attn.kernels.onednn.build import load_ops  # optional: compiles the operator (C++ compiler) on first use

    return load_ops()


def eltwise(x, activation):
    """`activation` (ACTIVATIONS) of `x`; its gradient reads the output, as Paddle's does."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
    return _ops().onednn_eltwise(x, ACTIVATIONS[activation])


def relu(x):
    """max(x, 0)."""
    return eltwise(x, "relu")


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return eltwise(x, "sigmoid")


def add_relu(a, b):
    """relu(a + b) of two fp32 CPU tensors of one shape (a residual block's junction); both gradients are relu's."""
    return _ops().onednn_add_relu(a, b)
