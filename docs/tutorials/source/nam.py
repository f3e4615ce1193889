# %% [markdown] en
# # NAM: normalization-based attention with paddle_attn
#
# This notebook follows the NAM tutorial (a PaddlePaddle project that adds NAM to a CIFAR-stem ResNet-50, trains
# it on CIFAR-100 beside the plain ResNet-50 and compares the two): the block written out in Paddle and checked
# against `paddle_attn.layers`, the network and its parameter counts, the tutorial's `prepare`/`fit` written out
# with the library's callbacks, NAM against the plain network on the same data, what the trained attention looks
# like, export and prediction on this CPU, and, beyond the tutorial, network slimming: the batch norm scales NAM
# reads as importance used to prune channels. Every figure shown below is computed when the notebook runs.
#
# It runs offline on a CPU: training uses a generated data set of coloured shapes instead of CIFAR-100.
# Set `PADDLE_ATTN_TUTORIAL_QUICK=1` for a quick trial run (a few dozen images, one epoch, fewer timing repeats:
# its networks do not learn, it only checks that every cell runs).
#
# **How to run it.** Every tutorial installs the same way, from the project's folder (a git clone or the unpacked
# source): `pip install -e ".[cpu,notebooks]"`.
#
# - *AI Studio*: upload the project (or `!git clone` it) into the project's files, open this notebook, run
#   `%cd` to the project's folder and `!pip install -e ".[cpu,notebooks]"` in a cell (on a GPU environment,
#   `".[notebooks]"` keeps its Paddle), then restart the kernel and run all cells.
# - *A laptop*: in the project's folder, `pip install -e ".[cpu,notebooks]" jupyterlab`, then
#   `jupyter lab docs/tutorials/en/nam.ipynb`.
# - *A checkout without installing it*: with Paddle installed, the first cell finds `paddle_attn` in the folders
#   above the notebook.
#
# Outputs go to `output/tutorials/nam/` under the folder the kernel runs in.
# %% [markdown] zh
# # NAM：基于归一化的注意力机制（paddle_attn 实践）
#
# 本教程对应 NAM 的飞桨复现项目（在 CIFAR stem 的 ResNet-50 中加入 NAM，在 CIFAR-100 上与原始 ResNet-50 一起训练并比较）：
# 用飞桨手写 NAM 模块并与 `paddle_attn.layers` 中的实现核对，网络结构及其参数量，用库中的回调（callback）写出教程的
# `prepare`/`fit` 训练过程，在同一数据上比较 NAM 与原始网络，训练后注意力的可视化，在本机 CPU 上的模型导出与推理，
# 以及教程之外的网络瘦身（network slimming）：用 NAM 视为重要性的 BN 缩放因子来剪除通道。
# 下文展示的所有数值都由 notebook 运行时计算得出。
#
# 整个流程可离线在 CPU 上运行：训练使用程序生成的彩色图形数据集，而不是 CIFAR-100。
# 设置 `PADDLE_ATTN_TUTORIAL_QUICK=1` 可进行快速试运行（几十张图像、1 个 epoch、更少的计时重复次数：
# 这时网络学不到东西，只用来检查每个单元都能运行）。
#
# **如何运行。** 所有教程的安装方式相同，在项目文件夹（git clone 得到的目录或解压后的源码）中执行：
# `pip install -e ".[cpu,notebooks]"`。
#
# - *AI Studio*：把项目上传（或用 `!git clone` 克隆）到项目文件中，打开本 notebook，在一个单元中先用 `%cd` 进入项目文件夹，
#   再运行 `!pip install -e ".[cpu,notebooks]"`（GPU 环境请用 `".[notebooks]"`，保留其自带的飞桨），然后重启内核并运行全部单元。
# - *笔记本电脑*：在项目文件夹中运行 `pip install -e ".[cpu,notebooks]" jupyterlab`，然后
#   `jupyter lab docs/tutorials/zh/nam.ipynb`。
# - *不安装、直接使用源码目录*：装好飞桨后，第一个单元会在 notebook 所在目录的上级目录中找到 `paddle_attn`。
#
# 输出写在内核工作目录下的 `output/tutorials/nam/` 中。
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

import math
import shutil
import time

import matplotlib
import matplotlib.pyplot as plt
import paddle  # paddle_attn imported it first, without Paddle's "No ccache found" warning
from IPython.display import Markdown, display

plt.switch_backend(matplotlib.get_backend())  # in Jupyter, the inline one: the figures cells return are shown
QUICK = os.environ.get("PADDLE_ATTN_TUTORIAL_QUICK") == "1"
OUT = Path("output/tutorials/nam")
print(f"paddle {paddle.__version__}, quick mode: {QUICK}, CPU threads: {settings['threads']}, outputs in {OUT}/")

# %% [markdown] en
# ## 1. The idea
#
# Liu, Shao, Teng and Hoffmann, *NAM: Normalization-based Attention Module*, NeurIPS 2021 Workshop ImageNet PPF,
# arXiv:2111.12419. SE and CBAM learn extra fully connected or convolution layers to score channels; NAM reuses
# what batch normalization already learns. A batch norm scales each normalized channel by $\gamma_i$ (eq. 1):
#
# $$B_{out} = \mathrm{BN}(B_{in}) = \gamma \frac{B_{in} - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta$$
#
# A channel that the network scales up varies more and carries more information, so $\gamma_i$ is read as the
# channel's importance. The channel attention (eq. 2) weights the batch-normed features by each scale's share of
# the total and squashes them into a gate that multiplies the block's output $F_1$:
#
# $$M_c = \mathrm{sigmoid}\big(W_\gamma\, \mathrm{BN}(F_1)\big), \qquad W_\gamma = \frac{\gamma_i}{\sum_j \gamma_j}$$
#
# (the tutorial's and the authors' code take $|\gamma|$). The pixel attention (eq. 3) is the same gate with a batch
# norm over pixel positions; neither the tutorial nor the authors' code use it, and it is off by default here.
# To make unimportant channels cheap to drop, the paper adds an L1 penalty on the scales to the loss (eq. 4):
#
# $$\mathrm{Loss} = \sum_{(x, y)} l\big(f(x, W), y\big) + p \sum g(\gamma) + p \sum g(\lambda), \qquad g(\cdot) = |\cdot|$$
#
# The tutorial describes this penalty but does not code it; `paddle_attn` has it as `loss.nam_sparsity` ($p$),
# added to the scales' gradients after backward as the authors' training script does ($p = 10^{-4}$ there).
# NAM adds no parameters beyond its batch norm's $\gamma$ and $\beta$.
# %% [markdown] zh
# ## 1. 原理
#
# Liu、Shao、Teng、Hoffmann，*NAM: Normalization-based Attention Module*，NeurIPS 2021 Workshop ImageNet PPF，
# arXiv:2111.12419。SE 和 CBAM 通过额外的全连接层或卷积层给通道打分，而 NAM 直接复用批归一化（BN）已经学到的信息。
# BN 用 $\gamma_i$ 对每个归一化后的通道进行缩放（式 1）：
#
# $$B_{out} = \mathrm{BN}(B_{in}) = \gamma \frac{B_{in} - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta$$
#
# 被网络放大的通道变化更大、包含的信息更多，因此 $\gamma_i$ 可以看作该通道的重要性。
# 通道注意力（式 2）按每个缩放因子在总和中所占的比例对 BN 后的特征加权，再经 sigmoid 得到门控，与 block 的输出 $F_1$ 相乘：
#
# $$M_c = \mathrm{sigmoid}\big(W_\gamma\, \mathrm{BN}(F_1)\big), \qquad W_\gamma = \frac{\gamma_i}{\sum_j \gamma_j}$$
#
# （教程和作者的代码都取 $|\gamma|$。）像素注意力（式 3）是同样的门控，只是 BN 作用在像素位置上；
# 教程和作者的代码都没有使用它，这里默认也关闭。为了让不重要的通道便于剪除，论文在损失函数中加入了缩放因子的 L1 稀疏惩罚（式 4）：
#
# $$\mathrm{Loss} = \sum_{(x, y)} l\big(f(x, W), y\big) + p \sum g(\gamma) + p \sum g(\lambda), \qquad g(\cdot) = |\cdot|$$
#
# 教程介绍了这一惩罚项但没有实现；`paddle_attn` 中对应配置项 `loss.nam_sparsity`（即 $p$），
# 与作者的训练脚本一样，在反向传播之后加到缩放因子的梯度上（作者使用 $p = 10^{-4}$）。
# 除 BN 自身的 $\gamma$ 和 $\beta$ 外，NAM 不增加任何参数。
# %% [markdown] en
# ## 2. The block by hand, then the library's
#
# The NAM tutorial's `Channel_Att`, in its own words: a batch norm whose normalized scales weight its own output
# (eq. 2), a sigmoid, and the product with the block's input. The tutorial wraps it in `Att` (the pixel branch,
# eq. 3, stays out, `no_spatial=True`); `Att` adds nothing else, so it is left out here.
# %% [markdown] zh
# ## 2. 手写 NAM 模块，再与库中的实现对照
#
# 下面是 NAM 教程的 `Channel_Att`，保持其原有写法：一个 BN，用其归一化后的缩放因子给它自己的输出加权（式 2），
# 经过 sigmoid，再与 block 的输入相乘。教程把它包在 `Att` 中（像素分支即式 3 不用，`no_spatial=True`）；
# `Att` 没有其他内容，这里省略。
# %%
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class Channel_Att(nn.Layer):
    """NAM's channel attention as the NAM tutorial writes it (its names: bn2, weight_bn, residual)."""

    def __init__(self, channels):
        super().__init__()
        self.bn2 = nn.BatchNorm2D(channels)  # eq. 1: gamma * (x - mu) / sqrt(sigma^2 + eps) + beta

    def forward(self, x):
        residual = x  # F_1, the features the gate multiplies
        x = self.bn2(x)
        weight_bn = self.bn2.weight.abs() / paddle.sum(self.bn2.weight.abs())  # eq. 2: W = |gamma_i| / sum_j |gamma_j|
        x = x.transpose([0, 2, 3, 1])  # NCHW -> NHWC: the C weights multiply the last axis
        x = paddle.multiply(weight_bn, x)
        x = x.transpose([0, 3, 1, 2])  # back to NCHW
        return F.sigmoid(x) * residual  # eq. 2: M_c = sigmoid(W * BN(F_1)), times F_1


