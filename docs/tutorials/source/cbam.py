# %% [markdown] en
# # CBAM: channel attention, then spatial attention
#
# This tutorial follows the CBAM tutorial (PyTorch): it writes CBAM's `ChannelAttention` and `SpatialAttention`
# by hand in Paddle and checks them against `paddle_attn.layers.CBAM`, builds CBAM-ResNet-50 as the tutorial does
# (parameter count checked, its PyTorch weights converted), then trains a small CBAM-ResNet and the plain ResNet
# of the same depth on the same generated images with `paddle.Model.prepare` / `fit` written out, compares their
# curves, draws the trained spatial attention over the images and exports the network for prediction on the CPU.
# Every figure below is computed when the notebook runs.
#
# **Run it.** Every tutorial installs the same way, from the project's folder (a git clone or the unpacked source):
#
# - *On AI Studio*: upload the project (or `!git clone` it) into your project space, open this notebook, run
#   `%cd` to the project's folder and `!pip install -e ".[cpu,notebooks]"` in a cell, then restart the kernel
#   (Kernel > Restart) so that the installed package is the one imported.
# - *On a laptop*: `pip install -e ".[cpu,notebooks]"` in the project's folder, `pip install jupyterlab`, then
#   `jupyter lab docs/tutorials/en/cbam.ipynb`.
# - *From a checkout* without installing: start Jupyter anywhere inside the checkout; the first cell finds the
#   `paddle_attn` folder above it. The PyTorch cell also needs `pip install torch` and the checkout's
#   `torch_reference/` (it is skipped with a message otherwise).
#
# Everything runs offline on a CPU. Set `PADDLE_ATTN_TUTORIAL_QUICK=1` before starting Jupyter for a quick trial
# run of under a minute (a few dozen 16-pixel images, one epoch); without it the notebook takes a few minutes on
# two cores. Outputs go to `output/tutorials/cbam/` under the folder Jupyter runs in.
# %% [markdown] zh
# # CBAM：先通道注意力，后空间注意力
#
# 本教程对应 CBAM 教程（PyTorch 版）：先用飞桨手写 CBAM 的 `ChannelAttention` 和 `SpatialAttention`，并与
# `paddle_attn.layers.CBAM` 逐值核对；再按教程的结构搭建 CBAM-ResNet-50（核对参数量，转换其 PyTorch 权重）；
# 然后在同一批生成的图像上，用写出来的 `paddle.Model.prepare` / `fit` 训练一个小型 CBAM-ResNet 和同样深度的普通 ResNet，
# 对比两者的曲线；最后把训练后的空间注意力画在图像上，并导出模型在 CPU 上推理。下文的所有数值都由 notebook 运行时计算得出。
#
# **运行方法。** 所有教程的安装方式相同，都在项目文件夹（git clone 得到的或解压的源码）中执行：
#
# - *在 AI Studio 上*：把项目上传（或用 `!git clone` 克隆）到项目空间，打开本 notebook，在一个单元中用 `%cd` 进入项目文件夹，
#   运行 `!pip install -e ".[cpu,notebooks]"`，然后重启内核（Kernel > Restart），使导入的是刚安装的包。
# - *在笔记本电脑上*：在项目文件夹中运行 `pip install -e ".[cpu,notebooks]"` 和 `pip install jupyterlab`，
#   再运行 `jupyter lab docs/tutorials/zh/cbam.ipynb`。
# - *直接在源码目录中运行*（不安装）：在源码目录内任意位置启动 Jupyter，第一个单元会向上找到 `paddle_attn` 文件夹。
#   PyTorch 单元还需要 `pip install torch` 和源码目录中的 `torch_reference/`（否则给出提示并跳过）。
#
# 全部内容均可在 CPU 上离线运行。启动 Jupyter 前设置 `PADDLE_ATTN_TUTORIAL_QUICK=1` 可进行一分钟以内的快速试运行
# （几十张 16 像素的图像，只训练 1 个 epoch）；不设置时，在 2 核 CPU 上需要几分钟。输出写在 Jupyter 运行目录下的
# `output/tutorials/cbam/` 中。

# %%
# paddle_attn from the environment (pip install), else from the checkout this notebook sits in
import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

# the one install line of every tutorial: run it in the project's folder (a git clone or the unpacked source)
INSTALL = 'pip install -e ".[cpu,notebooks]"'
if importlib.util.find_spec("paddle_attn") is None:
    checkout = next(
        (d for d in (Path.cwd(), *Path.cwd().parents) if (d / "paddle_attn" / "__init__.py").is_file()), None
    )
    if checkout is None:
        raise ModuleNotFoundError(
            f"this notebook needs paddle_attn; in the paddle_attn project folder run:\n    {INSTALL}"
        )
    sys.path.insert(0, str(checkout))
import paddle_attn  # noqa: E402

plt.switch_backend(matplotlib.get_backend())  # in Jupyter, the inline one: the figures cells return are shown
QUICK = os.environ.get("PADDLE_ATTN_TUTORIAL_QUICK") == "1"
settings = paddle_attn.apply_cpu_settings()  # a notebook is an entry point: every core, fast BLAS
import paddle  # noqa: E402

OUT = Path("output/tutorials/cbam")
print(f"paddle {paddle.__version__}, quick mode: {QUICK}, CPU threads: {settings['threads']}, outputs in {OUT}/")

