# %% [markdown] en
# # Channel attention: SE and ECA
#
# This tutorial writes the two channel-attention blocks, **Squeeze-and-Excitation (SE)** and **Efficient Channel
# Attention (ECA)**, in a few lines of Paddle as the papers and the ECA-Net tutorial (PyTorch) define them, checks
# them against `paddle_attn.layers`, puts ECA into a ResNet-50 exactly as the ECA-Net tutorial does, checks the
# parameter count against it, converts its PyTorch weights, trains an ECA network and the same network without
# attention on a generated data set with `prepare`/`fit` written out, looks inside the trained network, and exports
# it for prediction on the CPU.
#
# Everything runs offline on a CPU. Set `PADDLE_ATTN_TUTORIAL_QUICK=1` for a quick trial run (a few dozen images,
# one epoch: its networks do not learn, it only checks that every cell runs); without it the notebook takes a few
# minutes on two cores.
#
# **How to run it.** Every tutorial installs the same way, from the project's folder (a git clone or the unpacked
# source): `pip install -e ".[cpu,notebooks]"`.
#
# - *AI Studio*: upload the project (or `!git clone` it) into the project's files, open this notebook, run
#   `%cd` to the project's folder and `!pip install -e ".[cpu,notebooks]"` in a cell (on a GPU environment,
#   `".[notebooks]"` keeps its Paddle), then restart the kernel and run all cells.
# - *A laptop*: in the project's folder, `pip install -e ".[cpu,notebooks]" jupyterlab`, then
#   `jupyter lab docs/tutorials/en/se_eca.ipynb`.
# - *A checkout without installing it*: with Paddle installed, the first cell finds `paddle_attn` in the folders
#   above the notebook.
#
# Outputs go to `output/tutorials/se_eca/` under the folder the kernel runs in.
# %% [markdown] zh
# # 通道注意力：SE 与 ECA
#
# 本教程用几行飞桨代码按论文和 ECA-Net 教程（PyTorch 版）的定义手写两种通道注意力模块：**Squeeze-and-Excitation（SE）**
# 与 **Efficient Channel Attention（ECA）**，并与 `paddle_attn.layers` 中的实现核对；再按照 ECA-Net 教程的结构把 ECA
# 放进 ResNet-50，核对参数量，转换 PyTorch 权重；然后写出 `prepare`/`fit`，在生成的数据集上训练一个 ECA 网络和不带注意力的
# 同一网络，查看训练后网络的注意力，最后导出模型并在 CPU 上推理。
#
# 全部内容均可在 CPU 上离线运行。设置 `PADDLE_ATTN_TUTORIAL_QUICK=1` 可进行快速试运行（几十张图像，只训练 1 个 epoch：
# 这时网络学不到东西，只用来检查每个单元都能运行）；不设置时，在 2 核 CPU 上需要几分钟。
#
# **如何运行。** 所有教程的安装方式相同，在项目文件夹（git clone 得到的目录或解压后的源码）中执行：
# `pip install -e ".[cpu,notebooks]"`。
#
# - *AI Studio*：把项目上传（或用 `!git clone` 克隆）到项目文件中，打开本 notebook，在一个单元中先用 `%cd` 进入项目文件夹，
#   再运行 `!pip install -e ".[cpu,notebooks]"`（GPU 环境请用 `".[notebooks]"`，保留其自带的飞桨），然后重启内核并运行全部单元。
# - *笔记本电脑*：在项目文件夹中运行 `pip install -e ".[cpu,notebooks]" jupyterlab`，然后
#   `jupyter lab docs/tutorials/zh/se_eca.ipynb`。
# - *不安装、直接使用源码目录*：装好飞桨后，第一个单元会在 notebook 所在目录的上级目录中找到 `paddle_attn`。
#
# 输出写在内核工作目录下的 `output/tutorials/se_eca/` 中。
# %%
# paddle_attn from the environment (pip install), else from the checkout this notebook sits in
import importlib.util
import os
import sys
from pathlib import Path

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

settings = paddle_attn.apply_cpu_settings()  # a notebook is an entry point: every core, fast BLAS

import shutil
import time

import matplotlib
import matplotlib.pyplot as plt
import paddle  # paddle_attn imported it first, without Paddle's "No ccache found" warning
from IPython.display import Markdown, display

plt.switch_backend(matplotlib.get_backend())  # in Jupyter, the inline one: the figures cells return are shown
QUICK = os.environ.get("PADDLE_ATTN_TUTORIAL_QUICK") == "1"
OUT = Path("output/tutorials/se_eca")
print(f"paddle {paddle.__version__}, quick mode: {QUICK}, CPU threads: {settings['threads']}, outputs in {OUT}/")