# %% [markdown] en
# The library's `NormalizationAttention` loaded with the same tensors: its channel branch holds the batch norm's
# four tensors under the names `channel.weight`, `channel.bias`, `channel._mean`, `channel._variance`, so
# `set_state_dict` takes the hand-written block's state with `bn2.` renamed. Random scales, some negative, stand in
# for trained ones (at $\gamma = 1$ every $W_i$ is $1/C$). Both run a training step (batch statistics, running
# statistics updated) and then an inference step (running statistics); the outputs must agree.
#
# Where the library differs on purpose: it folds $W$ into the batch norm's affine (scale $\gamma W$, shift
# $\beta W$), a broadcast instead of two transposes, so the gate costs one batch norm and one sigmoid; and it takes
# the authors' options: `detach_weights=True` treats $W$ as a constant as the authors' code does (the tutorial lets
# gradients through it, the default), and `pixel_attention=True` adds eq. 3's pixel branch.
# %% [markdown] zh
# 把同样的张量加载到库中的 `NormalizationAttention`：它的通道分支以 `channel.weight`、`channel.bias`、`channel._mean`、
# `channel._variance` 这几个名字保存 BN 的四个张量，因此把手写模块 state dict 中的 `bn2.` 改名后即可用 `set_state_dict` 加载。
# 这里用随机的缩放因子（有正有负）代替训练后的值（$\gamma = 1$ 时所有 $W_i$ 都等于 $1/C$）。两者先做一次训练模式的前向
# （用 batch 统计量，并更新滑动统计量），再做一次推理模式的前向（用滑动统计量）；输出必须一致。
#
# 库的实现有意与教程不同之处：它把 $W$ 并入 BN 的仿射变换（缩放 $\gamma W$、平移 $\beta W$），用广播代替两次转置，
# 因此门控只需一次 BN 和一次 sigmoid；并提供作者代码的选项：`detach_weights=True` 像作者代码一样把 $W$ 当作常数
# （教程让梯度流过 $W$，这是默认值），`pixel_attention=True` 加上式 3 的像素分支。
# %%
import numpy as np

from paddle_attn.layers import NormalizationAttention
from paddle_attn.training import quiet_paddle  # without Paddle's "BatchNorm now tracks ..." warning in train mode

paddle.seed(0)
channels = 64
by_hand = Channel_Att(channels)
by_hand.bn2.weight.set_value(paddle.uniform([channels], min=-1.0, max=1.0))  # trained-looking scales
by_hand.bn2.bias.set_value(paddle.uniform([channels], min=-0.5, max=0.5))
nam = NormalizationAttention(channels)
nam.set_state_dict({name.replace("bn2.", "channel."): value for name, value in by_hand.state_dict().items()})
x = paddle.randn([2, channels, 16, 16])
for mode in ("train", "eval"):  # batch statistics, then the running ones both have just updated
    for layer in (by_hand, nam):
        getattr(layer, mode)()  # layer.train(), then layer.eval()
    with quiet_paddle():
        np.testing.assert_allclose(nam(x).numpy(), by_hand(x).numpy(), rtol=1e-5, atol=1e-6)
    print(f"{mode} mode: the library's output equals the hand-written block's")
np.testing.assert_allclose(nam.channel._mean.numpy(), by_hand.bn2._mean.numpy(), rtol=1e-6, atol=1e-7)
gate = nam.channel.gate(x)
print(f"input {x.shape} -> output {nam(x).shape}; gate {gate.min().item():.3f} .. {gate.max().item():.3f}")
print("trainable tensors:", {name: list(p.shape) for name, p in nam.named_parameters() if not p.stop_gradient})

# %% [markdown] en
# The sparsity penalty of eq. 4 as `paddle_attn` applies it: `add_nam_sparsity(net, p)` hooks each NAM scale so
# that backward adds $p \cdot \mathrm{sign}(\gamma)$ to its gradient, the derivative of $p|\gamma|$.
# %% [markdown] zh
# 按 `paddle_attn` 的方式施加式 4 的稀疏惩罚：`add_nam_sparsity(net, p)` 在每个 NAM 缩放因子上注册钩子，
# 反向传播时在其梯度上加 $p \cdot \mathrm{sign}(\gamma)$，即 $p|\gamma|$ 的导数。
# %%
from paddle_attn.optim import add_nam_sparsity


def gamma_gradient(layer, inputs):
    layer.clear_gradients()
    layer(inputs).sum().backward()
    return layer.channel.weight.grad.numpy().copy()


penalty = 1e-4  # the authors' p (train_cifar100.py's --s)
plain = gamma_gradient(nam, x)
hooks = add_nam_sparsity(nam, penalty)
penalized = gamma_gradient(nam, x)
for hook in hooks:
    hook.remove()
expected = penalty * np.sign(nam.channel.weight.numpy())
assert np.allclose(penalized - plain, expected, rtol=1e-2, atol=1e-9)
print(
    f"gradient change = p * sign(gamma) on all {channels} scales (max |change| {np.abs(penalized - plain).max():.2e})"
)

# %% [markdown] en
# ## 3. The network: ResNet-50 + NAM, CIFAR stem, 100 classes
#
# The tutorial puts NAM at the end of every residual block of a ResNet-50 whose stem is a 3x3 convolution without
# max-pooling (CIFAR's 32x32 images) and prints `paddle.summary` for 100 classes: total 23,818,788 parameters,
# trainable 23,652,132. Paddle 3.x reports the same total; its "trainable" count also includes the batch norms'
# $\gamma$ and $\beta$, which the older Paddle of the tutorial left out. Those are exactly as many as the running
# means and variances (total minus trainable), so the tutorial's figure is trainable minus that difference.
# %% [markdown] zh
# ## 3. 网络结构：ResNet-50 + NAM，CIFAR 结构，100 类
#
# 教程在 ResNet-50 每个残差块的末尾加入 NAM，并把 stem 改为不带最大池化的 3x3 卷积（适配 CIFAR 的 32x32 图像），
# 打印 100 类时的 `paddle.summary`：总参数量 23,818,788，可训练参数量 23,652,132。Paddle 3.x 给出相同的总参数量；
# 而它的“可训练”参数量还包含了 BN 的 $\gamma$ 和 $\beta$，教程所用的旧版 Paddle 没有计入这两项。
# 它们的数量与 BN 的滑动均值和方差（总参数量减可训练参数量）恰好相等，因此教程的数值等于可训练参数量再减去这个差值。
# %%
from paddle_attn.analysis import count_params

net = paddle_attn.create_model("resnet50_nam", num_classes=100, stem="cifar")
counts = paddle.summary(net, (1, 3, 32, 32))
total, trainable = counts["total_params"], counts["trainable_params"]
running_statistics = total - trainable  # BN running mean + variance: as many as the BN scales + shifts
print(
    f"total {total:,}, trainable {trainable:,}; the tutorial's 'trainable' (old Paddle): {trainable - running_statistics:,}"
)
assert total == 23_818_788  # NAM tutorial, paddle.summary(resnet50(), (1, 3, 32, 32)), 100 classes
assert trainable - running_statistics == 23_652_132  # the same tutorial's trainable figure
assert (total, trainable) == count_params(net)

