# %% [markdown] en
# # EPSANet: pyramid squeeze attention with paddle_attn
#
# This notebook follows the two EPSANet tutorials: a PaddlePaddle project that writes the PSA module and EPSANet-50,
# prints its `paddle.summary` and compares it with ResNet-50 on CIFAR-10 resized to 224 px, and a PyTorch write-up of
# the same network with the authors' weight initialization. It writes the tutorial's `SEWeightModule` and `PSAModule`
# by hand and checks them against `paddle_attn.layers.PSAModule`, summarises EPSANet-50 with its parameter count
# checked, converts the PyTorch network, trains a small EPSANet and the plain ResNet of the same depth on the same
# generated images with `paddle.Model.prepare` / `fit` written out and compares them, looks at the trained network's
# kernel-size weights and Grad-CAM, and exports it for prediction on this CPU. Every figure shown below is computed
# when the notebook runs.
#
# **Run it.** Every tutorial installs the same way, from the project's folder (a git clone or the unpacked source):
#
# - *On AI Studio*: upload the project (or `!git clone` it) into your project space, open this notebook, run
#   `%cd` to the project's folder and `!pip install -e ".[cpu,notebooks]"` in a cell, then restart the kernel
#   (Kernel > Restart) so that the installed package is the one imported.
# - *On a laptop*: `pip install -e ".[cpu,notebooks]"` in the project's folder, `pip install jupyterlab`, then
#   `jupyter lab docs/tutorials/en/epsanet.ipynb`.
# - *From a checkout* without installing: start Jupyter anywhere inside the checkout; the first cell finds the
#   `paddle_attn` folder above it. The PyTorch cell also needs `pip install torch` and the checkout's
#   `torch_reference/` (it is skipped with a message otherwise).
#
# It runs offline on a CPU: training uses a generated data set of coloured shapes instead of CIFAR-10. Set
# `PADDLE_ATTN_TUTORIAL_QUICK=1` before starting Jupyter for a quick trial run (a few dozen 16-pixel images, one
# epoch, fewer timing repeats); without it the notebook takes a few minutes on two cores. Outputs go to
# `output/tutorials/epsanet/` under the folder Jupyter runs in.
# %% [markdown] zh
# # EPSANet：金字塔挤压注意力（paddle_attn 实践）
#
# 本教程对应两篇 EPSANet 教程：一篇是飞桨项目，编写 PSA 模块和 EPSANet-50，打印 `paddle.summary`，
# 并在缩放到 224 像素的 CIFAR-10 上与 ResNet-50 对比；另一篇是同一网络的 PyTorch 实现，带有作者的权重初始化方式。
# 这里先手写教程中的 `SEWeightModule` 和 `PSAModule`，并与 `paddle_attn.layers.PSAModule` 逐值核对；然后打印 EPSANet-50
# 的结构并核对参数量，转换 PyTorch 网络；再在同一批生成的图像上，用写出来的 `paddle.Model.prepare` / `fit`
# 训练一个小型 EPSANet 和同样深度的普通 ResNet 并加以对比；最后查看训练后各卷积核尺度的权重和 Grad-CAM，
# 并在本机 CPU 上导出模型和推理。下文展示的所有数值都由 notebook 运行时计算得出。
#
# **运行方法。** 所有教程的安装方式相同，都在项目文件夹（git clone 得到的或解压的源码）中执行：
#
# - *在 AI Studio 上*：把项目上传（或用 `!git clone` 克隆）到项目空间，打开本 notebook，在一个单元中用 `%cd` 进入项目文件夹，
#   运行 `!pip install -e ".[cpu,notebooks]"`，然后重启内核（Kernel > Restart），使导入的是刚安装的包。
# - *在笔记本电脑上*：在项目文件夹中运行 `pip install -e ".[cpu,notebooks]"` 和 `pip install jupyterlab`，
#   再运行 `jupyter lab docs/tutorials/zh/epsanet.ipynb`。
# - *直接在源码目录中运行*（不安装）：在源码目录内任意位置启动 Jupyter，第一个单元会向上找到 `paddle_attn` 文件夹。
#   PyTorch 单元还需要 `pip install torch` 和源码目录中的 `torch_reference/`（否则给出提示并跳过）。
#
# 整个流程可离线在 CPU 上运行：训练使用程序生成的彩色图形数据集，而不是 CIFAR-10。启动 Jupyter 前设置
# `PADDLE_ATTN_TUTORIAL_QUICK=1` 可进行快速试运行（几十张 16 像素的图像、1 个 epoch、更少的计时重复次数）；
# 不设置时，在 2 核 CPU 上需要几分钟。输出写在 Jupyter 运行目录下的 `output/tutorials/epsanet/` 中。

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

OUT = Path("output/tutorials/epsanet")
print(f"paddle {paddle.__version__}, quick mode: {QUICK}, CPU threads: {settings['threads']}, outputs in {OUT}/")