# %% [markdown] en
# ## 1. The idea
#
# **SE** (Jie Hu, Li Shen, Gang Sun: *Squeeze-and-Excitation Networks*, CVPR 2018, arXiv:1709.01507) reweights
# the channels of a feature map $U \in \mathbb{R}^{C \times H \times W}$. It *squeezes* each channel to one
# number by global average pooling (paper eq. 2),
#
# $$z_c = \frac{1}{H W} \sum_{i=1}^{H} \sum_{j=1}^{W} u_c(i, j),$$
#
# then *excites*: a bottleneck of two fully connected layers with reduction ratio $r$ (16 here) gives one
# weight in $(0, 1)$ per channel (eq. 3), which scales that channel (eq. 4):
#
# $$s = \sigma\big(W_2\, \delta(W_1 z)\big), \quad W_1 \in \mathbb{R}^{\frac{C}{r} \times C},\ W_2 \in \mathbb{R}^{C \times \frac{C}{r}}, \qquad \tilde{x}_c = s_c\, u_c .$$
#
# $\delta$ is ReLU and $\sigma$ the sigmoid. The two layers cost $2C^2/r$ weights per block.
#
# **ECA** (Qilong Wang, Banggu Wu, Pengfei Zhu, Peihua Li, Wangmeng Zuo, Qinghua Hu: *ECA-Net: Efficient
# Channel Attention for Deep Convolutional Neural Networks*, CVPR 2020, arXiv:1910.03151) keeps the squeeze but
# drops SE's dimensionality reduction, which the authors found to hurt. Each channel's weight comes from its
# $k$ neighbours through one 1-D convolution shared by all channels:
#
# $$\omega = \sigma\big(\mathrm{C1D}_k(z)\big),$$
#
# with the kernel size chosen from the channel count (eq. 12, $\gamma = 2$, $b = 1$, $|t|_{odd}$ the odd number
# nearest $t$):
#
# $$k = \psi(C) = \left| \frac{\log_2 C}{\gamma} + \frac{b}{\gamma} \right|_{odd} .$$
#
# So an ECA block has only $k$ weights (3 to 7 in a ResNet-50), against thousands for SE.
# %% [markdown] zh
# ## 1. 原理
#
# **SE**（Jie Hu, Li Shen, Gang Sun：*Squeeze-and-Excitation Networks*，CVPR 2018，arXiv:1709.01507）对特征图
# $U \in \mathbb{R}^{C \times H \times W}$ 的各个通道重新加权。它先用全局平均池化把每个通道*压缩*（squeeze）成一个数（论文式 2）：
#
# $$z_c = \frac{1}{H W} \sum_{i=1}^{H} \sum_{j=1}^{W} u_c(i, j),$$
#
# 再进行*激励*（excitation）：由两个全连接层组成、缩减率为 $r$（此处为 16）的瓶颈结构为每个通道输出一个 $(0, 1)$ 之间的权重（式 3），
# 并用它缩放该通道（式 4）：
#
# $$s = \sigma\big(W_2\, \delta(W_1 z)\big), \quad W_1 \in \mathbb{R}^{\frac{C}{r} \times C},\ W_2 \in \mathbb{R}^{C \times \frac{C}{r}}, \qquad \tilde{x}_c = s_c\, u_c .$$
#
# 其中 $\delta$ 为 ReLU，$\sigma$ 为 sigmoid。每个模块的两层共有 $2C^2/r$ 个权重。
#
# **ECA**（Qilong Wang, Banggu Wu, Pengfei Zhu, Peihua Li, Wangmeng Zuo, Qinghua Hu：*ECA-Net: Efficient
# Channel Attention for Deep Convolutional Neural Networks*，CVPR 2020，arXiv:1910.03151）保留了压缩步骤，
# 但去掉了 SE 的降维（作者发现降维会损害效果）。每个通道的权重由其相邻的 $k$ 个通道经过一个所有通道共享的一维卷积得到：
#
# $$\omega = \sigma\big(\mathrm{C1D}_k(z)\big),$$
#
# 卷积核大小由通道数自适应确定（式 12，$\gamma = 2$，$b = 1$，$|t|_{odd}$ 表示离 $t$ 最近的奇数）：
#
# $$k = \psi(C) = \left| \frac{\log_2 C}{\gamma} + \frac{b}{\gamma} \right|_{odd} .$$
#
# 因此一个 ECA 模块只有 $k$ 个权重（在 ResNet-50 中为 3 到 7），而 SE 模块有数千个。

# %% [markdown] en
# ## 2. The blocks by hand, then the library's
#
# SE with the paper's two fully connected layers, and ECA as the ECA-Net tutorial writes it (its
# `EfficientChannelAttention`, in Paddle, named `eca_layer` as in the ECA authors' code so that it does not hide the
# library's class). Like the tutorial's, `eca_layer` returns the gate; the residual block multiplies its features by it.
# %% [markdown] zh
# ## 2. 手写 SE 与 ECA 模块，再与库中的实现对照
#
# SE 使用论文中的两个全连接层；ECA 保持 ECA-Net 教程的写法（即教程中的 `EfficientChannelAttention`，改写为飞桨，
# 按 ECA 作者代码命名为 `eca_layer`，以免遮住库中的同名类）。与教程一样，`eca_layer` 只返回门控，由残差块把特征乘以它。
# %%
import math

import paddle
import paddle.nn as nn