# %% [markdown] en
# The same network without attention, side by side: parameters, FLOPs (multiply-adds, `paddle.flops`' rules, which
# count NAM's gate as zero) and the median forward time on this CPU, measured now by
# `paddle_attn.analysis.comparison.compare` (what `tools/compare.py` runs).
# %% [markdown] zh
# 与不带注意力的同一网络对比：参数量、计算量 FLOPs（乘加次数，按 `paddle.flops` 的规则统计，NAM 的门控计为 0）
# 以及在本机 CPU 上前向推理时间的中位数，均由 `paddle_attn.analysis.comparison.compare`（即 `tools/compare.py` 所用的函数）当场测得。
# %%
from paddle_attn.analysis.comparison import compare, markdown_table, registry_entries

batch, warmup, iterations = (1, 0, 1) if QUICK else (8, 1, 3)
rows = compare(registry_entries(["resnet50_nam", "resnet50"], 100, "cifar"), batch, 32, warmup, iterations, print)
display(
    Markdown(
        markdown_table(
            rows,
            f"CIFAR stem, 32x32 input, 100 classes; forward pass, batch {batch}, median of {iterations} "
            f"on this CPU ({os.cpu_count()} cores seen, shared with whatever else runs).",
        )
    )
)
nam_row, plain_row = rows
print(
    f"NAM adds {nam_row['params'] - plain_row['params']:,} trainable parameters (its gamma and beta), "
    f"forward time x{nam_row['ms_per_batch'] / plain_row['ms_per_batch']:.2f}"
)

# %% [markdown] en
# ## 4. PyTorch
#
# The NAM tutorial is written for Paddle only, so there is no PyTorch network to convert here.
# %% [markdown] zh
# ## 4. PyTorch
#
# NAM 教程只有飞桨版本，因此这里没有需要转换的 PyTorch 网络。
# %% [markdown] en
# ## 5. Training, written out
#
# The tutorial's training is one `prepare` and one `fit`:
#
# ```python
# model = paddle.Model(resnet50())
# model.prepare(
#     paddle.optimizer.Momentum(learning_rate=LinearWarmup(CosineAnnealingDecay(LR, MAX_EPOCH), 2000, 0., LR),
#                               momentum=0.9, parameters=model.parameters(), weight_decay=5e-4),
#     paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy(topk=(1, 5)))
# model.fit(train_set, test_set, epochs=300, batch_size=256, callbacks=[LRSchedulerM(), ModelCheckpoint(...), VisualDL(...)])
# ```
#
# `LRSchedulerM` is the tutorial's own callback: it steps the learning rate after every batch during the 2000
# warm-up steps and once an epoch after them. `paddle_attn.optim.build_schedule` builds the same warm-up and cosine
# counted in batches, which Paddle's own `paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)` steps after
# every batch. The cell draws both over the tutorial's 300 epochs of 196 batches (CIFAR-100's 50,000 images in
# batches of 256).
# %% [markdown] zh
# ## 5. 写出训练过程
#
# 教程的训练就是一次 `prepare` 加一次 `fit`：
#
# ```python
# model = paddle.Model(resnet50())
# model.prepare(
#     paddle.optimizer.Momentum(learning_rate=LinearWarmup(CosineAnnealingDecay(LR, MAX_EPOCH), 2000, 0., LR),
#                               momentum=0.9, parameters=model.parameters(), weight_decay=5e-4),
#     paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy(topk=(1, 5)))
# model.fit(train_set, test_set, epochs=300, batch_size=256, callbacks=[LRSchedulerM(), ModelCheckpoint(...), VisualDL(...)])
# ```
#
# `LRSchedulerM` 是教程自己写的回调：预热的 2000 步内每个 batch 后更新一次学习率，预热结束后每个 epoch 更新一次。
# `paddle_attn.optim.build_schedule` 以 batch 为单位构建同样的预热和余弦衰减，由飞桨自带的
# `paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)` 在每个 batch 后更新。下面的单元在教程的 300 个 epoch、
# 每个 epoch 196 个 batch（CIFAR-100 的 50,000 张图像，batch 256）上画出这两条曲线。
# %%
from paddle.optimizer.lr import CosineAnnealingDecay, LinearWarmup

from paddle_attn.optim import build_schedule

LR, EPOCHS, STEPS, WARMUP = 0.01, 300, 196, 2000  # the NAM tutorial's recipe
per_step = build_schedule(LR, EPOCHS * STEPS, STEPS, warmup_steps=WARMUP)
tutorial = LinearWarmup(CosineAnnealingDecay(LR, EPOCHS), WARMUP, 0.0, LR)
lr_curves = {"paddle_attn: build_schedule, stepped every batch": [], "NAM tutorial: LRSchedulerM": []}
for _epoch in range(EPOCHS):
    for _step in range(STEPS):
        lr_curves["paddle_attn: build_schedule, stepped every batch"].append(per_step())
        per_step.step()
        lr_curves["NAM tutorial: LRSchedulerM"].append(tutorial())
        if tutorial.last_epoch < WARMUP:  # LRSchedulerM: every batch while warming up ...
            tutorial.step()
    if tutorial.last_epoch >= WARMUP:  # ... then at each epoch's end
        tutorial.step()
library_lr, tutorial_lr = (np.array(values) for values in lr_curves.values())
print(
    f"last batch: {library_lr[-1]:.2e} (per step) vs {tutorial_lr[-1]:.2e} (LRSchedulerM); "
    f"largest difference {np.abs(library_lr - tutorial_lr).max():.2e} = {np.abs(library_lr - tutorial_lr).max() / LR:.1%} of LR"
)
figure, axes = plt.subplots(1, 2, figsize=(12, 3.2))
for name, values in lr_curves.items():
    for ax, shown in zip(axes, (slice(None), slice(0, 12 * STEPS))):
        ax.plot(np.arange(len(values))[shown] / STEPS, values[shown], label=name, linewidth=1)
axes[0].set_title("300 epochs")
axes[1].set_title("the first 12 epochs: warm-up (2000 steps = 10.2 epochs), then the decay")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
axes[1].legend(fontsize=8)
plt.show()

