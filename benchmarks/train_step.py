"""A raw training step for the benchmarks, beside the one tools/train.py runs: dygraph, or the forward as a PIR
program (paddle.jit.to_static). Benchmark-only: the library trains through paddle.Model.fit alone."""

import paddle

MODES = ("dygraph", "static")
# the layers a Paddle runner puts on paddle_attn's oneDNN operators (train_speed.py / profile_train.py --kernels)
KERNELS = (
    "paddle",
    "onednn_grouped",
    "onednn_conv",
    "onednn_activations",
    "onednn",
    "onednn_bf16",
    "onednn_bn_nchw",
    "onednn_bn_blocked",
    "onednn_bn_channel_loops",
)


def with_kernels(net, kernels):
    """`net` with its layers on `kernels` (KERNELS): paddle (Paddle's own), onednn_grouped (grouped convs on oneDNN),
    onednn_conv (every conv), onednn_activations (every conv, ReLU, sigmoid and residual add + ReLU), onednn (those
    and the batch norms as cpu_kernels.BATCH_NORM_LAYOUT says: what cpu.kernels=auto runs), onednn_bf16 (the same,
    bf16 products in the convs), onednn_bn_<layout> (onednn_activations and the batch norms on the operator in a
    layout of kernels/onednn/batch_norm.py). The operators are built on first use."""
    if kernels not in KERNELS:
        raise ValueError(f"unknown kernels {kernels!r}; kernels: {', '.join(KERNELS)}")
    if kernels != "paddle":
        from paddle_attn.kernels.onednn.layers import (
            use_onednn_activations,
            use_onednn_add_relu,
            use_onednn_batch_norms,
            use_onednn_convs,
        )
        from paddle_attn.models.resnet import ResidualReLU
        from paddle_attn.training.cpu_kernels import BATCH_NORM_LAYOUT

        precision = "bf16" if kernels == "onednn_bf16" else "fp32"
        use_onednn_convs(net, "grouped" if kernels == "onednn_grouped" else "all", precision)
        if kernels not in ("onednn_grouped", "onednn_conv"):
            use_onednn_activations(net)
            use_onednn_add_relu(net, ResidualReLU)
        if kernels in ("onednn", "onednn_bf16"):
            layout = BATCH_NORM_LAYOUT
        else:
            layout = kernels.removeprefix("onednn_bn_") if kernels.startswith("onednn_bn_") else None
        if layout is not None:
            use_onednn_batch_norms(net, layout)
    return net


class TrainStep:
    """`loss = step(images, labels)`: forward, backward and one optimizer step in `mode` (see MODES)."""

    def __init__(self, net, loss_fn, optimizer, mode="dygraph"):
        if mode not in MODES:
            raise ValueError(f"unknown training mode {mode!r}; modes: {', '.join(MODES)}")
        self.net, self.loss_fn, self.optimizer = net, loss_fn, optimizer
        self.forward = net if mode == "dygraph" else paddle.jit.to_static(net.forward, full_graph=True)

    def __call__(self, images, labels):
        self.net.train()
        loss = self.loss_fn(self.forward(images), labels)
        loss.backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        return loss
