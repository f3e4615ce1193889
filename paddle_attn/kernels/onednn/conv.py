"""`conv2d` with the signature of paddle.nn.functional.conv2d (NCHW, fp32, CPU), run by the onednn_conv2d operator."""

# Activation layouts the operator may compute in (user tensors stay NCHW); values match conv2d.cc's LayoutMode
LAYOUT_MODES = {"any": 0, "nchw": 1, "nhwc": 2}
# What the products are computed in (conv2d.cc's Precision): bf16 rounds x, weight and the output gradient to bf16
# inside the operator and accumulates in fp32; every tensor Paddle sees stays fp32
PRECISIONS = {"fp32": 0, "bf16": 1}


def _pair(value, name):
    pair = [int(value)] * 2 if isinstance(value, int) else [int(v) for v in value]
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or two ints, got {value!r}")
    return pair


def auto_layout(x_shape, weight_shape, groups):
    """The activation layout measured fastest for such a conv (benchmarks/onednn_conv.py, AVX-512, 2 threads).

    1x1 convs on 8x8 or more and 3-channel stems: plain NCHW, no reorders (oneDNN's blocked layout costs
    two activation reorders per pass); grouped convs: NHWC (blocked grouped kernels are up to 5x slower).
    """
    if groups > 1:
        return "nhwc"
    if x_shape[1] <= 4 or (weight_shape[2] == weight_shape[3] == 1 and x_shape[2] * x_shape[3] >= 64):
        return "nchw"
    return "any"


def precision_code(precision):
    """conv2d.cc's Precision value of `precision`; ValueError naming the choices for another."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, layout="auto", precision="fp32"):
    """oneDNN convolution of NCHW `x` with OIHW `weight`; symmetric integer padding; bias added by Paddle;
    `precision` one of PRECISIONS (bf16 needs a CPU with AVX-512 BF16 or AMX: oneDNN refuses it elsewhere)."""
    code = precision_code(precision)
    from paddle_attn.kernels.onednn.build import load_ops  # optional: compiles the operator (C++ compiler) on first use

    if layout == "auto":
        layout = auto_layout(x.shape, weight.shape, groups)
    out = load_ops().onednn_conv2d(
        x,
        weight,
        _pair(stride, "stride"),
        _pair(padding, "padding"),
        _pair(dilation, "dilation"),
        int(groups),
        LAYOUT_MODES[layout],
        code,
    )
    if bias is not None:  # one broadcast add; fusing it into the primitive is left until a layer needs it
        out = out + bias.reshape([1, -1, 1, 1])
    return out