# %% [markdown] en
# *Figure: the learning rate of each batch under the two schedules, over the tutorial's 300 epochs (left) and its
# first 12 (right).*
#
# The two agree within a few percent of the LR: the library decays the cosine a little every batch, from the
# warm-up's end to the run's last batch, where it reaches 0; `LRSchedulerM` hands the same `LinearWarmup` one
# step per epoch after the warm-up, so its cosine is a staircase counted in epochs after the warm-up's 10.2, and
# the run ends 10 epochs before that cosine's end, at the small LR printed above.
#
# The training below writes the tutorial's `prepare` and `fit` out for ResNet-18 + NAM and then, the same way, for
# the plain ResNet-18, with the library's public pieces:
#
# - `paddle_attn.training.run_loaders`: the loaders of the config's data, and `seeding`, the callback that reshuffles
#   them and draws new augmentations every epoch (a data set passed to `fit` as the tutorial does would repeat
#   epoch 0's augmentation);
# - `paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)` stepping the `build_schedule` above;
# - `VisualDLLogger` in place of `paddle.callbacks.VisualDL`: the loss, top-1, top-5 and the learning rate every
#   batch (what the tutorial patches `VisualDL` to add), and the eval loss over the whole test set from
#   `EvalLossMean` (Paddle's is the last batch's); `attention_logger` adds NAM's scales as histograms and Grad-CAM
#   images to the same log, and `BatchNormScaleLogger` every batch norm's $|\gamma|$ per stage, a histogram each
#   epoch (as `paddle-attn-train` logs them; section 8);
# - `CheckpointSaver` in place of `paddle.callbacks.ModelCheckpoint`: `epoch_NNNN` folders with `best` and `latest`
#   links, and, with `describe_run`, what `open_network` and the export tool need to rebuild the network.
#
# What a CPU run of a few minutes changes from the tutorial's recipe (the config `resnet50_nam_cifar100`): the
# generated 10-class shapes (`config.synthetic_data_overrides`, written under `output/tutorials/nam/`) instead of
# CIFAR-100; ResNet-18 with the ImageNet stem (7x7 stride-2 convolution and max-pool; at 32 px it computes 16x less
# than the CIFAR stem: the ResNet-50 of section 3 would take hours here); a few epochs, batch 64, LR 0.05 (few steps
# want larger ones) and a warm-up over the same share of the steps as the tutorial's (2000 of 300 x 196).
# Optimizer, weight decay, schedule shape, augmentation and metrics stay the tutorial's. Both networks start from
# the same seed and see the same batches.
#
# Progress is one line per epoch (`verbose=2`, `log_freq` one epoch). The first epoch's eval loss can be large:
# in eval mode the batch norms use their running statistics, which after one short epoch (a few dozen updates with
# momentum 0.9) still hold much of their starting mean 0 and variance 1; they catch up over the next epochs.
# %% [markdown] zh
# *图：两种学习率调度下每个 batch 的学习率；左为教程的全部 300 个 epoch，右为前 12 个 epoch。*
#
# 两条曲线相差不到学习率的百分之几：库的实现从预热结束到训练的最后一个 batch 每个 batch 都让余弦衰减一点，最后降到 0；
# `LRSchedulerM` 在预热结束后每个 epoch 才让同一个 `LinearWarmup` 前进一步，因此它的余弦是按预热（10.2 个 epoch）之后的
# epoch 数计算的阶梯曲线，而且训练结束时离该余弦的终点还差 10 个 epoch，停在上面打印的较小学习率上。
#
# 下面的训练先为 ResNet-18 + NAM、再以同样方式为原始 ResNet-18 写出教程的 `prepare` 和 `fit`，使用库中公开的组件：
#
# - `paddle_attn.training.run_loaders`：按配置的数据部分构建数据加载器，并返回 `seeding` 回调，每个 epoch 重新打乱顺序、
#   重新抽取数据增强（像教程那样把数据集直接传给 `fit`，每个 epoch 都会重复第 0 个 epoch 的数据增强）；
# - `paddle.callbacks.LRScheduler(by_step=True, by_epoch=False)`：按 batch 更新上面的 `build_schedule`；
# - 用 `VisualDLLogger` 代替 `paddle.callbacks.VisualDL`：每个 batch 记录损失、top-1、top-5 和学习率（教程为此修改了
#   `VisualDL`），并记录 `EvalLossMean` 给出的整个测试集上的评估损失（飞桨自带的只是最后一个 batch 的损失）；
#   `attention_logger` 把 NAM 的缩放因子直方图和 Grad-CAM 图像写入同一个日志，`BatchNormScaleLogger` 在每个 epoch
#   以直方图记录各 stage 所有 BN 的 $|\gamma|$（与 `paddle-attn-train` 的记录相同；见第 8 节）；
# - 用 `CheckpointSaver` 代替 `paddle.callbacks.ModelCheckpoint`：保存 `epoch_NNNN` 目录及 `best`、`latest` 链接，
#   配合 `describe_run` 记录 `open_network` 和导出工具重建网络所需的信息。
#
# 为了在 CPU 上几分钟内跑完，相对教程配方（配置 `resnet50_nam_cifar100`）改动的地方：用程序生成的 10 类图形数据集
# （`config.synthetic_data_overrides`，写在 `output/tutorials/nam/` 下）代替 CIFAR-100；使用 ImageNet stem
# （7x7 步长 2 卷积加最大池化）的 ResNet-18（在 32 像素输入下计算量只有 CIFAR stem 的 1/16，第 3 节的 ResNet-50
# 在这里需要数小时）；只训练几个 epoch，batch 64，学习率 0.05（步数少时需要更大的步长），预热步数占总步数的比例与教程相同
# （300 x 196 步中的 2000 步）。优化器、权重衰减、学习率曲线的形状、数据增强和评估指标都保持教程的设置。
# 两个网络使用相同的随机种子，看到相同的 batch。
#
# 训练进度每个 epoch 输出一行（`verbose=2`，`log_freq` 为一个 epoch）。第一个 epoch 的评估损失可能很大：
# 推理模式下 BN 使用滑动统计量，而一个很短的 epoch 之后（动量 0.9，只更新了几十次）这些统计量仍有很大一部分是初始的
# 均值 0 和方差 1；之后几个 epoch 会逐渐跟上。
# %%
from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.data.datasets import build_dataset
from paddle_attn.optim import add_bn_sparsity
from paddle_attn.training import (
    CheckpointSaver,
    EvalLossMean,
    VisualDLLogger,
    attention_logger,
    describe_run,
    quiet_paddle,
    run_loaders,
)
from paddle_attn.training.scale_histograms import BatchNormScaleLogger

train_per_class, test_per_class, epochs, batch_size = (3, 2, 1, 16) if QUICK else (100, 20, 5, 64)
MOMENTUM = 0.9  # the tutorial's
shapes = OUT / f"shapes_{train_per_class}_{test_per_class}.tar.gz"  # one file per size: both modes keep theirs
steps = epochs * math.ceil(10 * train_per_class / batch_size)
warmup_steps = max(1, round(steps * 2000 / (300 * 196)))  # the tutorial's share: 2000 of 300 epochs x 196 steps
overrides = [
    "model.stem=imagenet",
    *synthetic_data_overrides(shapes, train_per_class, test_per_class),
    f"train.epochs={epochs}",
    f"train.batch_size={batch_size}",
]


def fit(model_name, run_dir, bn_sparsity=0.0):
    """The NAM tutorial's prepare and fit for `model_name`, with the library's callbacks, into `run_dir`;
    `bn_sparsity`: network slimming's L1 penalty on every BatchNorm scale (section 8), none by default."""
    config = load_config(
        "resnet50_nam_cifar100",
        overrides=[f"model.name={model_name}", *overrides, f"loss.bn_sparsity={bn_sparsity}"],
    )
    seed = config["train"]["seed"]
    train_set, test_set = (build_dataset(config["data"], split, seed) for split in ("train", "test"))
    train_loader, test_loader, seeding = run_loaders(config["train"], config["data"], train_set, test_set)
    paddle.seed(seed)  # the same start for both networks
    net = paddle_attn.create_model(model_name, num_classes=10, stem="imagenet")
    add_bn_sparsity(net, config["loss"]["bn_sparsity"])  # adds p * sign(gamma) to each BN scale's gradient; 0: off
    scheduler = build_schedule(0.05, epochs * len(train_loader), len(train_loader), warmup_steps)  # cosine per step
    optimizer = paddle.optimizer.Momentum(
        learning_rate=scheduler, momentum=MOMENTUM, parameters=net.parameters(), weight_decay=5e-4
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
        BatchNormScaleLogger(curves),  # every BN's |gamma| per stage, a histogram each epoch
        CheckpointSaver(str(run_dir), optimizer, 1, epochs, describe_run(config, train_set)),  # ModelCheckpoint
    ]
    shutil.rmtree(run_dir, ignore_errors=True)  # a rerun of the notebook starts afresh
    start = time.perf_counter()
    with quiet_paddle():  # no warnings Paddle gives at every run
        model.fit(train_loader, test_loader, epochs=epochs, verbose=2, log_freq=len(train_loader), callbacks=callbacks)
    print(f"{model_name}: {time.perf_counter() - start:.0f} s\n")


runs = {"ResNet-18 + NAM": ("resnet18_nam", OUT / "resnet18_nam"), "ResNet-18": ("resnet18", OUT / "resnet18")}
fit(*runs["ResNet-18 + NAM"])

# %%
fit(*runs["ResNet-18"])  # the plain network: the same data, seed and schedule

# %% [markdown] en
# The one-line route runs the same pieces from the config (`paddle_attn.training.train`; its evaluation goes through
# Paddle Inference, the fast path on a CPU). From any folder once the package is installed (`python tools/train.py`
# takes the same arguments in a checkout):
#
# ```bash
# paddle-attn-train -c resnet50_nam_cifar100 -o model.name=resnet18_nam model.stem=imagenet model.num_classes=10 \
#     data.dataset=synthetic data.data_file=data/shapes.tar.gz data.synthetic_train_per_class=100 \
#     data.synthetic_test_per_class=20 data.num_workers=0 train.epochs=5 train.batch_size=64 lr.base=0.05 \
#     lr.warmup_steps=3 train.verbose=2 run.output_dir=output/nam_cli
# ```
#
# ## 5.1 NAM against the plain network
#
# The NAM tutorial trains ResNet-50 with and without NAM on CIFAR-100 and compares their top-1 and top-5 curves:
# NAM's network reaches a clearly higher accuracy, and the plain ResNet-50 overfits (its test accuracy stops
# improving while it keeps fitting the training set). The curves of both runs, read back from their VisualDL logs
# (`paddle_attn.analysis.run_figures.plot_curves`), and their final figures. The gap column is the last epoch's
# train top-1 minus eval top-1 (train top-1 is the running accuracy over that epoch, with augmentation).
# %% [markdown] zh
# 一行命令的方式从配置运行同样的组件（`paddle_attn.training.train`；其评估通过 Paddle Inference 进行，这是 CPU 上较快的方式）。
# 安装本包后可在任意目录运行（在源码目录中 `python tools/train.py` 接受相同的参数）：
#
# ```bash
# paddle-attn-train -c resnet50_nam_cifar100 -o model.name=resnet18_nam model.stem=imagenet model.num_classes=10 \
#     data.dataset=synthetic data.data_file=data/shapes.tar.gz data.synthetic_train_per_class=100 \
#     data.synthetic_test_per_class=20 data.num_workers=0 train.epochs=5 train.batch_size=64 lr.base=0.05 \
#     lr.warmup_steps=3 train.verbose=2 run.output_dir=output/nam_cli
# ```
#
# ## 5.1 NAM 与原始网络对比
#
# NAM 教程在 CIFAR-100 上分别训练带 NAM 和不带 NAM 的 ResNet-50，并比较它们的 top-1、top-5 曲线：带 NAM 的网络精度明显更高，
# 而原始 ResNet-50 出现了明显的过拟合（测试精度不再提升，而训练集上仍在继续拟合）。下面从两次训练的 VisualDL 日志中读出曲线
# （`paddle_attn.analysis.run_figures.plot_curves`）并列出最终结果。差值一列为最后一个 epoch 的训练 top-1 减去评估 top-1
# （训练 top-1 是该 epoch 内带数据增强的累计精度）。
# %%
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import read_scalars