# %% [markdown] en
# ## 1. The idea
#
# Zhang, Zu, Lu, Zou and Meng, *EPSANet: An Efficient Pyramid Squeeze Attention Block on Convolutional Neural
# Network*, ACCV 2022, arXiv:2105.14447 (2021). EPSANet keeps ResNet-50 and replaces the 3x3 convolution of each
# bottleneck with a PSA module, which sees the input at several kernel sizes and learns how much of each to keep,
# per channel and per image. It works in four steps.
#
# **Split and concat (SPC).** $S = 4$ grouped convolutions with kernels $k_i = 2(i + 1) + 1 = 3, 5, 7, 9$ each
# produce a quarter of the output channels; larger kernels use more groups to stay cheap (groups 1, 4, 8, 16 in the
# authors' code and both tutorials):
#
# $$F_i = \mathrm{Conv}(k_i \times k_i, G_i)(X), \qquad F = \mathrm{Cat}([F_0, F_1, \dots, F_{S-1}])$$
#
# **SE weight per scale.** One SE weight module, shared by the scales, scores each channel of each scale from its
# global average ($\delta$ ReLU, $\sigma$ sigmoid, reduction 16):
#
# $$Z_i = \mathrm{SEWeight}(F_i) = \sigma\big(W_1\, \delta(W_0\, \mathrm{GAP}(F_i))\big)$$
#
# **Softmax over the scales.** For each channel the $S$ scores compete, so the scales share one unit of weight:
#
# $$att_i = \mathrm{Softmax}(Z_i) = \frac{\exp(Z_i)}{\sum_{j=0}^{S-1} \exp(Z_j)}$$
#
# **Weight and concatenate.** $Y_i = F_i \odot att_i$, $\mathrm{Out} = \mathrm{Cat}([Y_0, \dots, Y_{S-1}])$. The
# authors' code (and both tutorials) concatenate the weighted scales in reverse order, kernel 9 first; `PSAModule`
# does the same so that their weights load unchanged.
#
# The paper reports 77.49 % ImageNet top-1 for EPSANet-50 (small), with 22.56 M parameters and 3.62 GFLOPs
# against ResNet-50's 25.56 M and 4.12 G.
# %% [markdown] zh
# ## 1. 原理
#
# Zhang、Zu、Lu、Zou、Meng，*EPSANet: An Efficient Pyramid Squeeze Attention Block on Convolutional Neural Network*，
# ACCV 2022，arXiv:2105.14447（2021）。EPSANet 保留 ResNet-50 的结构，把每个 bottleneck 中的 3x3 卷积换成 PSA 模块：
# 它用多种卷积核尺寸观察输入，并针对每张图像的每个通道学习各个尺度保留多少。PSA 分四步完成。
#
# **拆分与拼接（SPC）。** $S = 4$ 个分组卷积，卷积核 $k_i = 2(i + 1) + 1 = 3, 5, 7, 9$，各生成四分之一的输出通道；
# 卷积核越大分组越多，以控制计算量（作者代码和两篇教程都使用 1、4、8、16 组）：
#
# $$F_i = \mathrm{Conv}(k_i \times k_i, G_i)(X), \qquad F = \mathrm{Cat}([F_0, F_1, \dots, F_{S-1}])$$
#
# **逐尺度的 SE 权重。** 各尺度共享同一个 SE 权重模块，根据全局平均池化的结果为每个尺度的每个通道打分
# （$\delta$ 为 ReLU，$\sigma$ 为 sigmoid，压缩比 16）：
#
# $$Z_i = \mathrm{SEWeight}(F_i) = \sigma\big(W_1\, \delta(W_0\, \mathrm{GAP}(F_i))\big)$$
#
# **在尺度之间做 Softmax。** 对每个通道，$S$ 个分数相互竞争，各尺度的权重之和为 1：
#
# $$att_i = \mathrm{Softmax}(Z_i) = \frac{\exp(Z_i)}{\sum_{j=0}^{S-1} \exp(Z_j)}$$
#
# **加权并拼接。** $Y_i = F_i \odot att_i$，$\mathrm{Out} = \mathrm{Cat}([Y_0, \dots, Y_{S-1}])$。
# 作者代码（以及两篇教程）按相反的顺序拼接加权后的各尺度，卷积核 9 在最前；`PSAModule` 也这样做，因此它们的权重可以直接加载。
#
# 论文报告 EPSANet-50（small）在 ImageNet 上的 top-1 精度为 77.49%，参数量 22.56 M，计算量 3.62 GFLOPs，
# 而 ResNet-50 为 25.56 M 和 4.12 G。
# %% [markdown] en
# ## 2. The block, written by hand
#
# The Paddle tutorial's `SEWeightModule` and `PSAModule`, written out again with the steps of section 1 marked.
# Like the tutorial, `forward` stacks the four scales as (N, 4, C/4, H, W), takes the softmax across the scale axis,
# and then builds the output by putting each weighted scale *in front of* the ones before it, so kernel 9 comes
# first. `paddle_attn.layers.PSAModule` uses the tutorial's tensor names (`conv_1` ... `conv_4`, `se.fc1`, `se.fc2`),
# so it loads the hand-written module's `state_dict` as it is; both then run on the same random tensor.
# %% [markdown] zh
# ## 2. 手写 PSA 模块
#
# 下面重新写出飞桨教程中的 `SEWeightModule` 和 `PSAModule`，并标出第 1 节的各个步骤。与教程一样，`forward` 把四个尺度堆叠为
# (N, 4, C/4, H, W)，沿尺度维做 softmax，然后把每个加权后的尺度*放在*之前结果的前面来拼接输出，因此卷积核 9 在最前。
# `paddle_attn.layers.PSAModule` 使用与教程相同的参数名（`conv_1` ... `conv_4`、`se.fc1`、`se.fc2`），
# 因此可以直接载入手写模块的 `state_dict`；然后在同一个随机张量上运行两者。

# %%
import paddle
import paddle.nn as nn