# %% [markdown] en
# ## 1. The idea
#
# CBAM (Sanghyun Woo, Jongchan Park, Joon-Young Lee, In So Kweon: *CBAM: Convolutional Block Attention
# Module*, ECCV 2018, arXiv:1807.06521) refines a feature map $F \in \mathbb{R}^{C \times H \times W}$ twice in
# a row, first *what* to look at (channels), then *where* (positions) (paper eq. 1):
#
# $$F' = M_c(F) \otimes F, \qquad F'' = M_s(F') \otimes F' .$$
#
# The **channel gate** pools each channel two ways, average and maximum, sends both vectors through one
# shared MLP with a hidden layer of $C/r$ units ($r = 16$) and adds them before the sigmoid (eq. 2):
#
# $$M_c(F) = \sigma\big(\mathrm{MLP}(\mathrm{AvgPool}(F)) + \mathrm{MLP}(\mathrm{MaxPool}(F))\big) \in \mathbb{R}^{C \times 1 \times 1} .$$
#
# The **spatial gate** pools across the channels instead, at each position the mean and the maximum, stacks
# the two maps and convolves them with one $7 \times 7$ kernel (eq. 3):
#
# $$M_s(F') = \sigma\big(f^{7 \times 7}([\mathrm{AvgPool}(F'); \mathrm{MaxPool}(F')])\big) \in \mathbb{R}^{1 \times H \times W} .$$
#
# The MLP holds $2C^2/r$ weights (bias-free in the CBAM tutorial), the spatial gate $2 \cdot 7 \cdot 7 = 98$.
# %% [markdown] zh
# ## 1. 原理
#
# CBAM（Sanghyun Woo, Jongchan Park, Joon-Young Lee, In So Kweon：*CBAM: Convolutional Block Attention
# Module*，ECCV 2018，arXiv:1807.06521）对特征图 $F \in \mathbb{R}^{C \times H \times W}$ 依次做两次细化：
# 先决定关注*什么*（通道），再决定关注*哪里*（位置）（论文式 1）：
#
# $$F' = M_c(F) \otimes F, \qquad F'' = M_s(F') \otimes F' .$$
#
# **通道注意力**对每个通道分别做平均池化和最大池化，两个向量经过同一个隐藏层为 $C/r$ 个单元（$r = 16$）的共享 MLP，
# 相加后再经过 sigmoid（式 2）：
#
# $$M_c(F) = \sigma\big(\mathrm{MLP}(\mathrm{AvgPool}(F)) + \mathrm{MLP}(\mathrm{MaxPool}(F))\big) \in \mathbb{R}^{C \times 1 \times 1} .$$
#
# **空间注意力**则沿通道方向池化：在每个位置取均值和最大值，把两张图拼接后用一个 $7 \times 7$ 卷积核卷积（式 3）：
#
# $$M_s(F') = \sigma\big(f^{7 \times 7}([\mathrm{AvgPool}(F'); \mathrm{MaxPool}(F')])\big) \in \mathbb{R}^{1 \times H \times W} .$$
#
# MLP 共有 $2C^2/r$ 个权重（CBAM 教程中不带偏置），空间注意力有 $2 \cdot 7 \cdot 7 = 98$ 个权重。

# %% [markdown] en
# ## 2. The block, written by hand
#
# The CBAM tutorial writes the two gates as two small modules (in PyTorch); here they are in Paddle, line for line:
# `ChannelAttention` returns $M_c(F)$, `SpatialAttention` returns $M_s(F')$, and the tutorial's residual block
# multiplies its features by each in turn (eq. 1). Then `paddle_attn.layers.CBAM` is given the same weights
# (`set_state_dict`, the names mapped: the library keeps both gates in one layer, `channel.*` and `spatial.*`) and
# both are run on the same random tensor: the outputs must agree.
# %% [markdown] zh
# ## 2. 手写 CBAM 模块
#
# CBAM 教程把两个门控写成两个小模块（PyTorch 版）；这里用飞桨逐行写出：`ChannelAttention` 返回 $M_c(F)$，
# `SpatialAttention` 返回 $M_s(F')$，教程的残差块依次把特征与二者相乘（式 1）。然后给 `paddle_attn.layers.CBAM`
# 载入相同的权重（`set_state_dict`，参数名需要对应：库把两个门控放在同一个层中，即 `channel.*` 和 `spatial.*`），
# 在同一个随机张量上运行两者：输出必须一致。

# %%
import paddle
import paddle.nn as nn