scalars = {label: read_scalars(run_dir) for label, (_, run_dir) in runs.items()}
display(plot_curves(scalars, OUT / "curves.png"))
table = [
    "| network | eval top-1 (last) | eval top-1 (best) | eval top-5 (last) | train top-1 (last) | gap |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
]
for label, tags in scalars.items():
    last = {tag: values[-1] for tag, (_, values) in tags.items()}
    gap = last["train/top1"] - last["eval/top1"]
    table.append(
        f"| {label} | {last['eval/top1']:.3f} | {max(tags['eval/top1'][1]):.3f} | "
        f"{last['eval/top5']:.3f} | {last['train/top1']:.3f} | {gap:+.3f} |"
    )
display(
    Markdown(
        "\n".join(table) + f"\n\n{epochs} epochs, {10 * train_per_class} training and "
        f"{10 * test_per_class} test images, 10 classes (chance: top-1 0.100)."
    )
)
gaps = {label: tags["train/top1"][1][-1] - tags["eval/top1"][1][-1] for label, tags in scalars.items()}
overfitting = [label for label, gap in gaps.items() if gap > 0.1]  # train 10 points above test
print("overfitting (train top-1 > eval top-1 + 0.1):", ", ".join(overfitting) or "neither network in this run")

# %% [markdown] en
# *Figure: top row, the train loss, top-1, top-5 and learning rate of both networks per batch; bottom row, the eval
# top-1, top-5 and loss per epoch.*
#
# Whether this run shows the tutorial's conclusion: overfitting shows as a train top-1 well above the eval top-1,
# a gap that grows over many epochs while the test accuracy stalls. The cell above prints each network's gap and
# says whether either is overfitting by that measure; a run of a few epochs over a thousand generated images
# is short for it, and a difference of a few points between the two networks at this length is within what another
# seed gives. The tutorial's comparison needs its 300 epochs on CIFAR-100 (the commands below). In quick mode
# neither network learns anything.
# %% [markdown] zh
# *图：上排为两个网络每个 batch 的训练损失、top-1、top-5 和学习率；下排为每个 epoch 的评估 top-1、top-5 和损失。*
#
# 这次训练能否体现教程的结论：过拟合表现为训练 top-1 明显高于评估 top-1，并且在很多个 epoch 中差距不断扩大，而测试精度停滞。
# 上面的单元打印了每个网络的差值，并据此判断是否有网络过拟合；几个 epoch、一千张生成图像的训练对此来说太短，
# 此时两个网络相差几个百分点也在换一个随机种子就会出现的范围之内。教程的对比需要在 CIFAR-100 上训练 300 个 epoch
# （见下面的命令）。快速试运行模式下两个网络都学不到东西。
# %% [markdown] en
# **On a GPU with the real data** (not run here: this machine has no GPU and no CIFAR-100). Put
# `cifar-100-python.tar.gz` (https://www.cs.toronto.edu/~kriz/cifar.html) at `data/` and run the tutorial's recipe,
# then its baseline:
#
# ```bash
# paddle-attn-train -c resnet50_nam_cifar100 -o device.name=gpu
# paddle-attn-train -c resnet50_cifar100 -o device.name=gpu
# paddle-attn-compare --results output/resnet50_nam_cifar100 output/resnet50_cifar100 --out output/compare
# ```
#
# That is ResNet-50 + NAM, CIFAR stem, 300 epochs, batch 256, Momentum 0.9, LR 0.01 with 2000 warm-up steps then
# cosine, weight decay 5e-4, 4 loader workers, no sparsity penalty. The paper's own recipe, with the penalty
# ($p = 10^{-4}$), SGD 0.1 divided by 5 at epochs 60, 120 and 160, 200 epochs, batch 128, is the config
# `resnet50_nam_cifar100_authors`; `-o loss.nam_sparsity=1e-4` adds the penalty to the tutorial's recipe.
# The tutorial shows its top-1/top-5 as curve images only; the paper's CIFAR-100 table gives the top-1 and top-5
# errors of ResNet-50 with and without NAM, the figures to compare a full run with.
# %% [markdown] zh
# **在 GPU 上使用真实数据训练**（本机没有 GPU，也没有 CIFAR-100，因此这里没有运行）。把
# `cifar-100-python.tar.gz`（https://www.cs.toronto.edu/~kriz/cifar.html）放到 `data/` 下，先运行教程的配方，再运行其基线：
#
# ```bash
# paddle-attn-train -c resnet50_nam_cifar100 -o device.name=gpu
# paddle-attn-train -c resnet50_cifar100 -o device.name=gpu
# paddle-attn-compare --results output/resnet50_nam_cifar100 output/resnet50_cifar100 --out output/compare
# ```
#
# 即 ResNet-50 + NAM、CIFAR stem、300 个 epoch、batch 256、Momentum 0.9、学习率 0.01（2000 步预热后余弦衰减）、
# 权重衰减 5e-4、4 个数据加载进程、不加稀疏惩罚。论文作者自己的配方（带惩罚项 $p = 10^{-4}$，SGD 学习率 0.1，在第 60、120、160 个 epoch
# 各除以 5，共 200 个 epoch，batch 128）为配置 `resnet50_nam_cifar100_authors`；在教程配方上加 `-o loss.nam_sparsity=1e-4`
# 即可加入惩罚项。教程只以曲线图的形式给出 top-1/top-5；论文的 CIFAR-100 结果表给出了 ResNet-50 加与不加 NAM 在 CIFAR-100 上的
# top-1 和 top-5 错误率，完整训练的结果应与之比较。
# %% [markdown] en
# ## 6. Inside the trained network
#
# The best checkpoint, reloaded, on the first test images (also written as PNG files for section 7). NAM's
# picture is its normalized scales $|\gamma_i| / \sum_j |\gamma_j|$ per stage, times the block's channel count so
# that 1 is an equal share; the sparsity penalty is what pushes channels under the threshold, and this run trained
# without it, as the tutorial does. Grad-CAM shows where the evidence for the predicted class lies. These are
# the pictures of the network trained above, at the eval top-1 the cell prints (chance is 0.100): in full mode it
# has learned the shapes, in quick mode it has not, and its figures then show an untrained network.
# %% [markdown] zh
# ## 6. 观察训练后的网络
#
# 重新加载最优 checkpoint，在测试集的前几张图像上分析（这些图像同时保存为 PNG 文件，供第 7 节使用）。
# NAM 的可视化是每个 stage 的归一化缩放因子 $|\gamma_i| / \sum_j |\gamma_j|$，再乘以该 block 的通道数，使 1 表示平均份额；
# 把通道压到阈值以下的是稀疏惩罚项，而本次训练与教程一样没有使用它。Grad-CAM 显示预测类别的依据位于图像的哪些位置。
# 这些图来自上面训练的网络，其评估 top-1 由单元打印（随机猜测为 0.100）：完整模式下网络已学会识别这些图形，
# 快速试运行模式下则没有，此时的图展示的是未经训练的网络。
# %%
from paddle_attn.analysis.attention_figures import plot_cam_grid, plot_nam_scales, to_display
from paddle_attn.analysis.gates import attention_maps, nam_scale_weights_by_stage, share_under
from paddle_attn.analysis.report import open_network
from paddle_attn.data.synthetic import CLASS_NAMES, write_image_files
from paddle_attn.inference.predict import preprocess

run_dir = runs["ResNet-18 + NAM"][1]
trained, info = open_network(run_dir)  # the best checkpoint, in eval mode, and its preprocessing
print(f"the best checkpoint's eval top-1: {max(scalars['ResNet-18 + NAM']['eval/top1'][1]):.3f} (chance 0.100)")
image_dir = OUT / "images"
paths, labels = write_image_files(image_dir, 1 if QUICK else 2, seed=1)  # the test split's first (its seed: 0 + 1)
inputs, _, errors = preprocess(info, paths)
assert not errors
maps = attention_maps(trained, inputs)
print(
    f"Grad-CAM through {maps.cam_layer} ({maps.cam_size[0]}x{maps.cam_size[1]}); "
    f"{int((maps.predicted == labels).sum())} of {len(labels)} predicted right"
)
titles = [f"{CLASS_NAMES[t]}\n-> {CLASS_NAMES[p]}" for t, p in zip(labels, maps.predicted)]
grid = plot_cam_grid(to_display(inputs, info["transform"], info.get("mean"), info.get("std")), maps.cam, titles, 5)
grid.savefig(OUT / "gradcam.png", dpi=90)
display(grid)