class SEWeightModule(nn.Layer):
    """Z_i = sigmoid(W_1 relu(W_0 GAP(F_i))): one weight per channel of one scale, in (0, 1)."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.fc1 = nn.Conv2D(channels, channels // reduction, kernel_size=1)  # W_0, with a bias as in the tutorial
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2D(channels // reduction, channels, kernel_size=1)  # W_1
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class PSAModule(nn.Layer):
    """Split and concat (SPC), SE weight per scale, softmax across the scales, weight and concatenate."""

    def __init__(self, inplans, planes, conv_kernels=(3, 5, 7, 9), stride=1, conv_groups=(1, 4, 8, 16)):
        super().__init__()
        for i, (k, g) in enumerate(zip(conv_kernels, conv_groups), start=1):  # F_i = Conv(k_i x k_i, G_i)(X)
            conv = nn.Conv2D(inplans, planes // 4, k, stride=stride, padding=k // 2, groups=g, bias_attr=False)
            setattr(self, f"conv_{i}", conv)
        self.se = SEWeightModule(planes // 4)  # one SE module shared by the four scales
        self.split_channel = planes // 4
        self.softmax = nn.Softmax(axis=1)

    def forward(self, x):
        n = x.shape[0]
        x1, x2, x3, x4 = self.conv_1(x), self.conv_2(x), self.conv_3(x), self.conv_4(x)  # kernels 3, 5, 7, 9
        feats = paddle.concat((x1, x2, x3, x4), axis=1)  # F = Cat([F_0, ..., F_3])
        feats = feats.reshape([n, 4, self.split_channel, feats.shape[2], feats.shape[3]])
        x_se = paddle.concat((self.se(x1), self.se(x2), self.se(x3), self.se(x4)), axis=1)  # Z_i
        attention_vectors = self.softmax(x_se.reshape([n, 4, self.split_channel, 1, 1]))  # att_i, across scales
        feats_weight = feats * attention_vectors  # Y_i = F_i * att_i
        out = feats_weight[:, 0]
        for i in range(1, 4):  # each next scale goes in front: Y_3, Y_2, Y_1, Y_0
            out = paddle.concat((feats_weight[:, i], out), axis=1)
        return out


# %% [markdown] en
# The library's `PSAModule` loads the hand-written module's `state_dict` as it is, and both run on one random tensor:
# %% [markdown] zh
# 库中的 `PSAModule` 直接载入手写模块的 `state_dict`，然后两者在同一个随机张量上运行：

# %%
import numpy as np
import paddle

from paddle_attn.layers import PSAModule as LibraryPSAModule

paddle.seed(0)
x = paddle.randn([2, 64, 32, 32])
by_hand = PSAModule(64, 64)
library = LibraryPSAModule(64, 64)
assert {k: v.shape for k, v in by_hand.state_dict().items()} == {k: v.shape for k, v in library.state_dict().items()}
library.set_state_dict(by_hand.state_dict())  # the same names: no mapping needed
np.testing.assert_allclose(library(x).numpy(), by_hand(x).numpy(), rtol=1e-5, atol=1e-6)
print(f"hand-written PSAModule == paddle_attn.layers.PSAModule on a {list(x.shape)} tensor")
print("tensors:", ", ".join(f"{name} {list(value.shape)}" for name, value in by_hand.state_dict().items()))

# %% [markdown] en
# The library computes the same output another way, on purpose: it concatenates the four convolutions already in
# output order (kernel 9 first), runs the SE module once over all four scales folded into the batch instead of four
# times, and never flips or re-concatenates, whose backward passes cost about five times the rest of the module's tail
# on Paddle's CPU. Its softmax is written `exp(log_softmax)`, the same values, because Paddle 3.3 prints a PIR
# warning when a traced program (export, the CPU evaluation path) contains `softmax`.
# %% [markdown] zh
# 库用另一种方式计算出相同的输出，这是有意为之：它直接按输出顺序（卷积核 9 在最前）拼接四个卷积的结果，把四个尺度并入 batch 维，
# 只运行一次 SE 模块而不是四次，也不做翻转或逐个拼接（在飞桨的 CPU 上，这些操作的反向传播约为模块尾部其余部分的五倍耗时）。
# 它把 softmax 写成 `exp(log_softmax)`，数值相同，原因是 Paddle 3.3 在追踪的程序（导出、CPU 上的评估路径）中遇到 `softmax`
# 时会打印一条 PIR 警告。

# %% [markdown] en
# ## 3. The library's layer on a random tensor
#
# `PSAModule(64, 64)` is the PSA of EPSANet's first stage; here it is the library's module above, holding the
# hand-written one's weights. `GateRecorder` records the softmax weights of each scale as the forward pass computes
# them; they are checked against the softmax computed from the hand-written module's own SE scores.
# %% [markdown] zh
# ## 3. 在随机张量上运行库中的 PSA 层
#
# `PSAModule(64, 64)` 即 EPSANet 第一个 stage 中的 PSA 模块；这里用的是上面载入了手写模块权重的库模块。
# `GateRecorder` 记录前向计算中各尺度的 softmax 权重，并与用手写模块自己的 SE 分数算出的 softmax 核对。
# %%
from paddle_attn.analysis import GateRecorder, count_flops, count_params

psa = library
psa.eval()
with GateRecorder(paddle.nn.Sequential(psa)) as recorder:  # it records the sublayers of what it is given
    y = psa(x)
(weights,) = recorder.scale_weights()
print(f"input {x.shape} -> output {y.shape}; softmax weights {list(weights.values.shape)} (N, scales, C/4)")
print(f"kernel sizes in output order: {weights.kernel_sizes}")
for i in range(1, 5):
    conv = getattr(psa, f"conv_{i}")
    print(f"conv_{i}: kernel {conv.weight.shape[-1]}, groups {conv._groups}, {conv.weight.numel().item():,} weights")
total, trainable = count_params(psa)
flops, uncounted = count_flops(psa, [1, 64, 32, 32])
print(f"parameters: {trainable:,}; FLOPs (paddle.flops' rules, 32x32): {flops / 1e6:.1f} M; not counted: {uncounted}")
print(f"a plain 3x3 conv 64 -> 64 in its place: {64 * 64 * 9:,} weights, {64 * 64 * 9 * 32 * 32 / 1e6:.1f} MFLOPs")

with paddle.no_grad():  # att_i from the hand-written module's SE scores, kernels 3, 5, 7, 9
    scores = paddle.stack([by_hand.se(getattr(by_hand, f"conv_{i}")(x)) for i in range(1, 5)], axis=1)
    attention = paddle.nn.functional.softmax(scores, axis=1).numpy()[:, ::-1, :, 0, 0]  # output order: kernel 9 first
np.testing.assert_allclose(weights.values, attention, atol=1e-6)
assert np.allclose(weights.values.sum(axis=1), 1.0, atol=1e-6)  # the scales share one unit of weight per channel
means = weights.values.mean(axis=(0, 2))
print("mean weight per kernel size:", ", ".join(f"{k}x{k} {m:.4f}" for k, m in zip(weights.kernel_sizes, means)))

# %% [markdown] en
# Untrained, the four scales get almost the same weight (0.25 each): the SE scores of a random module differ little
# between scales, and a softmax of nearly equal numbers is nearly uniform. Section 9 shows what training changes.
# %% [markdown] zh
# 未训练时四个尺度的权重几乎相同（各约 0.25）：随机初始化的模块在各尺度上的 SE 分数相差很小，而几乎相等的数做 softmax
# 得到的几乎是均匀分布。第 9 节给出训练后的变化。

# %% [markdown] en
# ## 4. The network: EPSANet-50 at 224 px
#
# The Paddle tutorial prints `paddle.Model(epsanet50()).summary((1, 3, 224, 224))` for 1000 classes: total
# 22,614,835 parameters, trainable 22,508,595. Paddle 3.x reports the same total; its "trainable" count also
# includes the batch norms' $\gamma$ and $\beta$, which the older Paddle of the tutorial left out. Those are exactly
# as many as the running means and variances (total minus trainable), so the tutorial's figure is trainable minus
# that difference; Paddle 3.x's trainable count is the one PyTorch gives (the paper's 22.56 M).
# %% [markdown] zh
# ## 4. 网络结构：224 像素输入的 EPSANet-50
#
# 飞桨教程打印了 1000 类时的 `paddle.Model(epsanet50()).summary((1, 3, 224, 224))`：总参数量 22,614,835，
# 可训练参数量 22,508,595。Paddle 3.x 给出相同的总参数量；而它的“可训练”参数量还包含了 BN 的 $\gamma$ 和 $\beta$，
# 教程所用的旧版 Paddle 没有计入这两项。它们的数量与 BN 的滑动均值和方差（总参数量减可训练参数量）恰好相等，
# 因此教程的数值等于可训练参数量再减去这个差值；Paddle 3.x 的可训练参数量与 PyTorch 的统计一致（即论文中的 22.56 M）。
# %%
net = paddle_attn.create_model("epsanet50", num_classes=1000, stem="imagenet")
counts = paddle.summary(net, (1, 3, 224, 224))
total, trainable = counts["total_params"], counts["trainable_params"]
running_statistics = total - trainable  # BN running mean + variance: as many as the BN scales + shifts
print(
    f"total {total:,}, trainable {trainable:,}; the tutorial's 'trainable' (old Paddle): {trainable - running_statistics:,}"
)
assert total == 22_614_835  # PSA tutorial (Paddle), paddle.Model(epsanet50()).summary((1, 3, 224, 224))
assert trainable - running_statistics == 22_508_595  # the same tutorial's trainable figure
flops, _ = count_flops(net, [1, 3, 224, 224])
print(f"{flops / 1e9:.3f} GFLOPs at 224 px (paddle.flops' rules; the paper: 3.62)")

# %% [markdown] en
# EPSANet-50 against ResNet-50, as the tutorial compares them, at 224 px and 1000 classes: parameters, FLOPs and
# the median forward time on this CPU, measured now by `paddle_attn.analysis.comparison.compare` (what
# `tools/compare.py` runs). Fewer FLOPs need not mean faster on a CPU: grouped convolutions with large kernels use
# the hardware less well than dense 3x3 ones.
# %% [markdown] zh
# 按教程的方式对比 EPSANet-50 与 ResNet-50（224 像素输入，1000 类）：参数量、计算量 FLOPs 以及在本机 CPU 上前向推理时间的中位数，
# 均由 `paddle_attn.analysis.comparison.compare`（即 `tools/compare.py` 所用的函数）当场测得。
# 计算量更少不一定在 CPU 上更快：大卷积核的分组卷积对硬件的利用率不如稠密的 3x3 卷积。
# %%
from paddle_attn.analysis.comparison import compare, markdown_table, registry_entries

batch, warmup, iterations = (1, 1, 1) if QUICK else (1, 1, 3)
rows = compare(registry_entries(["epsanet50", "resnet50"], 1000, "imagenet"), batch, 224, warmup, iterations, print)
display(
    Markdown(
        markdown_table(
            rows,
            f"ImageNet stem, 224x224 input, 1000 classes; forward pass, batch {batch}, median of {iterations} "
            f"on this CPU ({os.cpu_count()} cores seen, shared with whatever else runs).",
        )
    )
)
psa_row, plain_row = rows
print(
    f"EPSANet-50 / ResNet-50: parameters x{psa_row['params'] / plain_row['params']:.3f}, "
    f"FLOPs x{psa_row['flops'] / plain_row['flops']:.3f}, forward time x{psa_row['ms_per_batch'] / plain_row['ms_per_batch']:.2f}"
)

# %% [markdown] en
# ## 5. The PyTorch network, converted
#
# `torch_reference/epsanet.py` is the PyTorch tutorial's EPSANet with its tensor names and its initialization
# (convolutions $\mathcal{N}(0, \sqrt{2/n})$ with $n = k^2 \cdot C_{out}$, batch norms scale 1 and shift 0).
# One forward pass in training mode gives its batch norms running statistics other than 0 and 1, so that a
# misplaced mean or variance would show; then `convert_state_dict(..., "epsanet")` maps every tensor onto
# `paddle_attn`'s EPSANet-50, and the two networks' logits are compared: the three steps of
# `paddle_attn.convert.convert_and_compare`. The cell needs PyTorch (`pip install torch`) and the checkout's
# `torch_reference/` (not part of the installed package); it is skipped with a message without them.
# %% [markdown] zh
# ## 5. 转换 PyTorch 网络
#
# `torch_reference/epsanet.py` 是 PyTorch 教程中的 EPSANet，保留其参数名和初始化方式
# （卷积权重服从 $\mathcal{N}(0, \sqrt{2/n})$，$n = k^2 \cdot C_{out}$；BN 的缩放为 1、偏移为 0）。
# 先在训练模式下做一次前向计算，使 BN 的滑动均值和方差不再是 0 和 1，这样均值或方差映射错位就会暴露出来；
# 然后用 `convert_state_dict(..., "epsanet")` 把每个参数映射到 `paddle_attn` 的 EPSANet-50，并比较两个网络的 logits：
# 这三步即 `paddle_attn.convert.convert_and_compare`。
# 本单元需要 PyTorch（`pip install torch`）和源码目录中的 `torch_reference/`（不属于安装的包）；缺少时给出提示并跳过。
# %%
from paddle_attn.convert import convert_and_compare

missing = [name for name in ("torch", "torch_reference") if importlib.util.find_spec(name) is None]
if missing:  # torch_reference/ is in the checkout only, not in the installed package
    print(f"skipped: the conversion check needs {' and '.join(missing)} (pip install torch; run from a checkout)")
else:
    import torch

    import torch_reference

    torch.manual_seed(0)
    size = 64 if QUICK else 224
    reference = torch_reference.build("epsanet50", num_classes=10)
    parity = convert_and_compare(reference, "epsanet", image_size=size, images=2, train_passes=1)
    print(f"converted {len(reference.state_dict())} PyTorch tensors into {parity.converted.spec}")
    print(f"{size}x{size} input: max |paddle - torch| / max |torch| = {parity.relative:.1e}")
    assert parity.relative < 1e-4

# %% [markdown] en
# ## 6. Training, written out, with the tutorial's recipe
#
# The Paddle tutorial trains EPSANet-50 and ResNet-50 for 10 epochs on CIFAR-10 resized to 224 px: Adam at a constant
# 1e-3, `CrossEntropyLoss`, `Accuracy()`, batch 64, `paddle.callbacks.VisualDL`. That recipe is the built-in config
# `epsanet50_cifar10`, loaded here by name. One thing in it differs from the tutorial on purpose: the tutorial's
# `T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])` runs on pixels of 0-255 before `ToTensor`, so
# 0-1 means and stds meet 0-255 values and the inputs reach the hundreds; the config scales pixels to [0, 1] first and
# then normalizes with ImageNet's mean and std, as those numbers intend.
#
# EPSANet-50 at 224 px computes 3.6 GFLOPs per image, far too much to train here in minutes on two CPU cores, and at
# 32 px with a few hundred images it does not learn within a few epochs (an earlier version of this notebook ended
# at 0.19 top-1 on 10 classes). So the cell trains the same blocks at a depth a CPU can afford: **EPSANet with one
# EPSA block per stage** (`paddle_attn.models.ResNet(Bottleneck, (1, 1, 1, 1), conv_layer=PSAModule)`, 14 weighted
# layers, the authors' initialization `init_epsanet_weights`), registered as `epsanet14`, against **the plain
# bottleneck ResNet of the same depth** (`resnet14`), at 32 px with the ImageNet stem, on the generated 10-class shapes
# (`config.synthetic_data_overrides`, written to `output/tutorials/epsanet/`), with the same data, seed and recipe.
#
# The training is what you would write yourself: `paddle.Model(net).prepare(Adam, CrossEntropyLoss(),
# paddle.metric.Accuracy(topk=(1, 5)))` and `fit` with callbacks from `paddle_attn.training` beside Paddle's own:
# `EvalLossMean` (the eval loss over the whole test set; Paddle's log holds the last batch's), `VisualDLLogger`
# (loss, top-1, top-5 and the learning rate; `paddle.callbacks.VisualDL` logs neither the learning rate nor the
# whole-set eval loss), `attention_logger` (each stage's PSA weights per kernel size and Grad-CAM images, in the same
# log) and `CheckpointSaver` (checkpoints with `best` and `latest` links and the network's description, which
# section 9 and the export read back; `paddle.callbacks.ModelCheckpoint` saves every epoch's weights without them).
# The learning rate stays constant, as in the tutorial, so no `paddle.callbacks.LRScheduler` is needed;
# `paddle_attn.optim.build_schedule` gives warm-up and cosine when a recipe has them (the CBAM and NAM tutorials).
# `verbose=2` prints one line per epoch and one per evaluation.
# %% [markdown] zh
# ## 6. 写出训练过程：教程的训练方案
#
# 飞桨教程在缩放到 224 像素的 CIFAR-10 上训练 EPSANet-50 和 ResNet-50 各 10 个 epoch：Adam 恒定学习率 1e-3，
# `CrossEntropyLoss`，`Accuracy()`，batch 64，`paddle.callbacks.VisualDL`。这套方案即内置配置 `epsanet50_cifar10`，
# 这里按名称加载。其中有一处有意与教程不同：教程的 `T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])`
# 在 `ToTensor` 之前作用于 0-255 的像素，于是 0-1 范围的均值和标准差遇上了 0-255 的数值，输入达到几百；
# 配置先把像素缩放到 [0, 1]，再用 ImageNet 的均值和标准差归一化，这才是这些数值的本意。
#
# 224 像素时 EPSANet-50 每张图像的计算量为 3.6 GFLOPs，在两个 CPU 核上几分钟内根本训练不完；而在 32 像素、几百张图像上，
# 它几个 epoch 内学不到东西（本 notebook 的早期版本最终 top-1 只有 0.19，共 10 类）。因此这里用 CPU 负担得起的深度训练同样的模块：
# **每个 stage 只有一个 EPSA 块的 EPSANet**（`paddle_attn.models.ResNet(Bottleneck, (1, 1, 1, 1), conv_layer=PSAModule)`，
# 14 个带权重的层，采用作者的初始化 `init_epsanet_weights`），注册为 `epsanet14`；与之对比的是**同样深度的普通 bottleneck ResNet**
# （`resnet14`）。两者都用 ImageNet stem、32 像素输入，在生成的 10 类图形数据集（`config.synthetic_data_overrides`，
# 写入 `output/tutorials/epsanet/`）上训练，数据、随机种子和训练方案都相同。
#
# 训练部分就是你自己会写的代码：`paddle.Model(net).prepare(Adam, CrossEntropyLoss(), paddle.metric.Accuracy(topk=(1, 5)))`，
# 然后带回调函数调用 `fit`，除飞桨自带的回调外，其余来自 `paddle_attn.training`：`EvalLossMean`（整个测试集上的平均评估损失；
# 飞桨的日志只记录最后一个 batch 的损失）、`VisualDLLogger`（损失、top-1、top-5 和学习率；`paddle.callbacks.VisualDL`
# 既不记录学习率，也不记录整个测试集上的评估损失）、`attention_logger`（把各 stage 每种卷积核尺寸的 PSA 权重和 Grad-CAM 图像写入同一个日志）
# 以及 `CheckpointSaver`（保存带 `best` 和 `latest` 链接以及网络描述的检查点，供第 9 节和导出读取；
# `paddle.callbacks.ModelCheckpoint` 每个 epoch 保存一次权重，但没有这些信息）。学习率与教程一样保持不变，因此不需要
# `paddle.callbacks.LRScheduler`；训练方案带预热和余弦衰减时（CBAM 和 NAM 教程），由 `paddle_attn.optim.build_schedule` 给出。
# `verbose=2` 时每个 epoch 输出一行，每次评估输出一行。

# %%
from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.data.datasets import build_dataset
from paddle_attn.layers import PSAModule
from paddle_attn.models import Bottleneck, ResNet
from paddle_attn.models.epsanet import init_epsanet_weights
from paddle_attn.training import (
    CheckpointSaver,
    EvalLossMean,
    VisualDLLogger,
    attention_logger,
    describe_run,
    quiet_paddle,
    run_loaders,
)


def epsanet14(num_classes=1000, stem="imagenet"):
    """EPSANet with one EPSA block (a bottleneck whose 3x3 conv is a PSAModule) per stage."""
    return init_epsanet_weights(ResNet(Bottleneck, (1, 1, 1, 1), num_classes, stem, conv_layer=PSAModule))


def resnet14(num_classes=1000, stem="imagenet"):
    """The plain bottleneck ResNet of the same depth: one bottleneck per stage."""
    return ResNet(Bottleneck, (1, 1, 1, 1), num_classes, stem)


for name, builder in (("epsanet14", epsanet14), ("resnet14", resnet14)):
    if name not in paddle_attn.list_models():  # registered once per kernel: configs and checkpoints name them
        paddle_attn.register_model(name, builder)

# quick: a few dozen 16-px images, one epoch; full: 600 32-px images, a few epochs
train_per_class, test_per_class, epochs, batch_size, image_size = (3, 2, 1, 16, 16) if QUICK else (60, 20, 4, 32, 32)
shapes = OUT / ("shapes_quick.tar.gz" if QUICK else "shapes.tar.gz")  # one file per mode: neither rewrites the other


def recipe(model_name):
    """The built-in config epsanet50_cifar10 (the EPSANet tutorial's recipe) on the generated shapes, at 32 px."""
    shrink = [
        f"model.name={model_name}",
        f"data.image_size={image_size}",
        f"train.epochs={epochs}",
        f"train.batch_size={batch_size}",
        f"run.output_dir={OUT / model_name}",
    ]
    data = synthetic_data_overrides(shapes, train_per_class, test_per_class)  # and the set's 10 classes
    return load_config("epsanet50_cifar10", overrides=data + shrink)


def fit(config):
    """Train the config's network with paddle.Model.prepare / fit and public callbacks; returns its run folder."""
    run_dir = Path(config["run"]["output_dir"])
    shutil.rmtree(run_dir, ignore_errors=True)  # a rerun of the notebook starts afresh
    seed = config["train"]["seed"]
    paddle.seed(seed)  # the same initial draws for every network
    train_set, test_set = build_dataset(config["data"], "train", seed), build_dataset(config["data"], "test")
    # shuffled batches whose order the `seeding` callback sets each epoch from (seed, epoch)
    train_loader, test_loader, seeding = run_loaders(config["train"], config["data"], train_set, test_set)
    spec = config["model"]
    net = paddle_attn.create_model(spec["name"], num_classes=spec["num_classes"], stem=spec["stem"])

    optimizer = paddle.optimizer.Adam(learning_rate=config["lr"]["base"], parameters=net.parameters())  # 1e-3
    model = paddle.Model(net)
    model.prepare(optimizer, paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy(topk=(1, 5)))

    curves = VisualDLLogger(str(run_dir / "vdl"))
    callbacks = [
        seeding,
        EvalLossMean(),  # before the loggers: they read its whole-set eval loss
        curves,
        attention_logger(curves, test_set, config["data"], spec["num_classes"]),
        CheckpointSaver(str(run_dir), optimizer, epochs, epochs, describe_run(config, train_set)),
    ]
    with quiet_paddle():  # Paddle's BatchNorm and hapi repeat notes on every batch; nothing is wrong
        model.fit(train_loader, test_loader, epochs=epochs, verbose=2, callbacks=callbacks)
    return run_dir


config = recipe("epsanet14")
print({section: config[section] for section in ("model", "data", "optimizer", "lr", "train")})
start = time.perf_counter()
psa_dir = fit(config)
print(f"EPSANet-14 trained in {time.perf_counter() - start:.0f} s")

# %% [markdown] en
# The same data, seed and recipe for the plain ResNet of the same depth:
# %% [markdown] zh
# 用相同的数据、随机种子和训练方案训练同样深度的普通 ResNet：

# %%
start = time.perf_counter()
plain_dir = fit(recipe("resnet14"))
print(f"ResNet-14 trained in {time.perf_counter() - start:.0f} s")

# %% [markdown] en
# **The one-line route.** `train(config)` (`paddle_attn.training.train`) runs the same `prepare` / `fit` with these
# callbacks (plus resuming, data parallelism and a faster evaluation path on the CPU); from a shell it is the
# installed command `paddle-attn-train`, or `tools/train.py` in a checkout, with the config's name or path. For a
# network the package registers, such as EPSANet-50 (`epsanet14` above exists only inside this notebook's kernel):
#
# ```bash
# paddle-attn-train -c epsanet50_cifar10 -o data.dataset=synthetic -o data.image_size=32 -o train.verbose=2
# python tools/train.py -c configs/epsanet50_cifar10.yaml -o ...     # the same, from a checkout
# ```
# %% [markdown] zh
# **一行命令的方式。** `train(config)`（`paddle_attn.training.train`）用这些回调函数执行同样的 `prepare` / `fit`
# （另外支持断点续训、数据并行，以及 CPU 上更快的评估方式）；在命令行中，安装后是 `paddle-attn-train` 命令，源码目录里是
# `tools/train.py`，参数为配置的名称或路径。适用于包中注册的网络，例如 EPSANet-50（上面的 `epsanet14` 只存在于本 notebook 的内核中）：
#
# ```bash
# paddle-attn-train -c epsanet50_cifar10 -o data.dataset=synthetic -o data.image_size=32 -o train.verbose=2
# python tools/train.py -c configs/epsanet50_cifar10.yaml -o ...     # 在源码目录中，效果相同
# ```

# %% [markdown] en
# ## 7. EPSANet against plain ResNet
#
# Both runs' VisualDL logs, read back (`paddle_attn.analysis.run_logs.read_scalars`) and overlaid
# (`run_figures.plot_curves`): training loss, top-1, top-5 and learning rate per step on top, evaluation per epoch
# below. To browse the logs themselves: `visualdl --logdir output/tutorials/epsanet --language en`.
# %% [markdown] zh
# 读取两次训练的 VisualDL 日志（`paddle_attn.analysis.run_logs.read_scalars`）并叠加绘制（`run_figures.plot_curves`）：
# 上排是每一步的训练损失、top-1、top-5 和学习率，下排是每个 epoch 的评估结果。如需直接查看日志：
# `visualdl --logdir output/tutorials/epsanet --language zh`。

# %%
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import read_scalars
from paddle_attn.analysis.run_summary import final_scores

runs = {"ResNet-14": read_scalars(plain_dir), "EPSANet-14": read_scalars(psa_dir)}
display(plot_curves(runs, OUT / "curves.png"))
table, verdicts = final_scores(runs, num_classes=10)  # each run's last epoch; a verdict per run from its top-1
caption = (
    f"After {epochs} epoch(s) on {10 * train_per_class} images of {image_size} px, tested on {10 * test_per_class}."
)
display(Markdown(f"{table}\n\n{caption} Chance: top-1 0.100."))
print(verdicts)

# %% [markdown] en
# *Figure: ResNet-14 and EPSANet-14 trained on the same images with the same seed and recipe; training curves per
# step (faint: raw, solid: smoothed) on top, evaluation per epoch below; the table gives the last values.*
#
# **What the tutorial concluded, and what this run shows.** The Paddle tutorial compares the training curves of
# EPSANet-50 and ResNet-50 on CIFAR-10 and concludes that the PSA module performs best; the paper reports 77.49 %
# ImageNet top-1 for EPSANet-50 (small), above ResNet-50 in the same table, after 120 epochs. This run cannot test
# that claim: the networks have one block per stage, the images are 600 generated shapes of 32 px, and there is
# one seed and a few epochs, so a difference of a few points between the two rows is within what another seed would
# change. The lines under the table say how much each network learned.
# %% [markdown] zh
# *图：在相同图像上、以相同随机种子和训练方案训练的 ResNet-14 与 EPSANet-14；上排为每一步的训练曲线（浅色为原始值，实线为平滑后的值），
# 下排为每个 epoch 的评估结果；表格给出最后的数值。*
#
# **教程的结论与本次训练的结果。** 飞桨教程比较了 EPSANet-50 与 ResNet-50 在 CIFAR-10 上的训练曲线，结论是 PSA 模块表现最好；
# 论文报告 EPSANet-50（small）训练 120 个 epoch 后在 ImageNet 上的 top-1 为 77.49%，高于同表中的 ResNet-50。
# 本次训练无法检验这一结论：网络每个 stage 只有一个块，图像是 600 张 32 像素的生成图形，只用一个随机种子、训练几个 epoch，
# 因此两行之间几个百分点的差距，换一个随机种子就可能改变。表格下方的输出说明每个网络学到了多少。

# %% [markdown] en
# ## 8. On a GPU with the real data
#
# Not run here: this machine has no GPU and no CIFAR-10. Put
# `cifar-10-python.tar.gz` (https://www.cs.toronto.edu/~kriz/cifar.html) at `data/` and run the tutorial's recipe,
# then its ResNet-50 baseline:
#
# ```bash
# python tools/train.py -c configs/epsanet50_cifar10.yaml -o device.name=gpu
# python tools/train.py -c configs/resnet50_cifar10.yaml -o device.name=gpu
# python tools/compare.py --results output/epsanet50_cifar10 output/resnet50_cifar10 --out output/compare
# ```
#
# That is EPSANet-50 with the ImageNet stem on CIFAR-10 resized to 224 px with ImageNet's mean and std, Adam 1e-3
# (constant), batch 64, 10 epochs, 4 loader workers. The tutorials show their CIFAR-10 results only as curve images,
# without a figure in the text. The published figure is the paper's ImageNet top-1 for EPSANet-50 (small): 77.49 %,
# with SGD (momentum 0.9, LR 0.1 divided by 10 every 30 epochs), 120 epochs, batch 256, weight decay 1e-4 and label
# smoothing 0.1, which `configs/epsanet50_imagenet.yaml` holds (ImageNet under `data/imagenet/{train,val}/`):
#
# ```bash
# python tools/train.py -c configs/epsanet50_imagenet.yaml -o device.name=gpu
# ```
# %% [markdown] zh
# ## 8. 在 GPU 上使用真实数据训练
#
# 本机没有 GPU，也没有 CIFAR-10，因此这里没有运行。把
# `cifar-10-python.tar.gz`（https://www.cs.toronto.edu/~kriz/cifar.html）放到 `data/` 下，先运行教程的配方，再运行 ResNet-50 基线：
#
# ```bash
# python tools/train.py -c configs/epsanet50_cifar10.yaml -o device.name=gpu
# python tools/train.py -c configs/resnet50_cifar10.yaml -o device.name=gpu
# python tools/compare.py --results output/epsanet50_cifar10 output/resnet50_cifar10 --out output/compare
# ```
#
# 即使用 ImageNet stem 的 EPSANet-50，在缩放到 224 像素、按 ImageNet 均值和标准差归一化的 CIFAR-10 上训练：
# Adam 1e-3（恒定），batch 64，10 个 epoch，4 个数据加载进程。两篇教程都只以曲线图的形式给出 CIFAR-10 上的结果，正文中没有具体数值。
# 公开的精度是论文中 EPSANet-50（small）在 ImageNet 上的 top-1：77.49%，训练配方为 SGD（momentum 0.9，学习率 0.1，每 30 个 epoch 除以 10）、
# 120 个 epoch、batch 256、权重衰减 1e-4、标签平滑 0.1，对应 `configs/epsanet50_imagenet.yaml`（ImageNet 放在 `data/imagenet/{train,val}/` 下）：
#
# ```bash
# python tools/train.py -c configs/epsanet50_imagenet.yaml -o device.name=gpu
# ```
# %% [markdown] en
# ## 9. Inside the trained network
#
# EPSANet-14's best checkpoint, reloaded, on the first test images (also written as PNG files for section 10). EPSANet's
# picture is the softmax weight of each kernel size per stage, averaged over the images, channels and the stage's
# PSA modules: 0.25 each would mean the module mixes its four scales equally. Grad-CAM shows where the evidence for
# the predicted class lies.
# %% [markdown] zh
# ## 9. 观察训练后的网络
#
# 重新加载 EPSANet-14 的最优 checkpoint，在测试集的前几张图像上分析（这些图像同时保存为 PNG 文件，供第 10 节使用）。
# EPSANet 的可视化是每个 stage 中各卷积核尺寸的 softmax 权重，对图像、通道以及该 stage 的所有 PSA 模块取平均：
# 若四个尺度各为 0.25，说明模块对它们一视同仁。Grad-CAM 显示预测类别的依据位于图像的哪些位置。
# %%
from paddle_attn.analysis.attention_figures import plot_cam_grid, plot_scale_weights, to_display
from paddle_attn.analysis.gates import attention_maps
from paddle_attn.analysis.report import open_network
from paddle_attn.data.synthetic import CLASS_NAMES, write_image_files
from paddle_attn.inference.predict import preprocess

trained, info = open_network(psa_dir)  # the best checkpoint, in eval mode, and its preprocessing
image_dir = OUT / "images"
paths, labels = write_image_files(image_dir, 1 if QUICK else 2, seed=1)  # the test split's first (its seed: 0 + 1)
inputs, _, errors = preprocess(info, paths)
assert not errors
maps = attention_maps(trained, inputs)
print(
    f"Grad-CAM through {maps.cam_layer} ({maps.cam_size[0]}x{maps.cam_size[1]}); "
    f"{int((maps.predicted == labels).sum())} of {len(labels)} predicted right, "
    f"by a network at eval top-1 {runs['EPSANet-14']['eval/top1'][1][-1]:.3f} (chance 0.100)"
)
titles = [f"{CLASS_NAMES[t]}\n-> {CLASS_NAMES[p]}" for t, p in zip(labels, maps.predicted)]
grid = plot_cam_grid(to_display(inputs, info["transform"], info.get("mean"), info.get("std")), maps.cam, titles, 5)
grid.savefig(OUT / "gradcam.png", dpi=90)
display(grid)

by_stage = {stage: (kernels, w.mean(axis=0)) for stage, (kernels, w) in maps.stage_scale_weights().items()}
for stage, (kernels, w) in by_stage.items():
    print(f"{stage}: " + ", ".join(f"{k}x{k} {v:.3f}" for k, v in sorted(zip(kernels, w))))
display(
    plot_scale_weights(
        by_stage, f"EPSANet-14: PSA weight per kernel size, mean over {len(inputs)} images", OUT / "psa.png"
    )
)

# %% [markdown] en
# *Figures: Grad-CAM of the predicted class over the first test images (true class -> predicted class); then the
# PSA weight of each kernel size per stage, averaged over the images, channels and the stage's modules.*
#
# Compare the weights with the untrained module of section 3 (0.25 each): how far training moved them from uniform,
# and towards which kernel sizes, is what EPSANet's attention learned on these images.
# %% [markdown] zh
# *图：预测类别的 Grad-CAM，叠加在前几张测试图像上（真实类别 -> 预测类别）；然后是各 stage 每种卷积核尺寸的 PSA 权重，
# 对图像、通道以及该 stage 的所有模块取平均。*
#
# 与第 3 节未训练的模块（各 0.25）对比：训练使这些权重偏离均匀分布多远、偏向哪些卷积核尺寸，就是 EPSANet 的注意力在这些图像上学到的东西。

# %% [markdown] en
# ## 10. Export and predict
#
# The command `paddle-attn-export` (`tools/export.py` in a checkout) writes a checkpoint as Paddle's inference program
# and, with `--format onnx` (the `[onnx]` extra), as `model.onnx` for ONNX Runtime and OpenVINO. It rebuilds the
# network by its registered name in a new process, which does not know `epsanet14` (registered in this kernel only),
# so the cell calls the function the command calls, `paddle_attn.inference.write_export.export`, and `export_onnx`
# (full mode only). `paddle_attn.inference.backend_speed.time_backends` then times every backend that can run here on
# the images above (fp32, and bf16 where `paddle_attn.cpu.bf16_supported()` says this CPU computes it natively),
# fastest first, with how far each one's logits are from Paddle fp32's; the cell checks that the fp32 backends agree
# with Paddle's logits and predicts with the fastest fp32 one through `paddle-attn-infer` (`cli.run_tool("infer", ...)`),
# which needs only the exported files.
# %% [markdown] zh
# ## 10. 导出与推理
#
# `paddle-attn-export` 命令（源码目录中为 `tools/export.py`）把检查点导出为 Paddle 推理程序；加 `--format onnx`
# （需要 `[onnx]` 扩展）时还会导出 `model.onnx`，供 ONNX Runtime 和 OpenVINO 使用。该命令在新进程中按注册名重建网络，
# 而新进程不知道 `epsanet14`（只在本内核中注册），因此这里直接调用该命令所用的函数 `paddle_attn.inference.write_export.export`
# 和 `export_onnx`（仅完整模式）。然后 `paddle_attn.inference.backend_speed.time_backends` 在上述图像上为本机
# 能运行的每个推理后端计时（fp32，以及 `paddle_attn.cpu.bf16_supported()` 表明本机 CPU 原生支持时的 bf16），
# 按速度从快到慢列出，并给出各自 logits 与 Paddle fp32 的差距；检查各 fp32 后端与 Paddle 的 logits 一致，
# 然后用最快的 fp32 后端通过 `paddle-attn-infer`（`cli.run_tool("infer", ...)`）进行预测，它只需要导出的文件。
# %%
from paddle_attn.cli import run_tool
from paddle_attn.inference.backend_speed import speed_table, time_backends
from paddle_attn.inference.onnx_conversion import export_onnx
from paddle_attn.inference.write_export import export

export_dir = psa_dir / "inference"
exported = export(psa_dir, export_dir)  # what paddle-attn-export --checkpoint PSA_DIR --out EXPORT_DIR does
size = exported["image_size"]
print(f"exported {exported['model']['name']} to {export_dir}: input [N, 3, {size}, {size}]")
if importlib.util.find_spec("paddle2onnx") and not QUICK:  # the [onnx] extra; a quick run keeps to Paddle Inference
    print(f"wrote {export_onnx(export_dir)}")
rows = time_backends(export_dir, inputs, repeats=2 if QUICK else 3)
display(Markdown(speed_table(rows)))
assert all(row["difference"] < 1e-4 for row in rows if row["precision"] == "fp32")  # one program, other kernels
fastest = next(row for row in rows if row["precision"] == "fp32")  # fp32: the same numbers on every CPU
choice = ["--backend", fastest["backend"], "--precision", "fp32"]
run_tool("infer", "--model", export_dir, *choice, "--top-k", "3", image_dir)