class ChannelAttention(nn.Layer):
    """M_c(F) = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F))), one bias-free MLP C -> C/16 -> C for both (eq. 2)."""

    def __init__(self, in_planes):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.max_pool = nn.AdaptiveMaxPool2D(1)
        self.fc1 = nn.Conv2D(in_planes, in_planes // 16, kernel_size=1, bias_attr=False)  # W_0, r = 16
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2D(in_planes // 16, in_planes, kernel_size=1, bias_attr=False)  # W_1
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        avg_out = self.fc2(self.relu(self.fc1(self.avg_pool(x))))  # W_1(W_0(F_avg^c)), eq. 2
        max_out = self.fc2(self.relu(self.fc1(self.max_pool(x))))  # W_1(W_0(F_max^c)), the same weights
        return self.sigmoid(avg_out + max_out)  # (N, C, 1, 1)


class SpatialAttention(nn.Layer):
    """M_s(F) = sigmoid(conv7x7([AvgPool(F); MaxPool(F)])), both pools across the channels (eq. 3)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(2, 1, kernel_size=7, padding=3, bias_attr=False)  # f^{7x7}
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        avg_out = paddle.mean(x, axis=1, keepdim=True)  # F_avg^s: (N, 1, H, W)
        max_out = paddle.max(x, axis=1, keepdim=True)  # F_max^s
        return self.sigmoid(self.conv1(paddle.concat([avg_out, max_out], axis=1)))  # (N, 1, H, W)


# %% [markdown] en
# The tutorial's residual block applies them in turn (eq. 1); the library's `CBAM` does both, loaded here with the
# same weights under its own names:
# %% [markdown] zh
# 教程的残差块依次应用二者（式 1）；库中的 `CBAM` 一次完成两步，这里以它自己的参数名载入相同的权重：

# %%
import numpy as np
import paddle

from paddle_attn.layers import CBAM

paddle.seed(0)
channels, size = 256, 16
x = paddle.randn([2, channels, size, size])
channel_att, spatial_att = ChannelAttention(channels), SpatialAttention()
refined = x * channel_att(x)  # F' = M_c(F) * F, eq. 1
by_hand = refined * spatial_att(refined)  # F'' = M_s(F') * F'

block = CBAM(channels)  # the tutorial's defaults: r = 16, bias-free MLP, 7x7 spatial kernel, mean before max
weights = {f"channel.{name}": value for name, value in channel_att.state_dict().items()}
weights["spatial.conv.weight"] = spatial_att.conv1.weight
assert {k: v.shape for k, v in weights.items()} == {k: v.shape for k, v in block.state_dict().items()}
block.set_state_dict(weights)
block.eval()
np.testing.assert_allclose(block(x).numpy(), by_hand.numpy(), rtol=1e-5, atol=1e-6)
print(f"hand-written CBAM == paddle_attn.layers.CBAM on a {list(x.shape)} tensor; weights: {sorted(weights)}")

# %% [markdown] en
# The library computes the same values another way, on purpose, for speed on Paddle's CPU kernels: both pooled
# vectors go through the MLP once as one (N, C, 2, 1) map (half the kernel launches, and no split of the batch axis,
# which paddle2onnx cannot convert), the channel maximum is a max-pool over a reshaped view (the same values; the
# backward of `paddle.max(axis=1)` is about 1000 times slower here), and the spatial gate is broadcast to the
# features' shape before the product. Its options `mlp_bias`, `spatial_bn` and `max_first` give the authors'
# released layout (section 4).
# %% [markdown] zh
# 库用另一种方式计算出相同的值，这是为了在飞桨的 CPU 内核上更快，属于有意为之：两个池化向量拼成一个 (N, C, 2, 1)
# 的张量一次通过 MLP（内核调用次数减半，也不需要拆分 batch 维，而 paddle2onnx 无法转换这种拆分）；通道最大值用
# 变形后的视图上的最大池化计算（值相同；在本机上 `paddle.max(axis=1)` 的反向传播要慢约 1000 倍）；空间门控在相乘前先广播到
# 特征的形状。它的选项 `mlp_bias`、`spatial_bn` 和 `max_first` 对应作者发布的结构（第 4 节）。

# %% [markdown] en
# ## 3. The library's layer on a random tensor
#
# `paddle_attn.layers.CBAM` is `ChannelAttention` followed by `SpatialAttention`; each has a `gate(x)`
# method that returns its gate alone. Parameters come from `paddle_attn.analysis.count_params`, FLOPs from
# `count_flops` (Paddle's `paddle.flops` rules: pooling across channels, the sigmoid and the products with
# the gates count zero).
# %% [markdown] zh
# ## 3. 在随机张量上运行库中的 CBAM 层
#
# `paddle_attn.layers.CBAM` 由 `ChannelAttention` 和其后的 `SpatialAttention` 组成，二者都有单独返回门控值的 `gate(x)` 方法。
# 参数量由 `paddle_attn.analysis.count_params` 统计，计算量 FLOPs 由 `count_flops` 统计（采用 `paddle.flops` 的规则：
# 沿通道的池化、sigmoid 以及与门控相乘的操作计为 0）。

# %%
import paddle.nn.functional as F

from paddle_attn.analysis import count_flops, count_params

y = block(x)  # the CBAM above, with the hand-written block's weights
channel_gate = block.channel.gate(x)
refined = x * channel_gate  # F' of eq. 1
spatial_gate = block.spatial.gate(refined)
assert np.allclose(y.numpy(), (refined * spatial_gate).numpy(), atol=1e-6)  # F'' = M_s(F') x F'
params = count_params(block)[1]
flops = count_flops(block, [1, channels, size, size])[0]
print(f"input {list(x.shape)} -> output {list(y.shape)}; {params:,} parameters, {flops:,} FLOPs")
for name, gate in (("channel gate M_c", channel_gate), ("spatial gate M_s", spatial_gate)):
    print(f"{name}: shape {list(gate.shape)}, values in [{gate.min().item():.3f}, {gate.max().item():.3f}]")
assert params == 2 * channels * (channels // 16) + 2 * 7 * 7  # bias-free MLP (eq. 2) + 7x7 conv on 2 maps (eq. 3)

# why the channel gate saturates here: what goes into its sigmoid
mlp = block.channel
average, maximum = F.adaptive_avg_pool2d(x, 1), F.adaptive_max_pool2d(x, 1)
from_average, from_maximum = (mlp.fc2(mlp.relu(mlp.fc1(v)))[0, :, 0, 0].numpy() for v in (average, maximum))
gate = channel_gate.numpy()[0, :, 0, 0]
print(f"AvgPool(F): mean {average.numpy().mean():+.3f}, spread {average.numpy().std():.3f}")
print(f"MaxPool(F): mean {maximum.numpy().mean():+.3f}, spread {maximum.numpy().std():.3f}")
print(f"MLP(AvgPool) spread {from_average.std():.2f}, MLP(MaxPool) spread {from_maximum.std():.2f}")
print(f"channels with the gate below 0.05 or above 0.95: {np.mean((gate < 0.05) | (gate > 0.95)):.0%}")

figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2), width_ratios=[2.2, 1], layout="constrained")
left.plot(gate, linewidth=1)
left.set_xlabel("channel")
left.set_ylabel("gate value")
left.set_title("channel gate of image 0")
image = right.imshow(spatial_gate.numpy()[0, 0], cmap="viridis")
right.set_title(f"spatial gate of image 0 ({size}x{size})")
figure.colorbar(image, ax=right)
plt.show()

# %% [markdown] en
# *Figure: the channel gate $M_c$ of one random image per channel (left) and its spatial gate $M_s$ (right).*
#
# On this random tensor the channel gate sits near 0 or 1 for about half the channels, not near 0.5. The printout
# says why: the average of 256 standard-normal values is close to 0, but their maximum is about 2.8 in *every*
# channel, a large input of one sign. The untrained MLP (Paddle's default Xavier initialisation) turns that into
# outputs spread over several units, and a sigmoid of ±4 is already 0.02 or 0.98. In a network, CBAM sees
# batch-normalized features and learned weights, and its gates move away from the extremes: section 9 shows the
# trained gates per stage.
# %% [markdown] zh
# *图：一张随机图像的通道门控 $M_c$（左，逐通道）和空间门控 $M_s$（右）。*
#
# 在这个随机张量上，约一半通道的门控值接近 0 或 1，而不是 0.5 附近。上面的输出说明了原因：256 个标准正态值的平均值接近 0，
# 但它们的最大值在*每个*通道都约为 2.8，是一个同号的大输入。未训练的 MLP（飞桨默认的 Xavier 初始化）把它变成分布在几个单位范围内的输出，
# 而 sigmoid(±4) 已经是 0.02 或 0.98。在网络中，CBAM 的输入是经过 BatchNorm 的特征，权重也是学到的，门控值会离开两端：
# 第 9 节给出训练后各 stage 的门控值。

# %% [markdown] en
# ## 4. The network: CBAM-ResNet-50 of the CBAM tutorial
#
# The CBAM tutorial builds ResNet-50 with the CIFAR stem (one 3x3 convolution, no max-pool), CBAM after the
# last BatchNorm of every bottleneck, 1000 classes; torchinfo counts 28,065,864 parameters. `paddle.summary`
# counts the same as trainable, and BatchNorm's running mean and variance on top as total. The counts do
# not depend on the input size, so we summarise at 32x32 (the tutorial used 224x224).
# %% [markdown] zh
# ## 4. 网络：CBAM 教程中的 CBAM-ResNet-50
#
# CBAM 教程使用 CIFAR stem（一个 3x3 卷积，无最大池化）构建 ResNet-50，在每个瓶颈块的最后一个 BatchNorm 之后加入 CBAM，
# 类别数为 1000；torchinfo 统计的参数量为 28,065,864。`paddle.summary` 的可训练参数量（trainable）与之相同，
# 总参数量（total）另外包含 BatchNorm 的滑动均值和方差。参数量与输入尺寸无关，因此这里用 32x32 的输入（原教程为 224x224）。

# %%
net = paddle_attn.create_model("resnet50_cbam", num_classes=1000, stem="cifar")
counts = paddle.summary(net, (1, 3, 32, 32))
print(f"total {int(counts['total_params']):,}, trainable {int(counts['trainable_params']):,}")
assert counts["trainable_params"] == 28_065_864  # the CBAM tutorial's torchinfo count (seed 004)
assert counts["total_params"] == 28_118_984  # plus BatchNorm's running statistics (README's table)

# %% [markdown] en
# Side by side with plain ResNet-50 and with the CBAM of the authors' released model (MLP with biases, a
# BatchNorm after the 7x7 convolution, max before mean): parameters, FLOPs per 32x32 image and the CPU time
# of a forward pass, measured here with `paddle_attn.analysis.comparison` (what `tools/compare.py` runs).
# %% [markdown] zh
# 下面与无注意力的 ResNet-50，以及作者发布模型中的 CBAM（MLP 带偏置、7x7 卷积后接 BatchNorm、最大值在均值之前）放在一起比较：
# 参数量、每张 32x32 图像的计算量 FLOPs，以及在本机 CPU 上前向计算的耗时，由 `paddle_attn.analysis.comparison`
# （即 `tools/compare.py` 所用的代码）测得。

# %%
from paddle_attn.analysis import comparison

batch, warmup, iterations = (2, 0, 1) if QUICK else (4, 1, 3)
entries = comparison.registry_entries(["resnet50", "resnet50_cbam"], 1000, "cifar")
authors = {"mlp_bias": True, "spatial_bn": True, "max_first": True}  # configs/resnet50_cbam_imagenet.yaml
entries.append(
    {
        "label": "resnet50_cbam (authors')",
        "model": {
            "name": "resnet50_cbam",
            "num_classes": 1000,
            "stem": "cifar",
            "kwargs": {"attention_kwargs": authors},
        },
        "top1": None,
    }
)
rows = comparison.compare(entries, batch, 32, warmup, iterations, progress=print)
caption = (
    f"Forward pass on this CPU ({settings['threads']} threads): batch {batch}, 3x32x32, eval mode, "
    f"median of {iterations} timed passes. Params: trainable."
)
display(Markdown(comparison.markdown_table(rows, caption)))
print(f"parameters CBAM adds to ResNet-50: {rows[1]['params'] - rows[0]['params']:,}")

# %% [markdown] en
# ## 5. From the PyTorch tutorial's network to Paddle
#
# `torch_reference/cbam_tutorial.py` holds the CBAM tutorial's PyTorch network with its tensor names.
# `paddle_attn.convert.convert_and_compare(torch_net, "cbam_tutorial", ...)` first moves the BatchNorm statistics away
# from 0 and 1 by a few training-mode passes, so that a wrongly mapped statistic would show, then maps every tensor
# onto `resnet50_cbam` with `convert_state_dict` (an unmapped or misshapen tensor is an error) and runs both networks
# on the same random images: their logits must agree. This cell needs PyTorch (`pip install torch`) and the
# checkout's `torch_reference/` (not part of the installed package); it is skipped with a message without them.
# %% [markdown] zh
# ## 5. 从 PyTorch 教程的网络转换到 Paddle
#
# `torch_reference/cbam_tutorial.py` 中是 CBAM 教程的 PyTorch 网络（保留其参数名）。
# `paddle_attn.convert.convert_and_compare(torch_net, "cbam_tutorial", ...)` 先在训练模式下前向几次，使 BatchNorm 的统计量
# 偏离 0 和 1，以便让映射错误的统计量能够暴露出来；再用 `convert_state_dict` 把每个张量映射到 `resnet50_cbam`
# （无法映射或形状不符的张量会报错），并让两个网络在相同的随机图像上运行：两者输出的 logits 必须一致。
# 本单元需要 PyTorch（`pip install torch`）和源码目录中的 `torch_reference/`（不属于安装的包）；缺少时给出提示并跳过。

# %%
missing = [name for name in ("torch", "torch_reference") if importlib.util.find_spec(name) is None]
if missing:  # torch_reference/ is in the checkout only, not in the installed package
    print(f"skipped: the conversion check needs {' and '.join(missing)} (pip install torch; run from a checkout)")
else:
    import torch

    from paddle_attn.convert import convert_and_compare
    from torch_reference.cbam_tutorial import resnet_cbam

    torch.manual_seed(0)
    parity = convert_and_compare(
        resnet_cbam(50, num_classes=1000), "cbam_tutorial", image_size=32, images=4, train_passes=3
    )
    print(f"converted to {parity.converted.spec}; max |paddle - torch| / max |torch|: {parity.relative:.2e}")
    assert parity.relative < 1e-5 and parity.same_top1

# %% [markdown] en
# ## 6. Training, written out
#
# The CBAM tutorial gives no training recipe; `paddle_attn` trains SE, ECA and CBAM ResNets with the NAM tutorial's
# CIFAR recipe, the built-in config `resnet50_cbam_cifar100` (Momentum 0.9, weight decay 5e-4, linear warm-up then
# cosine decay). The cell loads it by name and shrinks it so that it runs in minutes on a CPU: a **ResNet-18**
# (ResNet-50 with the CIFAR stem is about 16 times more work per image) with the ImageNet stem at 32 px, the
# generated 10-class shapes data set (`config.synthetic_data_overrides`, written to `output/tutorials/cbam/`), a
# short warm-up and a higher learning rate for a few epochs.
#
# The training itself is what you would write in your own project: `paddle.Model(net).prepare(optimizer, loss,
# paddle.metric.Accuracy(topk=(1, 5)))`, then `fit` with callbacks. Beside Paddle's
# `paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)`, which steps the schedule of
# `paddle_attn.optim.build_schedule` (warm-up and cosine counted in batches) after every batch, the callbacks come
# from `paddle_attn.training`:
#
# - `EvalLossMean`: the eval loss over the whole test set (Paddle's own log holds the last batch's only);
# - `VisualDLLogger`: loss, top-1, top-5 and the learning rate into a VisualDL log, which
#   `paddle.callbacks.VisualDL` does without the learning rate and the whole-set eval loss;
# - `attention_logger`: each stage's gate values as histograms and Grad-CAM images of 8 test images, in the same log;
# - `CheckpointSaver`: checkpoints with `best` and `latest` links and the network's description, which
#   `paddle_attn.load_model`, `tools/export.py` and section 9 read back; `paddle.callbacks.ModelCheckpoint` saves
#   the weights of every epoch without them.
#
# The function below trains one network; it runs twice, for CBAM-ResNet-18 and for plain ResNet-18, with the same
# data, seed and schedule. `verbose=2` prints one line per epoch and one per evaluation.
# %% [markdown] zh
# ## 6. 写出训练过程
#
# CBAM 教程没有给出训练方案；`paddle_attn` 使用 NAM 教程的 CIFAR 训练方案训练 SE、ECA 和 CBAM 的 ResNet，即内置配置
# `resnet50_cbam_cifar100`（Momentum 0.9，权重衰减 5e-4，线性预热后余弦衰减）。下面按名称加载该配置，并把它缩小到能在 CPU 上
# 几分钟内跑完：**ResNet-18**（CIFAR stem 的 ResNet-50 每张图像的计算量约为其 16 倍），ImageNet stem、32 像素输入，
# 生成的 10 类图形数据集（`config.synthetic_data_overrides`，写入 `output/tutorials/cbam/`），较短的预热和较高的学习率，只训练几个 epoch。
#
# 训练部分就是你在自己的项目中会写的代码：`paddle.Model(net).prepare(optimizer, loss, paddle.metric.Accuracy(topk=(1, 5)))`，
# 然后带回调函数调用 `fit`。除了飞桨的 `paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)`（每个 batch 之后推进
# `paddle_attn.optim.build_schedule` 给出的学习率策略，预热和余弦衰减都按 batch 计数），其余回调函数来自 `paddle_attn.training`：
#
# - `EvalLossMean`：整个测试集上的平均评估损失（飞桨自己的日志只记录最后一个 batch 的损失）；
# - `VisualDLLogger`：把损失、top-1、top-5 和学习率写入 VisualDL 日志；`paddle.callbacks.VisualDL` 不记录学习率，
#   也不记录整个测试集上的评估损失；
# - `attention_logger`：把各 stage 的门控值直方图和 8 张测试图像的 Grad-CAM 写入同一个日志；
# - `CheckpointSaver`：保存带 `best` 和 `latest` 链接以及网络描述的检查点，供 `paddle_attn.load_model`、`tools/export.py`
#   和第 9 节读取；`paddle.callbacks.ModelCheckpoint` 每个 epoch 保存一次权重，但没有这些信息。
#
# 下面的函数训练一个网络；它运行两次，分别训练 CBAM-ResNet-18 和普通 ResNet-18，数据、随机种子和学习率策略都相同。
# `verbose=2` 时每个 epoch 输出一行，每次评估输出一行。

# %%
from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.data.datasets import build_dataset
from paddle_attn.optim import build_schedule
from paddle_attn.training import (
    CheckpointSaver,
    EvalLossMean,
    VisualDLLogger,
    attention_logger,
    describe_run,
    quiet_paddle,
    run_loaders,
)

# quick: a few dozen 16-px images, one epoch; full: 600 32-px images, a few epochs
train_per_class, test_per_class, epochs, batch_size, image_size = (3, 2, 1, 16, 16) if QUICK else (60, 20, 4, 32, 32)
shapes = OUT / ("shapes_quick.tar.gz" if QUICK else "shapes.tar.gz")  # one file per mode: neither rewrites the other


def recipe(model_name):
    """The built-in config resnet50_cbam_cifar100 (the NAM tutorial's recipe), shrunk for a CPU."""
    shrink = [
        f"model.name={model_name}",
        "model.stem=imagenet",
        f"data.image_size={image_size}",
        f"train.epochs={epochs}",
        f"train.batch_size={batch_size}",
        "lr.base=0.05",  # the quick start's rate: a few epochs, not 300
        "lr.warmup_steps=10",
        f"run.output_dir={OUT / model_name}",
    ]
    data = synthetic_data_overrides(shapes, train_per_class, test_per_class)  # and the set's 10 classes
    return load_config("resnet50_cbam_cifar100", overrides=data + shrink)


def fit(config):
    """Train the config's network with paddle.Model.prepare / fit and public callbacks; returns its run folder."""
    run_dir = Path(config["run"]["output_dir"])
    shutil.rmtree(run_dir, ignore_errors=True)  # a rerun of the notebook starts afresh
    seed = config["train"]["seed"]
    paddle.seed(seed)  # the same initial draws for every network
    train_set, test_set = build_dataset(config["data"], "train", seed), build_dataset(config["data"], "test")
    # shuffled batches whose order and augmentation the `seeding` callback sets each epoch from (seed, epoch)
    train_loader, test_loader, seeding = run_loaders(config["train"], config["data"], train_set, test_set)
    spec = config["model"]
    net = paddle_attn.create_model(spec["name"], num_classes=spec["num_classes"], stem=spec["stem"])

    lr, steps = config["lr"], len(train_loader)
    scheduler = build_schedule(lr["base"], epochs * steps, steps, warmup_steps=lr["warmup_steps"], schedule="cosine")
    optimizer = paddle.optimizer.Momentum(scheduler, momentum=0.9, parameters=net.parameters(), weight_decay=5e-4)
    model = paddle.Model(net)
    model.prepare(optimizer, paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy(topk=(1, 5)))

    curves = VisualDLLogger(str(run_dir / "vdl"), scheduler)
    callbacks = [
        seeding,
        paddle.callbacks.LRScheduler(by_step=True, by_epoch=False),  # warm-up and cosine count batches
        EvalLossMean(),  # before the loggers: they read its whole-set eval loss
        curves,
        attention_logger(curves, test_set, config["data"], spec["num_classes"]),
        CheckpointSaver(str(run_dir), optimizer, epochs, epochs, describe_run(config, train_set)),
    ]
    with quiet_paddle():  # Paddle's BatchNorm and hapi repeat notes on every batch; nothing is wrong
        model.fit(train_loader, test_loader, epochs=epochs, verbose=2, callbacks=callbacks)
    return run_dir


start = time.perf_counter()
cbam_dir = fit(recipe("resnet18_cbam"))
print(f"CBAM-ResNet-18 trained in {time.perf_counter() - start:.0f} s")

# %% [markdown] en
# The same data, seed and schedule for the plain ResNet-18:
# %% [markdown] zh
# 用相同的数据、随机种子和学习率策略训练普通 ResNet-18：

# %%
start = time.perf_counter()
plain_dir = fit(recipe("resnet18"))
print(f"ResNet-18 trained in {time.perf_counter() - start:.0f} s")

# %% [markdown] en
# **The one-line route.** `train(config)` (`paddle_attn.training.train`) runs the same `prepare` / `fit` with these
# callbacks (plus resuming, data parallelism and a faster evaluation path on the CPU); from a shell it is
# `tools/train.py` in a checkout, or the installed command `paddle-attn-train`, with the config's name or path and
# the same overrides:
#
# ```bash
# paddle-attn-train -c resnet50_cbam_cifar100 -o model.name=resnet18_cbam -o model.stem=imagenet \
#     -o data.dataset=synthetic -o model.num_classes=10 -o train.epochs=4 -o train.batch_size=32 \
#     -o lr.base=0.05 -o lr.warmup_steps=10 -o train.verbose=2
# python tools/train.py -c configs/resnet50_cbam_cifar100.yaml -o ...     # the same, from a checkout
# ```
# %% [markdown] zh
# **一行命令的方式。** `train(config)`（`paddle_attn.training.train`）用这些回调函数执行同样的 `prepare` / `fit`
# （另外支持断点续训、数据并行，以及 CPU 上更快的评估方式）；在命令行中，源码目录里是 `tools/train.py`，安装后是
# `paddle-attn-train` 命令，参数为配置的名称或路径以及相同的覆盖参数：
#
# ```bash
# paddle-attn-train -c resnet50_cbam_cifar100 -o model.name=resnet18_cbam -o model.stem=imagenet \
#     -o data.dataset=synthetic -o model.num_classes=10 -o train.epochs=4 -o train.batch_size=32 \
#     -o lr.base=0.05 -o lr.warmup_steps=10 -o train.verbose=2
# python tools/train.py -c configs/resnet50_cbam_cifar100.yaml -o ...     # 在源码目录中，效果相同
# ```

# %% [markdown] en
# ## 7. CBAM against plain ResNet-18
#
# Both runs' VisualDL logs, read back (`paddle_attn.analysis.run_logs.read_scalars`) and overlaid
# (`run_figures.plot_curves`): training loss, top-1, top-5 and learning rate per step on top, evaluation per epoch
# below. To browse the logs themselves: `visualdl --logdir output/tutorials/cbam --language en`.
# %% [markdown] zh
# 读取两次训练的 VisualDL 日志（`paddle_attn.analysis.run_logs.read_scalars`）并叠加绘制（`run_figures.plot_curves`）：
# 上排是每一步的训练损失、top-1、top-5 和学习率，下排是每个 epoch 的评估结果。如需直接查看日志：
# `visualdl --logdir output/tutorials/cbam --language zh`。

# %%
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import read_scalars
from paddle_attn.analysis.run_summary import final_scores

runs = {"ResNet-18": read_scalars(plain_dir), "CBAM-ResNet-18": read_scalars(cbam_dir)}
display(plot_curves(runs, OUT / "curves.png"))
table, verdicts = final_scores(runs, num_classes=10)  # each run's last epoch; a verdict per run from its top-1
caption = (
    f"After {epochs} epoch(s) on {10 * train_per_class} images of {image_size} px, tested on {10 * test_per_class}."
)
display(Markdown(f"{table}\n\n{caption} Chance: top-1 0.100."))
print(verdicts)

# %% [markdown] en
# *Figure: ResNet-18 and CBAM-ResNet-18 trained on the same images with the same seed and schedule; training curves
# per step (faint: raw, solid: smoothed) on top, evaluation per epoch below; the table gives the last values.*
#
# The CBAM tutorial trains nothing, so there is no conclusion of its own to repeat; the paper's claim is an ImageNet
# one (section 8: 1.9 points of top-1 over ResNet-50 after 100 epochs). A few epochs on 600 generated images,
# with one seed, cannot show a gain of that size: a difference of a few points between the two rows is within what
# another seed or another epoch count changes. The lines under the table say how much each network learned; the time each took is printed under its training cell (on a shared machine, a rough figure).
# %% [markdown] zh
# *图：在相同图像上、以相同随机种子和学习率策略训练的 ResNet-18 与 CBAM-ResNet-18；上排为每一步的训练曲线（浅色为原始值，
# 实线为平滑后的值），下排为每个 epoch 的评估结果；表格给出最后的数值。*
#
# CBAM 教程没有训练网络，因此没有它自己的结论可供复现；论文的结论来自 ImageNet（第 8 节：训练 100 个 epoch 后比 ResNet-50 的
# top-1 高 1.9 个百分点）。在 600 张生成图像上训练几个 epoch、只用一个随机种子，无法显示这种幅度的提升：两行之间几个百分点的差距，
# 换一个随机种子或 epoch 数就可能改变。表格下方的输出说明每个网络学到了多少；
# 每个网络的训练耗时打印在其训练单元下方（在共享的机器上只是一个粗略的数字）。

# %% [markdown] en
# ## 8. On the real data set, with a GPU
#
# Not run here: this machine has no GPU. The tutorial's network and
# recipe on CIFAR-100 (put `cifar-100-python.tar.gz` into `data/`; 300 epochs, batch 256):
#
# ```bash
# python tools/train.py -c configs/resnet50_cbam_cifar100.yaml -o device.name=gpu
# python tools/train.py -c configs/resnet50_cifar100.yaml -o device.name=gpu       # no attention
# ```
#
# The paper reports ImageNet results, not CIFAR ones: ResNet-50 + CBAM **77.34 % top-1** (22.66 % top-1
# error, against 24.56 % for ResNet-50 in the same table); the authors' released checkpoint reaches 77.62 %
# (their README). That recipe (SGD momentum 0.9, LR 0.1 divided by 10 every 30 epochs, 100 epochs, weight
# decay 1e-4, batch 256, random-resized crops of 224 px, the authors' CBAM layout) is
# `configs/resnet50_cbam_imagenet.yaml`:
#
# ```bash
# python tools/train.py -c configs/resnet50_cbam_imagenet.yaml -o device.name=gpu
# ```
# %% [markdown] zh
# ## 8. 在真实数据集和 GPU 上训练
#
# 本机没有 GPU，此处未运行。教程网络与训练方案在 CIFAR-100 上的命令如下
# （把 `cifar-100-python.tar.gz` 放到 `data/` 下；300 个 epoch，batch 256）：
#
# ```bash
# python tools/train.py -c configs/resnet50_cbam_cifar100.yaml -o device.name=gpu
# python tools/train.py -c configs/resnet50_cifar100.yaml -o device.name=gpu       # 无注意力
# ```
#
# 论文报告的是 ImageNet 而非 CIFAR 上的结果：ResNet-50 + CBAM 的 **top-1 为 77.34%**（top-1 错误率 22.66%，
# 同表中 ResNet-50 为 24.56%）；作者发布的检查点为 77.62%（见其 README）。对应的训练方案（SGD momentum 0.9，
# 学习率 0.1、每 30 个 epoch 除以 10，共 100 个 epoch，权重衰减 1e-4，batch 256，224 像素随机缩放裁剪，作者的 CBAM 结构）
# 即 `configs/resnet50_cbam_imagenet.yaml`：
#
# ```bash
# python tools/train.py -c configs/resnet50_cbam_imagenet.yaml -o device.name=gpu
# ```

# %% [markdown] en
# ## 9. Looking inside the trained network
#
# `paddle_attn.analysis.attention_maps` runs test images through the network once and records the gates
# every CBAM block multiplied by, plus Grad-CAM of the predicted class. The test images are written as PNG
# files first (section 10 predicts them too) and read back with the checkpoint's own preprocessing. For each
# image: the input, Grad-CAM, and the spatial gate of each stage (averaged over the stage's blocks) stretched
# over the image, on the gate's own value range.
# %% [markdown] zh
# ## 9. 查看训练后网络的注意力
#
# `paddle_attn.analysis.attention_maps` 让测试图像经过网络一次，记录每个 CBAM 模块实际相乘的门控值，
# 并计算预测类别的 Grad-CAM。测试图像先保存为 PNG 文件（第 10 节也会用它们做推理），再按检查点自身的预处理方式读回。
# 每张图像依次显示：输入图像、Grad-CAM，以及各 stage 的空间门控（该 stage 所有模块的平均值），拉伸到图像大小，
# 颜色范围为门控值自身的范围。

# %%
from paddle_attn.analysis.attention_figures import plot_gate_distributions, plot_image_maps, to_display
from paddle_attn.analysis.gates import attention_maps
from paddle_attn.analysis.report import open_network
from paddle_attn.data.synthetic import CLASS_NAMES, write_image_files
from paddle_attn.inference.predict import preprocess

image_dir = OUT / "images"
paths, labels = write_image_files(image_dir, 1 if QUICK else 2, seed=1)  # the test split's first images (seed 1)

trained, info = open_network(str(cbam_dir))  # the best checkpoint, in eval mode, and its preprocessing
inputs, _, _ = preprocess(info, paths)
maps = attention_maps(trained, inputs)
spatial = maps.spatial_gates()
print(f"{len(maps.gates)} gates recorded ({', '.join(maps.gate_kinds())}); Grad-CAM through {maps.cam_layer}")
print("spatial gate size per stage:", {stage: gates.shape[1:] for stage, gates in spatial.items()})
shown = to_display(inputs, info["transform"], info["mean"], info["std"])
for index in range(2 if QUICK else 4):
    panels = [("Grad-CAM", maps.cam[index], "cam")]
    panels += [(f"{stage} spatial gate", gates[index], "gate") for stage, gates in spatial.items()]
    title = f"{CLASS_NAMES[labels[index]]} -> {CLASS_NAMES[maps.predicted[index]]}"
    display(plot_image_maps(shown[index], panels, title))

channel_values = {stage: values.ravel() for stage, values in maps.gate_values("channel").items()}
spatial_values = {stage: values.ravel() for stage, values in maps.gate_values("spatial").items()}
display(
    plot_gate_distributions(
        {"channel": channel_values, "spatial": spatial_values},
        "CBAM gate values per stage (test images)",
        OUT / "gates.png",
    )
)

# %% [markdown] en
# *Figures: for each test image, its true and predicted class, Grad-CAM of the predicted class and each stage's
# spatial gate over the image; then the distribution of the gate values per stage (violins), channel gates on the
# left and spatial gates on the right.*
#
# At 32 px with the ImageNet stem, stage 1's maps are 8x8 and stage 4's a single value, so the early
# stages are where the spatial gate can pick out the shape. The violins show how far the trained gates move from
# 0.5 per stage; compare them with the untrained channel gate of section 3, half of it at 0 or 1.
# %% [markdown] zh
# *图：每张测试图像的真实类别和预测类别、预测类别的 Grad-CAM，以及各 stage 的空间门控（叠加在图像上）；
# 然后是各 stage 门控值的分布（小提琴图），左为通道门控，右为空间门控。*
#
# 在 32 像素输入和 ImageNet stem 下，stage 1 的空间门控为 8x8，stage 4 只有一个值，因此只有前面的 stage 能用空间门控突出形状所在的位置。
# 小提琴图显示训练后各 stage 的门控值偏离 0.5 的程度；可与第 3 节未训练的通道门控（一半在 0 或 1）对比。

# %% [markdown] en
# ## 10. Export and predict
#
# The command `paddle-attn-export` (`tools/export.py` in a checkout; `cli.run_tool("export", ...)` runs it from a
# notebook) writes the trained checkpoint as Paddle's inference program and, with `--format onnx` (the `[onnx]`
# extra; full mode only), as `model.onnx`; `paddle-attn-infer` predicts image files with Paddle Inference, ONNX
# Runtime or OpenVINO. First the export; then `paddle_attn.inference.backend_speed` lists the backends that can run it here
# (`runnable_backends`: fp32, and bf16 where `paddle_attn.cpu.bf16_supported()` says the CPU has it) and times each
# on one batch (`time_backends`: images/s, and how far its logits are from Paddle fp32's); the fastest fp32 one
# predicts the images.
# %% [markdown] zh
# ## 10. 导出与推理
#
# `paddle-attn-export` 命令（源码目录中为 `tools/export.py`；在 notebook 中用 `cli.run_tool("export", ...)` 运行）
# 把训练得到的检查点导出为 Paddle 推理程序，加上 `--format onnx`（需要 `[onnx]` 扩展，仅完整模式）时还会导出 `model.onnx`；
# `paddle-attn-infer` 可使用 Paddle Inference、ONNX Runtime 或 OpenVINO 对图像文件进行推理。先导出模型，
# 再由 `paddle_attn.inference.backend_speed` 列出本机能运行它的后端（`runnable_backends`：fp32，以及
# `paddle_attn.cpu.bf16_supported()` 表明 CPU 支持时的 bf16），并在一个 batch 上逐一计时（`time_backends`：
# 每秒图像数，以及 logits 与 Paddle fp32 的差距）；最后用最快的 fp32 后端对图像进行预测。

# %%
from paddle_attn.cli import run_tool

# ONNX (for ONNX Runtime and OpenVINO) needs the [onnx] extra; a quick run keeps to Paddle Inference
formats = ["--format", "onnx"] if importlib.util.find_spec("paddle2onnx") and not QUICK else []
run_tool("export", "--checkpoint", cbam_dir, "--out", cbam_dir / "inference", *formats)

# %%
from paddle_attn.inference.backend_speed import runnable_backends, speed_table, time_backends

print("runnable here:", runnable_backends(cbam_dir / "inference"))
batch_images = np.resize(inputs, (8 if QUICK else 32, *inputs.shape[1:]))  # one batch: the test images repeated
rows = time_backends(cbam_dir / "inference", batch_images, repeats=2 if QUICK else 3)
display(Markdown(speed_table(rows)))

# %%
fastest = next(row for row in rows if row["precision"] == "fp32")  # fp32: the same numbers on every CPU
choice = ["--backend", fastest["backend"], "--precision", "fp32"]
run_tool("infer", "--model", cbam_dir / "inference", *choice, "--top-k", "3", image_dir)

# %% [markdown] en
# Each line is one image: its file name (which holds the true class) and the three most likely classes
# with their probabilities. The same command works on your own images and on any checkpoint trained above.
# %% [markdown] zh
# 每行对应一张图像：文件名（包含真实类别）以及概率最高的三个类别和对应概率。同样的命令也适用于你自己的图像以及上面训练得到的任何检查点。