relative = nam_scale_weights_by_stage(trained)
threshold = 0.1  # a tenth of an equal share, tools/visualize.py's default
for stage, values in relative.items():
    print(f"{stage}: {values.size} channels, normalized scale x C in {values.min():.4f} .. {values.max():.4f}")
print("share under", threshold, share_under(relative, threshold))
display(plot_nam_scales(relative, threshold, "ResNet-18 + NAM: |γ|/Σ|γ| x C per stage", OUT / "nam_scales.png"))
# %% [markdown] en
# *Figures: the test images with the Grad-CAM of the predicted class (title: true class -> predicted class); then
# NAM's normalized scales times the channel count, per stage, with the 0.1 threshold.*
#
# Why the scales barely moved: every step, eq. 4's penalty moves each $\gamma$ towards 0 by $p \cdot \eta_t$ (the
# learning rate; momentum $m$ stretches that up to $1/(1-m)$ times), the same amount for every channel, so small
# scales reach 0 first and their shares $W_i$ fall. Weight decay also shrinks $\gamma$, but in proportion to its
# size, which leaves the shares unchanged. Over a run the penalty alone can move a scale by at most
# $p \sum_t \eta_t / (1 - m)$; the cell computes that for this run (from its logged learning rates) and for the
# authors' recipe (from its config).
# %% [markdown] zh
# *图：测试图像及预测类别的 Grad-CAM（标题：真实类别 -> 预测类别）；其后为各 stage 中 NAM 归一化缩放因子乘以通道数的分布，
# 并标出阈值 0.1。*
#
# 为什么缩放因子几乎没有变化：每一步，式 4 的惩罚项把每个 $\gamma$ 向 0 推动 $p \cdot \eta_t$（$\eta_t$ 为学习率；
# 动量 $m$ 最多把它放大到 $1/(1-m)$ 倍），所有通道的推动量相同，因此较小的缩放因子先到达 0，其份额 $W_i$ 随之下降。
# 权重衰减也会缩小 $\gamma$，但按其大小成比例缩小，各通道的份额保持不变。整个训练过程中，惩罚项单独最多能把一个缩放因子移动
# $p \sum_t \eta_t / (1 - m)$；下面分别计算本次训练（根据日志中记录的学习率）和作者配方（根据其配置文件）的这一上限。
# %%
authors = load_config("resnet50_nam_cifar100_authors")  # a config shipped with paddle_attn, by its name
steps_per_epoch = math.ceil(50_000 / authors["train"]["batch_size"])  # CIFAR-100's 50,000 training images
lr_by_epoch = [
    authors["lr"]["base"] * authors["lr"]["gamma"] ** sum(epoch >= m for m in authors["lr"]["milestones"])
    for epoch in range(authors["train"]["epochs"])
]
budgets = {
    "this run": (sum(scalars["ResNet-18 + NAM"]["train/lr"][1]), MOMENTUM),
    "the authors' recipe": (steps_per_epoch * sum(lr_by_epoch), authors["optimizer"]["momentum"]),
}
for name, (lr_sum, momentum) in budgets.items():
    reach = authors["loss"]["nam_sparsity"] * lr_sum / (1 - momentum)
    print(f"{name}: sum of learning rates {lr_sum:8.2f}; p = 1e-4 alone moves a gamma by at most {reach:.4f}")
# %% [markdown] en
# ## 7. Export and predict
#
# `paddle-attn-export` (`tools/export.py` in a checkout; `paddle_attn.cli.run_tool` runs either from a notebook)
# writes Paddle's inference program and, with `--format onnx` (when paddle2onnx is installed; skipped in quick
# mode, where the conversion alone takes several seconds), `model.onnx` for ONNX Runtime and OpenVINO. `paddle_attn.inference.backend_speed.time_backends` then times every
# backend that can run here on the images above (fp32, and bf16 where `paddle_attn.cpu.bf16_supported()` says this
# CPU computes it natively), fastest first, with how far each one's logits are from Paddle fp32's; the cell checks
# that the fp32 backends agree with Paddle's logits and predicts with the fastest through `paddle-attn-infer`.
# %% [markdown] zh
# ## 7. 导出与推理
#
# `paddle-attn-export`（源码目录中为 `tools/export.py`；在 notebook 中用 `paddle_attn.cli.run_tool` 运行）导出 Paddle 推理模型；
# 加 `--format onnx`（需安装 paddle2onnx；快速试运行模式下跳过，仅转换就要好几秒）时还会导出 `model.onnx`，
# 供 ONNX Runtime 和 OpenVINO 使用。然后 `paddle_attn.inference.backend_speed.time_backends` 在上述图像上为本机
# 能运行的每个推理后端计时（fp32，以及 `paddle_attn.cpu.bf16_supported()` 表明本机 CPU 原生支持时的 bf16），
# 按速度从快到慢列出，并给出各自 logits 与 Paddle fp32 的差距；检查各 fp32 后端与 Paddle 的 logits 一致，
# 然后用最快的后端通过 `paddle-attn-infer` 进行预测。
# %%
from paddle_attn.cli import run_tool
from paddle_attn.inference.backend_speed import speed_table, time_backends

formats = ["--format", "onnx"] if importlib.util.find_spec("paddle2onnx") and not QUICK else []  # the [onnx] extra
run_tool("export", "--checkpoint", run_dir, "--out", run_dir / "inference", *formats)
quick_pairs = [("paddle", "fp32")] if QUICK else None  # quick mode: one backend; else all that run here
rows = time_backends(run_dir / "inference", inputs, repeats=2 if QUICK else 5, pairs=quick_pairs)
display(Markdown(speed_table(rows)))
assert all(row["difference"] < 1e-4 for row in rows if row["precision"] == "fp32")  # one program, other kernels
choice = ["--backend", rows[0]["backend"], "--precision", rows[0]["precision"]]  # rows[0]: the fastest
run_tool("infer", "--model", run_dir / "inference", *choice, "--top-k", "3", image_dir)