class SELayer(nn.Layer):
    """Squeeze-and-excitation with the paper's two fully connected layers."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2D(1)  # eq. 2, squeeze: z_c = the mean of channel c
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction),  # W_1: C -> C/r
            nn.ReLU(),  # delta
            nn.Linear(channels // reduction, channels),  # W_2: C/r -> C
            nn.Sigmoid(),  # eq. 3, excitation: s = sigma(W_2 delta(W_1 z))
        )

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        s = self.fc(self.avg_pool(x).reshape([n, c])).reshape([n, c, 1, 1])
        return x * s  # eq. 4: each channel u_c times its weight s_c


class eca_layer(nn.Layer):
    """ECA as the ECA-Net tutorial writes it: the gate omega, of shape (N, C, 1, 1)."""

    def __init__(self, c, b=1, gamma=2):
        super().__init__()
        t = int(abs((math.log(c, 2) + b) / gamma))  # eq. 12: k = |log2(C) / gamma + b / gamma| ...
        k = t if t % 2 else t + 1  # ... made odd
        self.avg_pool = nn.AdaptiveAvgPool2D(1)  # the squeeze z, as SE's
        self.conv1 = nn.Conv1D(1, 1, kernel_size=k, padding=k // 2, bias_attr=False)  # C1D_k, shared by all channels
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        y = self.avg_pool(x)  # (N, C, 1, 1)
        y = self.conv1(y.squeeze(-1).transpose([0, 2, 1]))  # (N, 1, C): the channels along the 1-D conv
        y = y.transpose([0, 2, 1]).unsqueeze(-1)  # back to (N, C, 1, 1)
        return self.sigmoid(y)  # eq. 9: omega = sigma(C1D_k(z))


# %% [markdown] en
# The library's `SqueezeExcitation` and `EfficientChannelAttention` loaded with the same weights, on a random
# tensor; the outputs must agree. Where the library differs on purpose: its SE holds two 1x1 convolutions with
# biases (the PSA tutorial's `SEWeightModule`, which EPSANet shares), the same maps as the linear layers with the
# weights stored (out, in, 1, 1) instead of (in, out), hence the transpose in the mapping; its ECA reshapes the
# pooled (N, C, 1, 1) to (N, 1, C) instead of a squeeze and two transposes (the same order in memory, no copy), and
# takes a fixed `kernel_size` per stage as the ECA authors' released ImageNet models do (3, 5, 5, 7).
# %% [markdown] zh
# 把同样的权重加载到库中的 `SqueezeExcitation` 和 `EfficientChannelAttention`，在随机张量上运行，输出必须一致。
# 库的实现有意不同之处：其 SE 使用两个带偏置的 1x1 卷积（即 PSA 教程中的 `SEWeightModule`，EPSANet 也共用它），
# 与全连接层是同样的映射，只是权重按 (out, in, 1, 1) 而不是 (in, out) 存放，因此映射时要转置；其 ECA 把池化后的
# (N, C, 1, 1) 直接 reshape 为 (N, 1, C)，而不是 squeeze 再转置两次（内存中的顺序相同，无需拷贝），并且可以像
# ECA 作者发布的 ImageNet 模型那样为每个 stage 固定 `kernel_size`（3、5、5、7）。
# %%
import numpy as np

from paddle_attn.layers import EfficientChannelAttention, SqueezeExcitation
from paddle_attn.layers.eca import eca_kernel_size

paddle.seed(0)
channels, size = 256, 8
x = paddle.randn([2, channels, size, size])

se_by_hand, se = SELayer(channels), SqueezeExcitation(channels, reduction=16)
fc1, fc2 = se_by_hand.fc[0], se_by_hand.fc[2]
se.set_state_dict(  # linear (in, out) -> 1x1 convolution (out, in, 1, 1)
    {
        "se.fc1.weight": fc1.weight.T.reshape([-1, channels, 1, 1]),
        "se.fc1.bias": fc1.bias,
        "se.fc2.weight": fc2.weight.T.reshape([channels, -1, 1, 1]),
        "se.fc2.bias": fc2.bias,
    }
)
np.testing.assert_allclose(se(x).numpy(), se_by_hand(x).numpy(), rtol=1e-5, atol=1e-6)

eca_by_hand, eca = eca_layer(channels), EfficientChannelAttention(channels)
assert eca.kernel_size == eca_by_hand.conv1.weight.shape[-1] == eca_kernel_size(channels), "k = psi(C), eq. 12"
eca.set_state_dict({"conv.weight": eca_by_hand.conv1.weight})
np.testing.assert_allclose(eca.gate(x).numpy(), eca_by_hand(x).numpy(), rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(eca(x).numpy(), (x * eca_by_hand(x)).numpy(), rtol=1e-5, atol=1e-6)  # out * ECA_out
print(f"SE and ECA (k = {eca.kernel_size} at C = {channels}): the library's outputs equal the hand-written blocks'")

# %% [markdown] en
# What the two blocks cost and compute: parameters from `paddle_attn.analysis.count_params`, FLOPs from `count_flops`
# (Paddle's `paddle.flops` rules: the sigmoid and the product with the gate count zero), and the two gates over the
# channels of the random input.
# %% [markdown] zh
# 两个模块的开销和计算结果：参数量由 `paddle_attn.analysis.count_params` 统计，计算量 FLOPs 由 `count_flops` 统计
# （采用 `paddle.flops` 的规则：sigmoid 和与门控相乘的操作计为 0），并画出随机输入上两种门控在各通道上的值。
# %%
from paddle_attn.analysis import count_flops, count_params

blocks = {"SE (r=16)": se, "ECA": eca}  # the library's blocks of the cell above, with random weights
gates = {}
for name, block in blocks.items():
    block.eval()
    y = block(x)
    gate = block.gate(x)
    gates[name] = gate.numpy()[0, :, 0, 0]
    params = count_params(block)[1]
    flops = count_flops(block, [1, channels, size, size])[0]
    assert np.allclose(y.numpy(), (x * gate).numpy(), atol=1e-6)  # the block's output is input x gate
    print(
        f"{name:10s} input {list(x.shape)} -> output {list(y.shape)}, gate {list(gate.shape)}, "
        f"{params:,} parameters, {flops:,} FLOPs, gate in [{gate.min().item():.3f}, {gate.max().item():.3f}]"
    )

# SE eq. 3: two 1x1 convs C -> C/r -> C with biases; ECA: one bias-free 1-D kernel of size k = psi(C)
assert count_params(blocks["SE (r=16)"])[1] == 2 * channels * channels // 16 + channels // 16 + channels
assert count_params(blocks["ECA"])[1] == eca_kernel_size(channels)
se_params, eca_params = (count_params(block)[1] for block in blocks.values())
print(f"SE holds {se_params / eca_params:.0f} times the parameters of ECA at C = {channels}")
print("ECA kernel size k = psi(C):", {c: eca_kernel_size(c) for c in (64, 128, 256, 512, 1024, 2048)})

figure, axes = plt.subplots(figsize=(10, 3))
for name, values in gates.items():
    axes.plot(values, label=name, linewidth=1)
axes.set_xlabel("channel")
axes.set_ylabel("gate value")
axes.set_title(f"gates of one random {channels}x{size}x{size} input (random weights)")
axes.legend()
plt.show()

# %% [markdown] en
# *Figure: the SE and ECA gate of each of the 256 channels for one random input, with random weights.*
#
# With random weights both gates stay near 0.5 and look alike. They differ in what they can learn: each ECA
# value sees the averages of only $k$ neighbouring channels (5 here, for 256 channels), each SE value those of
# all 256 through the bottleneck, with far more parameters (the ratio is printed above).
# %% [markdown] zh
# *图：随机权重下，一个随机输入的 256 个通道上 SE 和 ECA 的门控值。*
#
# 在随机权重下，两种门控值都在 0.5 附近，看起来相差不大。二者的区别在于能学到什么：ECA 的每个门控值只看到相邻 $k$ 个通道的均值
# （256 个通道时 $k$ 为 5），而 SE 的每个门控值通过瓶颈结构看到全部 256 个通道的均值，参数量也多得多（比值见上面的输出）。

# %% [markdown] en
# ## 3. The network: ECA-ResNet-50 of the ECA-Net tutorial
#
# The ECA-Net tutorial builds ResNet-50 with the CIFAR stem (one 3x3 convolution, no max-pool), ECA after
# the last BatchNorm of every bottleneck, 1000 classes; torchinfo counts 25,549,438 parameters.
# `paddle.summary` counts the same as trainable, and BatchNorm's running mean and variance on top as total.
# The counts do not depend on the input size, so we summarise at 32x32 (the tutorial used 224x224).
# %% [markdown] zh
# ## 3. 网络：ECA-Net 教程中的 ECA-ResNet-50
#
# ECA-Net 教程使用 CIFAR stem（一个 3x3 卷积，无最大池化）构建 ResNet-50，在每个瓶颈块的最后一个 BatchNorm
# 之后加入 ECA，类别数为 1000；torchinfo 统计的参数量为 25,549,438。`paddle.summary` 的可训练参数量（trainable）与之相同，
# 总参数量（total）另外包含 BatchNorm 的滑动均值和方差。参数量与输入尺寸无关，因此这里用 32x32 的输入（原教程为 224x224）。

# %%
net = paddle_attn.create_model("resnet50_eca", num_classes=1000, stem="cifar")
counts = paddle.summary(net, (1, 3, 32, 32))
print(f"total {int(counts['total_params']):,}, trainable {int(counts['trainable_params']):,}")
assert counts["trainable_params"] == 25_549_438  # the ECA-Net tutorial's torchinfo count (seed 002)
assert counts["total_params"] == 25_602_558  # plus BatchNorm's running statistics (README's table)

# %% [markdown] en
# The same network with SE, and without attention, side by side: parameters, FLOPs per 32x32 image and
# the CPU time of a forward pass, measured here with `paddle_attn.analysis.comparison` (what
# `tools/compare.py` runs).
# %% [markdown] zh
# 下面把同一网络的 SE 版本和无注意力版本放在一起比较：参数量、每张 32x32 图像的计算量 FLOPs，以及在本机 CPU 上前向计算的耗时，
# 由 `paddle_attn.analysis.comparison`（即 `tools/compare.py` 所用的代码）测得。

# %%
from paddle_attn.analysis import comparison

batch, warmup, iterations = (2, 0, 1) if QUICK else (16, 1, 3)
entries = comparison.registry_entries(["resnet50", "resnet50_se", "resnet50_eca"], 1000, "cifar")
rows = comparison.compare(entries, batch, 32, warmup, iterations, progress=print)
caption = (
    f"Forward pass on this CPU ({settings['threads']} threads): batch {batch}, 3x32x32, eval mode, "
    f"median of {iterations} timed passes. Params: trainable."
)
display(Markdown(comparison.markdown_table(rows, caption)))
by_name = {row["network"]: row for row in rows}
extra = {name: by_name[name]["params"] - by_name["resnet50"]["params"] for name in ("resnet50_se", "resnet50_eca")}
print(f"parameters added to ResNet-50: SE {extra['resnet50_se']:,}, ECA {extra['resnet50_eca']:,}")

# %% [markdown] en
# ## 4. From the PyTorch tutorial's network to Paddle
#
# `torch_reference/eca_tutorial.py` holds the ECA-Net tutorial's PyTorch network with its tensor names.
# `paddle_attn.convert.convert_and_compare(torch_net, "eca_tutorial", ...)` first moves the BatchNorm statistics away
# from 0 and 1 by a few training-mode passes, so that a wrongly mapped statistic would show, then maps every tensor
# onto `resnet50_eca` with `convert_state_dict` (an unmapped or misshapen tensor is an error) and runs both networks
# on the same random images: their logits must agree. This cell needs PyTorch (`pip install torch`) and the
# project's checkout (`torch_reference/` is not part of the package); it is skipped without them.
# %% [markdown] zh
# ## 4. 从 PyTorch 教程的网络转换到 Paddle
#
# `torch_reference/eca_tutorial.py` 中是 ECA-Net 教程的 PyTorch 网络（保留其参数名）。
# `paddle_attn.convert.convert_and_compare(torch_net, "eca_tutorial", ...)` 先在训练模式下前向几次，使 BatchNorm 的统计量
# 偏离 0 和 1，以便让映射错误的统计量能够暴露出来；再用 `convert_state_dict` 把每个张量映射到 `resnet50_eca`
# （无法映射或形状不符的张量会报错），并让两个网络在相同的随机图像上运行：两者输出的 logits 必须一致。
# 本单元需要 PyTorch（`pip install torch`）和项目源码目录（`torch_reference/` 不在安装包中），缺少时跳过。

# %%
if importlib.util.find_spec("torch") is None:
    print("PyTorch is not installed: the conversion check is skipped (pip install torch to run it)")
elif importlib.util.find_spec("torch_reference") is None:
    print(
        "torch_reference (the tutorial's PyTorch network) comes with a checkout of the project, not with the package:"
    )
    print("the conversion check is skipped (run the notebook from a git clone to see it)")
else:
    import torch

    from paddle_attn.convert import convert_and_compare
    from torch_reference.eca_tutorial import resnet_eca

    torch.manual_seed(0)
    parity = convert_and_compare(
        resnet_eca(50, num_classes=1000), "eca_tutorial", image_size=32, images=4, train_passes=3
    )
    print(f"converted to {parity.converted.spec}; max |paddle - torch| / max |torch|: {parity.relative:.2e}")
    assert parity.relative < 1e-5 and parity.same_top1

# %% [markdown] en
# ## 5. Training, written out
#
# The ECA-Net tutorial gives no training recipe; `paddle_attn` trains SE, ECA and CBAM ResNets with the NAM
# tutorial's CIFAR recipe (the config `resnet50_eca_cifar100`: Momentum 0.9, weight decay 5e-4, a linear warm-up
# then a cosine decay, top-1 and top-5). The cell writes that recipe out as one `paddle.Model(net).prepare(...)` and
# one `.fit(...)`, for ECA-ResNet-18 and then, the same way, for the plain ResNet-18, with the library's public pieces:
#
# - `paddle_attn.training.run_loaders`: the loaders of the config's data, and `seeding`, the callback that reshuffles
#   them and draws new augmentations every epoch;
# - `paddle_attn.optim.build_schedule`: the warm-up and cosine counted in batches, stepped after every batch by
#   Paddle's own `paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)`;
# - `VisualDLLogger` in place of `paddle.callbacks.VisualDL`: loss, top-1, top-5 and the learning rate every batch,
#   and the eval loss over the whole test set from `EvalLossMean` (Paddle's is the last batch's); `attention_logger`
#   adds the gates as histograms and Grad-CAM images to the same log;
# - `CheckpointSaver` in place of `paddle.callbacks.ModelCheckpoint`: `epoch_NNNN` folders with `best` and `latest`
#   links, and, with `describe_run`, what `open_network` and the export tool need to rebuild the network;
# - `quiet_paddle`: without the warnings Paddle gives at every run.
#
# What a CPU run of a few minutes changes: the generated 10-class shapes (`config.synthetic_data_overrides`, written
# under `output/tutorials/se_eca/`) instead of CIFAR-100; ResNet-18 with the ImageNet stem at 32 px as in the quick
# start (ResNet-50 with the CIFAR stem is about 16 times more work per image); a few epochs, batch 64, LR 0.05 and a
# short warm-up. Both networks start from the same seed and see the same batches.
#
# Progress is one line per epoch (`verbose=2`, `log_freq` one epoch). The first epoch's eval loss can be large:
# in eval mode the batch norms use their running statistics, which after one short epoch (a few dozen updates with
# momentum 0.9) still hold much of their starting mean 0 and variance 1; they catch up over the next epochs.
# %% [markdown] zh
# ## 5. 写出训练过程
#
# ECA-Net 教程没有给出训练方案；`paddle_attn` 使用 NAM 教程的 CIFAR 训练方案训练 SE、ECA 和 CBAM 的 ResNet
# （配置 `resnet50_eca_cifar100`：Momentum 0.9，权重衰减 5e-4，线性预热后余弦衰减，评估 top-1 和 top-5）。
# 下面的单元把这套方案写成一次 `paddle.Model(net).prepare(...)` 和一次 `.fit(...)`，先训练 ECA-ResNet-18，
# 再以同样方式训练原始 ResNet-18，使用库中公开的组件：
#
# - `paddle_attn.training.run_loaders`：按配置的数据部分构建数据加载器，并返回 `seeding` 回调，每个 epoch 重新打乱顺序、
#   重新抽取数据增强；
# - `paddle_attn.optim.build_schedule`：以 batch 为单位的预热和余弦衰减，由飞桨自带的
#   `paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)` 在每个 batch 后更新；
# - 用 `VisualDLLogger` 代替 `paddle.callbacks.VisualDL`：每个 batch 记录损失、top-1、top-5 和学习率，并记录
#   `EvalLossMean` 给出的整个测试集上的评估损失（飞桨自带的只是最后一个 batch 的损失）；`attention_logger` 把门控直方图和
#   Grad-CAM 图像写入同一个日志；
# - 用 `CheckpointSaver` 代替 `paddle.callbacks.ModelCheckpoint`：保存 `epoch_NNNN` 目录及 `best`、`latest` 链接，
#   配合 `describe_run` 记录 `open_network` 和导出工具重建网络所需的信息；
# - `quiet_paddle`：屏蔽飞桨每次训练都会给出的警告。
#
# 为了在 CPU 上几分钟内跑完所做的改动：用程序生成的 10 类图形数据集（`config.synthetic_data_overrides`，写在
# `output/tutorials/se_eca/` 下）代替 CIFAR-100；与快速开始相同，使用 ImageNet stem、32 像素输入的 ResNet-18
# （CIFAR stem 的 ResNet-50 每张图像的计算量约为其 16 倍）；只训练几个 epoch，batch 64，学习率 0.05，较短的预热。
# 两个网络使用相同的随机种子，看到相同的 batch。
#
# 训练进度每个 epoch 输出一行（`verbose=2`，`log_freq` 为一个 epoch）。第一个 epoch 的评估损失可能很大：
# 推理模式下 BN 使用滑动统计量，而一个很短的 epoch 之后（动量 0.9，只更新了几十次）这些统计量仍有很大一部分是初始的
# 均值 0 和方差 1；之后几个 epoch 会逐渐跟上。
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

train_per_class, test_per_class, epochs, batch_size = (3, 2, 1, 16) if QUICK else (120, 30, 6, 64)
shapes = OUT / f"shapes_{train_per_class}_{test_per_class}.tar.gz"  # one file per size: both modes keep theirs
overrides = [
    "model.stem=imagenet",
    *synthetic_data_overrides(shapes, train_per_class, test_per_class),
    f"train.epochs={epochs}",
    f"train.batch_size={batch_size}",
]


def fit(model_name, run_dir):
    """The recipe's prepare and fit for `model_name`, with the library's callbacks, into `run_dir`."""
    config = load_config("resnet50_eca_cifar100", overrides=[f"model.name={model_name}", *overrides])
    seed = config["train"]["seed"]
    train_set, test_set = (build_dataset(config["data"], split, seed) for split in ("train", "test"))
    train_loader, test_loader, seeding = run_loaders(config["train"], config["data"], train_set, test_set)
    paddle.seed(seed)  # the same start for both networks
    net = paddle_attn.create_model(model_name, num_classes=10, stem="imagenet")
    scheduler = build_schedule(0.05, epochs * len(train_loader), len(train_loader), warmup_steps=10)
    optimizer = paddle.optimizer.Momentum(
        learning_rate=scheduler, momentum=0.9, parameters=net.parameters(), weight_decay=5e-4
    )
    model = paddle.Model(net)
    model.prepare(optimizer, paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy(topk=(1, 5)))
    curves = VisualDLLogger(str(run_dir / "vdl"), scheduler)  # paddle.callbacks.VisualDL, with the LR
    callbacks = [
        seeding,
        paddle.callbacks.LRScheduler(by_step=True, by_epoch=False),
        EvalLossMean(),  # before the two below, which read its mean eval loss
        curves,
        attention_logger(curves, test_set, config["data"], num_classes=10, every=epochs),
        CheckpointSaver(str(run_dir), optimizer, 1, epochs, describe_run(config, train_set)),  # ModelCheckpoint
    ]
    shutil.rmtree(run_dir, ignore_errors=True)  # a rerun of the notebook starts afresh
    start = time.perf_counter()
    with quiet_paddle():
        model.fit(train_loader, test_loader, epochs=epochs, verbose=2, log_freq=len(train_loader), callbacks=callbacks)
    print(f"{model_name}: {time.perf_counter() - start:.0f} s\n")


runs = {"ECA-ResNet-18": ("resnet18_eca", OUT / "resnet18_eca"), "ResNet-18": ("resnet18", OUT / "resnet18")}
for model_name, run_dir in runs.values():
    fit(model_name, run_dir)

# %% [markdown] en
# The one-line route runs the same pieces from the config (`paddle_attn.training.train`; its evaluation goes through
# Paddle Inference, the fast path on a CPU). From any folder once the package is installed (`python tools/train.py`
# takes the same arguments in a checkout):
#
# ```bash
# paddle-attn-train -c resnet50_eca_cifar100 -o model.name=resnet18_eca model.stem=imagenet model.num_classes=10 \
#     data.dataset=synthetic data.synthetic_train_per_class=120 data.synthetic_test_per_class=30 data.num_workers=0 \
#     train.epochs=6 train.batch_size=64 lr.base=0.05 lr.warmup_steps=10 train.verbose=2 run.output_dir=output/eca_cli
# ```
#
# ## 5.1 ECA against the plain network
#
# The ECA paper compares ECA-Net with ResNet-50 and SE-ResNet-50 on ImageNet (below); the ECA-Net tutorial trains
# nothing. Here the two networks trained above, their curves read back from their VisualDL logs
# (`paddle_attn.analysis.run_figures.plot_curves`) and their final figures. A difference of a few points after a
# few epochs on a thousand-odd generated images is within what another seed gives; in quick mode neither network
# learns anything.
# %% [markdown] zh
# 一行命令的方式从配置运行同样的组件（`paddle_attn.training.train`；其评估通过 Paddle Inference 进行，这是 CPU 上较快的方式）。
# 安装本包后可在任意目录运行（在源码目录中 `python tools/train.py` 接受相同的参数）：
#
# ```bash
# paddle-attn-train -c resnet50_eca_cifar100 -o model.name=resnet18_eca model.stem=imagenet model.num_classes=10 \
#     data.dataset=synthetic data.synthetic_train_per_class=120 data.synthetic_test_per_class=30 data.num_workers=0 \
#     train.epochs=6 train.batch_size=64 lr.base=0.05 lr.warmup_steps=10 train.verbose=2 run.output_dir=output/eca_cli
# ```
#
# ## 5.1 ECA 与原始网络对比
#
# ECA 论文在 ImageNet 上比较了 ECA-Net 与 ResNet-50、SE-ResNet-50（见下文）；ECA-Net 教程没有进行训练。
# 下面是上面训练的两个网络：从它们的 VisualDL 日志读出的曲线（`paddle_attn.analysis.run_figures.plot_curves`）和最终结果。
# 在一千多张生成图像上训练几个 epoch 后相差几个百分点，也在换一个随机种子就会出现的范围之内；快速试运行模式下两个网络都学不到东西。
# %%
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import read_scalars

scalars = {label: read_scalars(run_dir) for label, (_, run_dir) in runs.items()}
display(plot_curves(scalars, OUT / "curves.png"))
table = [
    "| network | eval top-1 (last) | eval top-1 (best) | eval top-5 (last) | train top-1 (last) |",
    "| --- | ---: | ---: | ---: | ---: |",
]
for label, tags in scalars.items():
    last = {tag: values[-1] for tag, (_, values) in tags.items()}
    table.append(
        f"| {label} | {last['eval/top1']:.3f} | {max(tags['eval/top1'][1]):.3f} | "
        f"{last['eval/top5']:.3f} | {last['train/top1']:.3f} |"
    )
caption = f"{epochs} epochs, {10 * train_per_class} training and {10 * test_per_class} test images, 10 classes"
display(Markdown("\n".join(table) + f"\n\n{caption} (chance: top-1 0.100)."))

# %% [markdown] en
# *Figure: top row, the train loss, top-1, top-5 and learning rate of both networks per batch; bottom row, the eval
# top-1, top-5 and loss per epoch.*
#
# **On the real data set, with a GPU** (not run here: this machine has no GPU). The tutorial's network and
# recipe on CIFAR-100 (put `cifar-100-python.tar.gz` into `data/`; 300 epochs, batch 256):
#
# ```bash
# paddle-attn-train -c resnet50_eca_cifar100 -o device.name=gpu
# paddle-attn-train -c resnet50_se_cifar100 -o device.name=gpu # SE, for comparison
# paddle-attn-train -c resnet50_cifar100 -o device.name=gpu      # no attention
# ```
#
# The papers report ImageNet results, not CIFAR ones. ECA-Net-50 on ImageNet: **77.48 % top-1** in the
# paper (ResNet-50 75.20 % and SE-ResNet-50 76.71 % in its table), 77.42 % for the authors' released
# `eca_resnet50_k3557`. That recipe (SGD momentum 0.9, LR 0.1 divided by 10 every 30 epochs, 100 epochs,
# weight decay 1e-4, batch 256, random-resized crops of 224 px, kernel sizes 3, 5, 5, 7 per stage) is
# the config `resnet50_eca_imagenet`:
#
# ```bash
# paddle-attn-train -c resnet50_eca_imagenet -o device.name=gpu
# ```
# %% [markdown] zh
# *图：上排为两个网络每个 batch 的训练损失、top-1、top-5 和学习率；下排为每个 epoch 的评估 top-1、top-5 和损失。*
#
# **在真实数据集和 GPU 上训练**（本机没有 GPU，此处未运行）。教程网络与训练方案在 CIFAR-100 上的命令如下
# （把 `cifar-100-python.tar.gz` 放到 `data/` 下；300 个 epoch，batch 256）：
#
# ```bash
# paddle-attn-train -c resnet50_eca_cifar100 -o device.name=gpu
# paddle-attn-train -c resnet50_se_cifar100 -o device.name=gpu # SE，用于对比
# paddle-attn-train -c resnet50_cifar100 -o device.name=gpu      # 无注意力
# ```
#
# 论文报告的是 ImageNet 而非 CIFAR 上的结果。ECA-Net-50 在 ImageNet 上：论文中 **top-1 为 77.48%**
# （同表中 ResNet-50 为 75.20%，SE-ResNet-50 为 76.71%），作者发布的 `eca_resnet50_k3557` 为 77.42%。
# 对应的训练方案（SGD momentum 0.9，学习率 0.1、每 30 个 epoch 除以 10，共 100 个 epoch，权重衰减 1e-4，batch 256，
# 224 像素随机缩放裁剪，各 stage 的卷积核大小为 3、5、5、7）即 配置 `resnet50_eca_imagenet`：
#
# ```bash
# paddle-attn-train -c resnet50_eca_imagenet -o device.name=gpu
# ```

# %% [markdown] en
# ## 6. Looking inside the trained network
#
# `paddle_attn.analysis.attention_maps` runs test images through the network once and records the gate
# every ECA block multiplied by, plus Grad-CAM of the predicted class. The test images are written as PNG
# files first (section 7 predicts them too) and read back with the checkpoint's own preprocessing. These are the
# pictures of the ECA network trained above, at the eval top-1 the cell prints (chance is 0.100): in full mode it
# has learned the shapes, in quick mode it has not, and its figures then show an untrained network.
# %% [markdown] zh
# ## 6. 查看训练后网络的注意力
#
# `paddle_attn.analysis.attention_maps` 让测试图像经过网络一次，记录每个 ECA 模块实际相乘的门控值，
# 并计算预测类别的 Grad-CAM。测试图像先保存为 PNG 文件（第 7 节也会用它们做推理），再按检查点自身的预处理方式读回。
# 这些图来自上面训练的 ECA 网络，其评估 top-1 由单元打印（随机猜测为 0.100）：完整模式下网络已学会识别这些图形，
# 快速试运行模式下则没有，此时的图展示的是未经训练的网络。

# %%
from paddle_attn.analysis.attention_figures import plot_cam_grid, plot_gate_distributions, to_display
from paddle_attn.analysis.gates import attention_maps
from paddle_attn.analysis.report import open_network
from paddle_attn.data.synthetic import CLASS_NAMES, write_image_files
from paddle_attn.inference.predict import preprocess

image_dir = OUT / "images"
paths, labels = write_image_files(image_dir, 1 if QUICK else 2, seed=1)  # the test split's first images (seed 1)

run_dir = runs["ECA-ResNet-18"][1]
trained, info = open_network(str(run_dir))  # the best checkpoint, in eval mode, and its preprocessing
print(f"the best checkpoint's eval top-1: {max(scalars['ECA-ResNet-18']['eval/top1'][1]):.3f} (chance 0.100)")
inputs, _, _ = preprocess(info, paths)
maps = attention_maps(trained, inputs)
print(
    f"{len(maps.gates)} ECA gates recorded; Grad-CAM through {maps.cam_layer} ({maps.cam_size[0]}x{maps.cam_size[1]})"
)
shown = to_display(inputs, info["transform"], info["mean"], info["std"])
titles = [f"{CLASS_NAMES[t]}\n-> {CLASS_NAMES[p]}" for t, p in zip(labels, maps.predicted)]
display(plot_cam_grid(shown[:8], maps.cam[:8], titles[:8], columns=4))

channel_values = {stage: values.ravel() for stage, values in maps.gate_values("channel").items()}
display(
    plot_gate_distributions({"channel": channel_values}, "ECA gate values per stage (test images)", OUT / "gates.png")
)

# %% [markdown] en
# *Figures: the test images with the Grad-CAM of the predicted class (title: true class -> predicted class); then
# the ECA gate values of each stage over the test images.*
#
# Each violin shows the values of the ECA gates of one stage over the test images: where a stage's gates
# spread away from 0.5, its channels are being switched up and down per image.
# %% [markdown] zh
# *图：测试图像及预测类别的 Grad-CAM（标题：真实类别 -> 预测类别）；其后为各 stage 的 ECA 门控值在测试图像上的分布。*
#
# 每个小提琴图表示一个 stage 中 ECA 门控值在测试图像上的分布：门控值越偏离 0.5，说明该 stage 的通道越会随图像被增强或抑制。

# %% [markdown] en
# ## 7. Export and predict
#
# `paddle-attn-export` (`tools/export.py` in a checkout; `paddle_attn.cli.run_tool` runs either from a notebook)
# writes the trained checkpoint as Paddle's inference program and, with `--format onnx` (skipped in quick mode, where
# the conversion alone takes several seconds), as `model.onnx`; `paddle-attn-infer` predicts image files with Paddle Inference, ONNX Runtime or OpenVINO.
# First the export; then `paddle_attn.inference.backend_speed` lists the backends that can run it here
# (`runnable_backends`: fp32, and bf16 where `paddle_attn.cpu.bf16_supported()` says the CPU has it) and times each
# on one batch (`time_backends`: images/s, and how far its logits are from Paddle fp32's); the fastest one
# predicts the images.
# %% [markdown] zh
# ## 7. 导出与推理
#
# `paddle-attn-export`（源码目录中为 `tools/export.py`；在 notebook 中用 `paddle_attn.cli.run_tool` 运行）把训练得到的检查点
# 导出为 Paddle 推理程序，加上 `--format onnx` 时（快速试运行模式下跳过，仅转换就要好几秒）还会导出 `model.onnx`；
# `paddle-attn-infer` 可使用 Paddle Inference、ONNX Runtime 或 OpenVINO 对图像文件进行推理。先导出模型，
# 再由 `paddle_attn.inference.backend_speed` 列出本机能运行它的后端（`runnable_backends`：fp32，以及
# `paddle_attn.cpu.bf16_supported()` 表明 CPU 支持时的 bf16），并在一个 batch 上逐一计时（`time_backends`：
# 每秒图像数，以及 logits 与 Paddle fp32 的差距）；最后用最快的后端对图像进行预测。

# %%
from paddle_attn.cli import run_tool

formats = ["--format", "onnx"] if importlib.util.find_spec("paddle2onnx") and not QUICK else []  # the [onnx] extra
run_tool("export", "--checkpoint", run_dir, "--out", run_dir / "inference", *formats)

# %%
from paddle_attn.inference.backend_speed import runnable_backends, speed_table, time_backends

print("runnable here:", runnable_backends(run_dir / "inference"))
batch_images = np.resize(inputs, (8 if QUICK else 64, *inputs.shape[1:]))  # one batch: the test images repeated
quick_pairs = [("paddle", "fp32")] if QUICK else None  # quick mode: one backend; else all that run here
rows = time_backends(run_dir / "inference", batch_images, repeats=2 if QUICK else 7, pairs=quick_pairs)
display(Markdown(speed_table(rows)))

# %%
choice = ["--backend", rows[0]["backend"], "--precision", rows[0]["precision"]]  # rows[0]: the fastest
run_tool("infer", "--model", run_dir / "inference", *choice, "--top-k", "3", image_dir)

# %% [markdown] en
# Each line is one image: its file name (which holds the true class) and the three most likely classes
# with their probabilities. The same command works on your own images and on any checkpoint trained above.
# %% [markdown] zh
# 每行对应一张图像：文件名（包含真实类别）以及概率最高的三个类别和对应概率。同样的命令也适用于你自己的图像以及上面训练得到的任何检查点。