# %% [markdown] en
# ## 8. From attention to a smaller network: network slimming
#
# NAM reads a batch norm's $|\gamma_i|$ as channel $i$'s importance (eq. 2) and adds $p \sum |\gamma|$ to the loss
# to make unimportant channels' scales small (eq. 4). Liu et al., *Learning Efficient Convolutional Networks through
# Network Slimming*, ICCV 2017 (arXiv:1708.06519), act on the same reading: train with an L1 penalty
# $\lambda \sum |\gamma|$ on every batch norm's scales, remove the channels whose $|\gamma|$ is smallest (a channel
# with $\gamma \approx 0$ only adds the constant $\beta$), and fine-tune what is left. `paddle_attn.pruning` does it
# for these ResNets on each residual block's inner channels (a basic block's conv1 outputs, a bottleneck's conv1 and
# conv2 outputs), ranked by their own batch norm's $|\gamma|$ with one threshold across all layers and a floor of
# 10 % of every layer's channels. The residual path's channels stay: every block of a stage adds its output to the
# same identity, so they could only go all at once; NAM's gate sits on that width, so its own scales are not the
# ranking here.
#
# The steps, with the pieces already built above: `fit` of section 5 trains ResNet-18 + NAM once more on the same
# data, seed and schedule, now with `loss.bn_sparsity` $= \lambda$ (`paddle_attn.optim.add_bn_sparsity`, a gradient
# hook as section 2's `add_nam_sparsity`, on every batch norm's scale); the prunable scales of this run and of
# section 5's run without the penalty are compared; `prune_run` (what `paddle-attn-prune` runs) removes 40 % of the
# FLOPs into a new run folder whose `config.yaml` fine-tunes the pruned network without the penalty, as Liu et al.
# do; `paddle_attn.training.train` (the one-line route of section 5) fine-tunes it, and trains the unpruned network
# on as many epochs with the same recipe (the control: the pruned network trains longer than the unpruned run).
#
# Liu et al. take $\lambda = 10^{-4}$ over 160 epochs. Section 6's bound applies to this penalty too: alone it moves
# a scale by at most $\lambda \sum_t \eta_t / (1 - m)$, 0.002 for $10^{-4}$ over this run's five epochs. The notebook
# takes $\lambda = 10^{-2}$, which can move a scale by about 0.2 here: enough to see in the histogram, small against
# the scales' starting value 1. The cell prints that bound for this run.
# %% [markdown] zh
# ## 8. 从注意力到更小的网络：网络瘦身（network slimming）
#
# NAM 把 BN 的 $|\gamma_i|$ 看作通道 $i$ 的重要性（式 2），并在损失函数中加入 $p \sum |\gamma|$，使不重要通道的缩放因子变小（式 4）。
# Liu 等人的 *Learning Efficient Convolutional Networks through Network Slimming*（ICCV 2017，arXiv:1708.06519）
# 基于同样的理解：训练时对所有 BN 的缩放因子加 L1 稀疏惩罚 $\lambda \sum |\gamma|$，剪除 $|\gamma|$ 最小的通道
# （$\gamma \approx 0$ 的通道只输出常数 $\beta$），再对剩下的网络进行微调（fine-tune）。`paddle_attn.pruning` 对这里的
# ResNet 实现了这一方法，剪枝对象是每个残差块内部的通道（basic block 中 conv1 的输出，bottleneck 中 conv1 和 conv2 的输出），
# 按各自 BN 的 $|\gamma|$ 排序，所有层共用一个全局阈值，每层至少保留 10% 的通道。残差通路上的通道保持不变：同一 stage 的每个
# block 都把输出加到同一个恒等分支上，这些通道只能整体删除；NAM 的门控正位于这一宽度上，因此这里不以 NAM 自身的缩放因子排序。
#
# 步骤如下，沿用前面已经构建的组件：用第 5 节的 `fit` 在相同的数据、随机种子和学习率调度下再训练一次 ResNet-18 + NAM，
# 这次设置 `loss.bn_sparsity` $= \lambda$（`paddle_attn.optim.add_bn_sparsity`，与第 2 节的 `add_nam_sparsity` 一样是梯度钩子，
# 作用于每个 BN 的缩放因子）；比较这次训练与第 5 节不加惩罚的训练中可剪枝通道的缩放因子；`prune_run`（即 `paddle-attn-prune`
# 所运行的函数）剪掉 40% 的 FLOPs，写入一个新的训练目录，其 `config.yaml` 与 Liu 等人一样不加惩罚项微调剪枝后的网络；
# `paddle_attn.training.train`（第 5 节中一行命令的方式）进行微调，并用同样的配方把未剪枝的网络再训练同样多的 epoch
# （对照组：剪枝后的网络比未剪枝的网络多训练了这些 epoch）。
#
# Liu 等人使用 $\lambda = 10^{-4}$，训练 160 个 epoch。第 6 节的上限同样适用于这一惩罚项：它单独最多能把一个缩放因子移动
# $\lambda \sum_t \eta_t / (1 - m)$，对本次 5 个 epoch 的训练而言，$10^{-4}$ 只有 0.002。本 notebook 取 $\lambda = 10^{-2}$，
# 这里最多能移动约 0.2：足以在直方图中看出，而相对缩放因子的初始值 1 仍然较小。下面的单元打印本次训练的这一上限。
# %%
BN_SPARSITY = 1e-2  # lambda; Liu et al.: 1e-4 over 160 epochs (see above)
reach = BN_SPARSITY * sum(scalars["ResNet-18 + NAM"]["train/lr"][1]) / (1 - MOMENTUM)  # section 5's schedule
print(f"lambda = {BN_SPARSITY:g}: the penalty alone moves a scale by at most {reach:.3f} in this run")
runs["ResNet-18 + NAM, bn_sparsity"] = ("resnet18_nam", OUT / "resnet18_nam_bn_sparsity")
fit(*runs["ResNet-18 + NAM, bn_sparsity"], bn_sparsity=BN_SPARSITY)

# %% [markdown] en
# The scales pruning ranks: $|\gamma|$ of every prunable batch norm (each residual block's inner channels), of the
# best checkpoint of each run. Each run's VisualDL log (`vdl/` in its folder) holds the same scales per stage after
# every epoch (`BatchNormScaleLogger`, which `paddle-attn-train` adds to every run).
# %% [markdown] zh
# 剪枝所依据的缩放因子：两次训练的最优 checkpoint 中每个可剪枝 BN（各残差块内部通道）的 $|\gamma|$。
# 每次训练的 VisualDL 日志（其目录下的 `vdl/`）中也记录了每个 epoch 结束时各 stage 的这些缩放因子（`BatchNormScaleLogger`，
# `paddle-attn-train` 的每次训练都会添加它）。
# %%
from paddle_attn.pruning import channel_sets


def prunable_scales(run_dir):
    """|gamma| of the batch norms network slimming ranks (each residual block's inner channels), all layers."""
    net, _ = open_network(run_dir)
    return np.concatenate([np.abs(channel_set.norm.weight.numpy()) for channel_set in channel_sets(net)])


scales = {
    "section 5: no penalty": prunable_scales(runs["ResNet-18 + NAM"][1]),
    f"bn_sparsity = {BN_SPARSITY:g}": prunable_scales(runs["ResNet-18 + NAM, bn_sparsity"][1]),
}
figure, ax = plt.subplots(figsize=(8, 3.2))
bins = np.linspace(0, max(values.max() for values in scales.values()) * 1.05, 120)
for label, values in scales.items():
    ax.hist(values, bins=bins, alpha=0.6, label=label)
    low, median, high = np.percentile(values, [10, 50, 90])
    near_zero = np.mean(values < 0.1 * median)  # Liu et al.'s Fig. 4: a group of channels near 0 after a long run
    print(
        f"{label}: {values.size} channels, |gamma| median {median:.3f}, 10-90 % range {low:.3f} .. {high:.3f} "
        f"({(high - low) / median:.1%} of the median), under a tenth of the median: {near_zero:.1%}"
    )
ax.set_xlabel("|γ| of a prunable BatchNorm channel")
ax.set_ylabel("channels")
ax.set_title("ResNet-18 + NAM, the inner channels of its residual blocks")
ax.legend()
figure.tight_layout()
figure.savefig(OUT / "bn_scales.png", dpi=90)
plt.show()
without, with_penalty = scales.values()
shift = np.median(without) - np.median(with_penalty)
separated = np.mean(with_penalty < 0.1 * np.median(with_penalty)) > 0.05  # a twentieth of the channels near 0
print(
    f"the penalty moved the median scale by {shift:.3f} (its bound: {reach:.3f}); "
    + (
        "it has separated a group of channels near 0"
        if separated
        else "no group of channels near 0 yet: at this length the ranking rests on small differences"
    )
)
# %% [markdown] en
# *Figure: the |γ| of the 1,920 prunable channels of each ResNet-18 + NAM (its residual blocks' inner channels),
# without the penalty (section 5) and with it.*
#
# In a short run the penalty moves every scale towards 0 by about the same amount, up to the bound printed above, while
# the loss has barely told the channels apart: the histogram shifts as a whole. Liu et al.'s Fig. 4, a group of
# channels at 0 and the rest held up by the loss, comes after their 160 epochs; the cell above says whether this
# run got there. Pruning below removes the smallest scales either way, and fine-tuning repairs what that costs.
# %% [markdown] zh
# *图：两个 ResNet-18 + NAM 的 1,920 个可剪枝通道（各残差块内部的通道）的 |γ|，分别为不加惩罚（第 5 节）与加惩罚的训练。*
#
# 在很短的训练中，惩罚项把每个缩放因子向 0 推动的量大致相同（最多为上面打印的上限），而损失函数还几乎没有区分出各个通道：
# 直方图整体平移。Liu 等人的图 4 那样一部分通道落到 0、其余通道被损失函数维持住的分布，出现在他们 160 个 epoch 的训练之后；
# 上面的单元给出本次训练是否已经达到这一点。下面的剪枝无论如何都剪除最小的缩放因子，由微调来弥补剪枝带来的损失。
# %%
from paddle_attn.pruning.run_folder import prune_run
from paddle_attn.training import evaluate, train

sparse_dir = runs["ResNet-18 + NAM, bn_sparsity"][1]
pruned_dir = OUT / "resnet18_nam_pruned"
finetune_epochs = 1 if QUICK else 3
shutil.rmtree(pruned_dir, ignore_errors=True)  # prune_run writes into a new folder only
pruned, checkpoint = prune_run(sparse_dir, pruned_dir, flops_reduction=0.4, round_to=8, finetune_epochs=finetune_epochs)
(params_before, params_after), (flops_before, flops_after) = pruned.params, pruned.flops
print(f"params {params_before:,} -> {params_after:,} ({1 - params_after / params_before:.1%} fewer)")
print(f"FLOPs  {flops_before:,} -> {flops_after:,} ({1 - flops_after / flops_before:.1%} fewer), one 32x32 image")
removed = [np.abs(s.norm.weight.numpy())[np.setdiff1d(np.arange(s.width), k)] for s, k in zip(pruned.sets, pruned.kept)]
kept_scales = [np.abs(s.norm.weight.numpy())[k] for s, k in zip(pruned.sets, pruned.kept)]
print(
    f"removed {sum(r.size for r in removed)} of {sum(s.width for s in pruned.sets)} inner channels, "
    f"|gamma| up to {max(r.max() for r in removed if r.size):.3f}; the smallest kept: {min(k.min() for k in kept_scales):.3f}"
)
print("inner widths:", ", ".join(f"{s.block} {len(k)}/{s.width}" for s, k in zip(pruned.sets, pruned.kept)))
steps_per_epoch = math.ceil(10 * train_per_class / batch_size)
# benchmarks/pruning.py's fine-tuning recipe, one line of progress per epoch
recipe = ["lr.base=0.02", "lr.warmup_steps=0", "train.verbose=2", f"train.log_freq={steps_per_epoch}"]
finetune = load_config(str(pruned_dir / "config.yaml"), recipe, saved_run=True)  # the run folder prune_run wrote
top1 = {"unpruned": max(read_scalars(sparse_dir)["eval/top1"][1])}
top1["pruned"] = evaluate(finetune, pruned_dir, verbose=0)["top1"]
print(f"top-1: unpruned (best epoch) {top1['unpruned']:.3f}, right after pruning {top1['pruned']:.3f} (chance 0.100)")

# %% [markdown] en
# Fine-tuning: `train` on the pruned run's `config.yaml` (into `resnet18_nam_pruned/finetune/`), at
# `benchmarks/pruning.py`'s fine-tuning recipe (LR 0.02, no warm-up, cosine); then the control, the unpruned network
# trained on from its best checkpoint with the same recipe and epochs. `train` puts the convolutions on this
# project's oneDNN kernels where they pass their self-check (its first line says which), so these runs are faster
# per image than section 5's `fit`.
# %% [markdown] zh
# 微调：用 `train` 读取剪枝后训练目录的 `config.yaml`（输出到 `resnet18_nam_pruned/finetune/`），使用 `benchmarks/pruning.py`
# 的微调配方（学习率 0.02，无预热，余弦衰减）；然后是对照组：未剪枝的网络从其最优 checkpoint 出发，以相同的配方和 epoch 数继续训练。
# `train` 在本项目的 oneDNN 卷积算子通过自检时使用它们（第一行输出说明用了哪种），因此这些训练每张图像比第 5 节的 `fit` 更快。
# %%
import logging

from paddle_attn import checkpoint as ckpt

logging.getLogger("utils.cpp_extension").setLevel(logging.WARNING)  # Paddle's INFO line as it loads those kernels
start = time.perf_counter()
top1["pruned + fine-tuned"] = train(finetune)["best_top1"]
print(f"fine-tuned {finetune_epochs} epoch(s): {time.perf_counter() - start:.0f} s\n")
control = load_config(
    "resnet50_nam_cifar100",
    overrides=[
        "model.name=resnet18_nam",
        *overrides,
        *recipe,
        f"train.epochs={finetune_epochs}",
        f"model.pretrained={ckpt.resolve(sparse_dir)}",  # its best checkpoint
        f"run.output_dir={OUT / 'resnet18_nam_trained_on'}",
    ],
)
shutil.rmtree(control["run"]["output_dir"], ignore_errors=True)
start = time.perf_counter()
top1["unpruned, trained on as long"] = train(control)["best_top1"]
print(f"control, {finetune_epochs} epoch(s): {time.perf_counter() - start:.0f} s")

# %%
sizes = {name: (params_before, flops_before) for name in ("unpruned", "unpruned, trained on as long")}
sizes.update({name: (params_after, flops_after) for name in ("pruned", "pruned + fine-tuned")})
table = ["| ResNet-18 + NAM | params | MFLOPs | eval top-1 |", "| --- | ---: | ---: | ---: |"]
for name in ("unpruned", "pruned", "pruned + fine-tuned", "unpruned, trained on as long"):
    params, flops = sizes[name]
    table.append(f"| {name} | {params / 1e6:.2f} M | {flops / 1e6:.1f} | {top1[name]:.3f} |")
display(
    Markdown(
        "\n".join(table) + f"\n\n32x32 input, {10 * test_per_class} test images (chance: top-1 0.100); epochs: "
        f"{epochs} with bn_sparsity = {BN_SPARSITY:g}, then {finetune_epochs} of fine-tuning (pruned to 40 % fewer "
        f"FLOPs) or of training on (unpruned); top-1 is each run's best epoch (after pruning: the pruned checkpoint's)."
    )
)
gap = top1["pruned + fine-tuned"] - top1["unpruned, trained on as long"]
if QUICK or top1["unpruned"] < 0.3:  # three times chance
    print("the unpruned network has not learned the shapes in this run (quick mode learns nothing): no comparison")
else:
    print(
        f"pruning took top-1 from {top1['unpruned']:.3f} to {top1['pruned']:.3f}; {finetune_epochs} epochs of "
        f"fine-tuning brought it to {top1['pruned + fine-tuned']:.3f}, {gap:+.3f} against the unpruned network "
        f"trained on as long ({top1['unpruned, trained on as long']:.3f}), with {1 - flops_after / flops_before:.0%} "
        f"fewer FLOPs and {1 - params_after / params_before:.0%} fewer parameters: "
        + (
            "as accurate, within 0.05"
            if abs(gap) <= 0.05
            else ("more" if gap > 0 else "less") + " accurate by more than 0.05"
        )
        + f" (one of the {10 * test_per_class} test images is {1 / (10 * test_per_class):.3f} of top-1)"
    )
# %% [markdown] en
# What this short run can show: the pipeline end to end (penalty, scales, pruning, fine-tuning) and the sizes,
# which are exact; its top-1 figures come from a few epochs on 200 test images, where a few points are within what
# another seed gives (the sentence above compares within 0.05). In quick mode nothing learns.
#
# The longer measurement is `benchmarks/pruning.py` (README, "Prune channels (network slimming)"): the same
# ResNet-18 + NAM with the ImageNet stem at 32 px, trained 12 epochs on 2,000 generated shapes with
# `loss.bn_sparsity=1e-3`, pruned to 40 % fewer FLOPs with widths rounded to multiples of 8 (11.20 M -> 6.91 M
# parameters, 37.1 -> 22.3 MFLOPs), 44.2 % top-1 right after pruning, 97.4 % after 6 epochs of fine-tuning, equal
# to the unpruned network trained on as long (97.4 %; the unpruned run itself 94.2 %); the exported fp32 model ran
# 1.44x faster through Paddle Inference and 1.65x through OpenVINO at batch 64 on 2 cores (OpenVINO's int8 1.18x).
# On scikit-learn's handwritten digits the same recipe gave 96.7 % after pruning and fine-tuning against 97.6 %
# unpruned. From the command line:
#
# ```bash
# paddle-attn-train -c configs/quickstart.yaml -o loss.bn_sparsity=1e-3
# paddle-attn-prune --checkpoint output/quickstart --flops-reduction 0.4 --round-to 8 --output output/quickstart_pruned
# paddle-attn-train -c output/quickstart_pruned/config.yaml   # fine-tunes into output/quickstart_pruned/finetune
# ```
# %% [markdown] zh
# 这次短时间训练能说明的是：整个流程（惩罚项、缩放因子、剪枝、微调）和网络的大小，大小是精确的；top-1 来自只有几个 epoch 的训练、
# 200 张测试图像，几个百分点的差别在换一个随机种子就会出现的范围之内（上面的句子以 0.05 为界进行比较）。快速试运行模式下网络学不到东西。
#
# 更长的测量见 `benchmarks/pruning.py`（README 的“Prune channels (network slimming)”一节）：同样是 ImageNet stem、32 像素输入的
# ResNet-18 + NAM，在 2,000 张生成的图形图像上以 `loss.bn_sparsity=1e-3` 训练 12 个 epoch，剪掉 40% 的 FLOPs，
# 每层宽度取 8 的倍数（参数量 11.20 M -> 6.91 M，计算量 37.1 -> 22.3 MFLOPs），剪枝后 top-1 为 44.2%，
# 微调 6 个 epoch 后为 97.4%，与继续训练同样多 epoch 的未剪枝网络相同（97.4%；未剪枝网络本身为 94.2%）；
# 导出的 fp32 模型在 2 核 CPU、batch 64 下，Paddle Inference 快 1.44 倍，OpenVINO 快 1.65 倍（OpenVINO 的 int8 快 1.18 倍）。
# 在 scikit-learn 的手写数字数据集上，同样的方案剪枝并微调后为 96.7%，未剪枝为 97.6%。命令行方式：
#
# ```bash
# paddle-attn-train -c configs/quickstart.yaml -o loss.bn_sparsity=1e-3
# paddle-attn-prune --checkpoint output/quickstart --flops-reduction 0.4 --round-to 8 --output output/quickstart_pruned
# paddle-attn-train -c output/quickstart_pruned/config.yaml   # 微调，输出到 output/quickstart_pruned/finetune
# ```
