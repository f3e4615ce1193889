# %% [markdown] en
# # NAM: normalization-based attention with paddle_attn
#
# This notebook follows the NAM tutorial (a PaddlePaddle project that adds NAM to a CIFAR-stem ResNet-50 and
# trains it on CIFAR-100) with the pieces of `paddle_attn`: the layer, the network and its parameter counts, a
# short training run through `paddle.Model.fit`, what the trained attention looks like, and export and prediction
# on this CPU. Every figure shown below is computed when the notebook runs.
#
# It runs offline on a CPU: training uses a generated data set of coloured shapes instead of CIFAR-100.
# Set `PADDLE_ATTN_TUTORIAL_QUICK=1` for a smoke run (fewer images, one epoch, fewer timing repeats).
# %% [markdown] zh
# # NAM：基于归一化的注意力机制（paddle_attn 实践）
#
# 本教程对应 NAM 的飞桨复现项目（在 CIFAR 结构的 ResNet-50 中加入 NAM，并在 CIFAR-100 上训练），
# 用 `paddle_attn` 的组件依次完成：注意力层、网络结构及其参数量、通过 `paddle.Model.fit` 的一次简短训练、
# 训练后注意力的可视化，以及在本机 CPU 上的模型导出与推理。下文展示的所有数值都由 notebook 运行时计算得出。
#
# 整个流程可离线在 CPU 上运行：训练使用程序生成的彩色图形数据集，而不是 CIFAR-100。
# 设置 `PADDLE_ATTN_TUTORIAL_QUICK=1` 可进行快速冒烟运行（更少的图像、1 个 epoch、更少的计时重复次数）。
# %%
import importlib.util
import math
import os
import shutil
import sys
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

plt.switch_backend(matplotlib.get_backend())  # in Jupyter, the inline one: the figures cells return are shown

QUICK = os.environ.get("PADDLE_ATTN_TUTORIAL_QUICK") == "1"
# Jupyter may start in docs/tutorials/en/: work from the checkout, the nearest folder up holding setup.py
os.chdir(next(folder for folder in (Path.cwd(), *Path.cwd().parents) if (folder / "setup.py").is_file()))
sys.path.insert(0, os.getcwd())  # this checkout's paddle_attn and torch_reference, whatever copy is installed
import paddle_attn  # noqa: E402 (before paddle: it imports paddle without the "No ccache found" warning)

settings = paddle_attn.apply_cpu_settings()  # a notebook is an entry point: every core, fast BLAS
import paddle  # noqa: E402

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
# ## 2. The layer on a random tensor
#
# `NormalizationAttention(C)` is the block (its `channel` branch is `NAMChannelAttention`). Its $\gamma$ starts at
# 1, which makes every $W_i$ equal; random scales stand in for trained ones here. `GateRecorder` records the gate
# the forward pass multiplied by, and the cell recomputes eq. 2 with NumPy to check it.
# %% [markdown] zh
# ## 2. 在随机张量上运行注意力层
#
# `NormalizationAttention(C)` 即 NAM 模块（其 `channel` 分支为 `NAMChannelAttention`）。$\gamma$ 初始化为 1，
# 此时所有 $W_i$ 相等；这里用随机缩放因子代替训练后的值。`GateRecorder` 记录前向计算中实际相乘的门控，
# 下面再用 NumPy 按式 2 重新计算一遍进行核对。
# %%
from paddle_attn.analysis import GateRecorder, count_flops, count_params
from paddle_attn.layers import NormalizationAttention

paddle.seed(0)
channels = 64
nam = NormalizationAttention(channels)
nam.eval()  # the gate on the batch norm's running statistics, as at inference
nam.channel.weight.set_value(paddle.uniform([channels], min=-1.0, max=1.0))
x = paddle.randn([2, channels, 16, 16])
with GateRecorder(nam) as recorder:
    y = nam(x)
(recorded,) = recorder.gates()
print(f"input {x.shape} -> output {y.shape}; gate {recorded.name!r} ({recorded.kind}) {list(recorded.values.shape)}")

total, trainable = count_params(nam)
flops, uncounted = count_flops(nam, [1, channels, 16, 16])
print(f"parameters: {trainable} trainable (gamma, beta) + {total - trainable} running statistics = {total}")
print(f"FLOPs by paddle.flops' rules: {flops} (layer types they do not count: {uncounted})")
print(f"a batch norm over the same map, as those rules count one (2 per element): {2 * channels * 16 * 16}")

# eq. 2 by hand: W = |gamma| / sum |gamma|, BN on running mean 0 and variance 1, epsilon 1e-5 (Paddle's default)
gamma = np.abs(nam.channel.weight.numpy())
w = gamma / gamma.sum()
normed = nam.channel.weight.numpy()[None, :, None, None] * x.numpy() / np.sqrt(1.0 + 1e-5)
by_hand = 1.0 / (1.0 + np.exp(-w[None, :, None, None] * normed))
assert np.allclose(recorded.values, by_hand, atol=1e-6)
assert np.allclose(y.numpy(), x.numpy() * by_hand, atol=1e-5)
print(f"W sums to {w.sum():.4f}, spans {w.min():.5f} .. {w.max():.5f} (1/C = {1 / channels:.5f})")
print(f"gate values {recorded.values.min():.4f} .. {recorded.values.max():.4f}: W ~ 1/C keeps them near 0.5")

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
# 而它的"可训练"参数量还包含了 BN 的 $\gamma$ 和 $\beta$，教程所用的旧版 Paddle 没有计入这两项。
# 它们的数量与 BN 的滑动均值和方差（总参数量减可训练参数量）恰好相等，因此教程的数值等于可训练参数量再减去这个差值。
# %%
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

batch, warmup, iterations = (2, 1, 2) if QUICK else (16, 2, 5)
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
# ## 5. Training with the tutorial's recipe
#
# The tutorial trains for 300 epochs on CIFAR-100 with Momentum 0.9, weight decay 5e-4, batch 256, a linear
# warm-up over 2000 steps into a cosine decay from 0.01, and reports top-1 and top-5. That recipe is
# `configs/resnet50_nam_cifar100.yaml`; the cell loads it and overrides only what a CPU run of a few minutes needs:
#
# - data: the generated 10-class shapes (`dataset: synthetic`, written under `output/tutorials/nam/`), the
#   overrides of `config.synthetic_data_overrides`;
# - network: ResNet-18 + NAM with the ImageNet stem (7x7 stride-2 convolution and max-pool), as `configs/quickstart.yaml`:
#   at 32 px it computes 16x less than the CIFAR stem, which is what makes training on two CPU cores take minutes;
#   the ResNet-50 of section 3 would take hours;
# - epochs, batch 64, LR 0.05 (the quick start's: few steps need larger ones) and a warm-up over the same share
#   of the steps as the tutorial's (2000 of 300 x 196);
# - loader workers 0: the two cores are busy training.
#
# Optimizer, weight decay, schedule shape, augmentation and metrics stay the tutorial's. `train` runs
# `paddle.Model.fit` with hapi's progress bar, writes VisualDL logs and checkpoints; the notebook starts its run
# afresh, removing its own previous run folder.
# %% [markdown] zh
# ## 5. 按教程的配方训练
#
# 教程在 CIFAR-100 上训练 300 个 epoch：Momentum 0.9，权重衰减 5e-4，batch 256，学习率先在 2000 步内线性预热，
# 再从 0.01 余弦衰减，评估 top-1 和 top-5。这套配方即 `configs/resnet50_nam_cifar100.yaml`；
# 下面的代码加载该配置，只覆盖在 CPU 上几分钟跑完所必需的几项：
#
# - 数据：程序生成的 10 类图形数据集（`dataset: synthetic`，写在 `output/tutorials/nam/` 下），即
#   `config.synthetic_data_overrides` 给出的覆盖参数；
# - 网络：使用 ImageNet 结构 stem（7x7 步长 2 卷积加最大池化）的 ResNet-18 + NAM，与 `configs/quickstart.yaml` 相同：
#   在 32 像素输入下计算量只有 CIFAR stem 的 1/16，这样在两个 CPU 核上训练只需几分钟；第 3 节的 ResNet-50 则需要数小时；
# - epoch 数、batch 64、学习率 0.05（与 quick start 相同：步数少时需要更大的步长），预热步数占总步数的比例与教程相同（300 x 196 步中的 2000 步）；
# - 数据加载进程数为 0：两个核都用于训练。
#
# 优化器、权重衰减、学习率曲线的形状、数据增强和评估指标都保持教程的设置。`train` 调用 `paddle.Model.fit`，
# 显示 hapi 的进度条，写入 VisualDL 日志和 checkpoint；每次运行 notebook 都会删除自己上一次的训练目录，重新开始。
# %%

from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.training import train

run_dir = OUT / "resnet18_nam_shapes"
train_per_class, test_per_class, epochs, batch_size = (10, 5, 1, 32) if QUICK else (120, 30, 4, 64)
steps = epochs * math.ceil(10 * train_per_class / batch_size)
warmup_steps = max(1, round(steps * 2000 / (300 * 196)))  # the tutorial: 2000 of 300 epochs x 196 steps
config = load_config(
    "configs/resnet50_nam_cifar100.yaml",
    overrides=[
        "model.name=resnet18_nam",
        "model.stem=imagenet",
        *synthetic_data_overrides(OUT / "shapes.tar.gz", train_per_class, test_per_class),
        "lr.base=0.05",
        f"lr.warmup_steps={warmup_steps}",
        f"train.epochs={epochs}",
        f"train.batch_size={batch_size}",
        "train.log_freq=5",
        f"run.output_dir={run_dir}",
    ],
)
print({section: config[section] for section in ("model", "optimizer", "lr", "loss", "train")})
shutil.rmtree(run_dir, ignore_errors=True)
start = time.perf_counter()
result = train(config)
print(f"trained in {time.perf_counter() - start:.0f} s; best eval top-1 {result['best_top1']:.3f} (chance 0.100)")

# %% [markdown] en
# The curves, read back from the run's VisualDL log. To browse them interactively:
# `visualdl --logdir output/tutorials/nam --language en` (then open http://localhost:8040).
# %% [markdown] zh
# 从本次训练的 VisualDL 日志中读出的曲线。如需交互式查看：
# `visualdl --logdir output/tutorials/nam --language zh`（然后打开 http://localhost:8040）。
# %%
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import log_files, read_scalars

print("VisualDL log:", log_files(run_dir))
scalars = read_scalars(run_dir)
print({tag: [round(v, 4) for v in values[-1:]] for tag, (_, values) in scalars.items()})
display(plot_curves({"ResNet-18 + NAM": scalars}, OUT / "curves.png"))

# %% [markdown] en
# **On a GPU with the real data** (not run here: this machine has no GPU and no CIFAR-100). Put
# `cifar-100-python.tar.gz` (https://www.cs.toronto.edu/~kriz/cifar.html) at `data/` and run the tutorial's recipe,
# then its baseline:
#
# ```bash
# python tools/train.py -c configs/resnet50_nam_cifar100.yaml -o device.name=gpu
# python tools/train.py -c configs/resnet50_cifar100.yaml -o device.name=gpu
# python tools/compare.py --results output/resnet50_nam_cifar100 output/resnet50_cifar100 --out output/compare
# ```
#
# That is ResNet-50 + NAM, CIFAR stem, 300 epochs, batch 256, Momentum 0.9, LR 0.01 with 2000 warm-up steps then
# cosine, weight decay 5e-4, 4 loader workers, no sparsity penalty. The paper's own recipe, with the penalty
# ($p = 10^{-4}$), SGD 0.1 divided by 5 at epochs 60, 120 and 160, 200 epochs, batch 128, is
# `configs/resnet50_nam_cifar100_authors.yaml`; `-o loss.nam_sparsity=1e-4` adds the penalty to the tutorial's recipe.
# Published accuracy: the tutorial shows its top-1/top-5 only as curve images, and the paper's table for ResNet-50 +
# NAM on CIFAR-100 (arXiv:2111.12419) could not be read from this machine, so no figure is quoted here: check the
# paper before comparing.
# %% [markdown] zh
# **在 GPU 上使用真实数据训练**（本机没有 GPU，也没有 CIFAR-100，因此这里没有运行）。把
# `cifar-100-python.tar.gz`（https://www.cs.toronto.edu/~kriz/cifar.html）放到 `data/` 下，先运行教程的配方，再运行其基线：
#
# ```bash
# python tools/train.py -c configs/resnet50_nam_cifar100.yaml -o device.name=gpu
# python tools/train.py -c configs/resnet50_cifar100.yaml -o device.name=gpu
# python tools/compare.py --results output/resnet50_nam_cifar100 output/resnet50_cifar100 --out output/compare
# ```
#
# 即 ResNet-50 + NAM、CIFAR stem、300 个 epoch、batch 256、Momentum 0.9、学习率 0.01（2000 步预热后余弦衰减）、
# 权重衰减 5e-4、4 个数据加载进程、不加稀疏惩罚。论文作者自己的配方（带惩罚项 $p = 10^{-4}$，SGD 学习率 0.1，在第 60、120、160 个 epoch 各除以 5，
# 共 200 个 epoch，batch 128）为 `configs/resnet50_nam_cifar100_authors.yaml`；在教程配方上加 `-o loss.nam_sparsity=1e-4` 即可加入惩罚项。
# 公开精度：教程只以曲线图的形式给出 top-1/top-5，而论文（arXiv:2111.12419）中 ResNet-50 + NAM 在 CIFAR-100 上的表格
# 无法在本机查阅，因此这里不引用具体数值，比较之前请以论文为准。
# %% [markdown] en
# ## 6. Inside the trained network
#
# The best checkpoint, reloaded, on the first test images (also written as PNG files for section 7). NAM's
# picture is its normalized scales $|\gamma_i| / \sum_j |\gamma_j|$ per stage, times the block's channel count so
# that 1 is an equal share; the sparsity penalty is what pushes channels under the threshold, and this run trained
# without it, as the tutorial does. Grad-CAM shows where the evidence for the predicted class lies.
# %% [markdown] zh
# ## 6. 观察训练后的网络
#
# 重新加载最优 checkpoint，在测试集的前几张图像上分析（这些图像同时保存为 PNG 文件，供第 7 节使用）。
# NAM 的可视化是每个 stage 的归一化缩放因子 $|\gamma_i| / \sum_j |\gamma_j|$，再乘以该 block 的通道数，使 1 表示平均份额；
# 把通道压到阈值以下的是稀疏惩罚项，而本次训练与教程一样没有使用它。Grad-CAM 显示预测类别的依据位于图像的哪些位置。
# %%
from paddle_attn.analysis.attention_figures import plot_cam_grid, plot_nam_scales, to_display
from paddle_attn.analysis.gates import attention_maps, nam_scale_weights_by_stage, share_under
from paddle_attn.analysis.report import open_network
from paddle_attn.data.synthetic import CLASS_NAMES, write_image_files
from paddle_attn.inference.predict import preprocess

trained, info = open_network(run_dir)  # the best checkpoint, in eval mode, and its preprocessing
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
# Why the scales barely moved: every step, eq. 4's penalty moves each $\gamma$ towards 0 by $p \cdot \eta_t$ (the
# learning rate; momentum $m$ stretches that up to $1/(1-m)$ times), the same amount for every channel, so small
# scales reach 0 first and their shares $W_i$ fall. Weight decay also shrinks $\gamma$, but in proportion to its
# size, which leaves the shares unchanged. Over a run the penalty alone can move a scale by at most
# $p \sum_t \eta_t / (1 - m)$; the cell computes that for this run (from its logged learning rates) and for the
# authors' recipe (from its config).
# %% [markdown] zh
# 为什么缩放因子几乎没有变化：每一步，式 4 的惩罚项把每个 $\gamma$ 向 0 推动 $p \cdot \eta_t$（$\eta_t$ 为学习率；
# 动量 $m$ 最多把它放大到 $1/(1-m)$ 倍），所有通道的推动量相同，因此较小的缩放因子先到达 0，其份额 $W_i$ 随之下降。
# 权重衰减也会缩小 $\gamma$，但按其大小成比例缩小，各通道的份额保持不变。整个训练过程中，惩罚项单独最多能把一个缩放因子移动
# $p \sum_t \eta_t / (1 - m)$；下面分别计算本次训练（根据日志中记录的学习率）和作者配方（根据其配置文件）的这一上限。
# %%
authors = load_config("configs/resnet50_nam_cifar100_authors.yaml")
steps_per_epoch = math.ceil(50_000 / authors["train"]["batch_size"])  # CIFAR-100's 50,000 training images
lr_by_epoch = [
    authors["lr"]["base"] * authors["lr"]["gamma"] ** sum(epoch >= m for m in authors["lr"]["milestones"])
    for epoch in range(authors["train"]["epochs"])
]
budgets = {
    "this run": (sum(scalars["train/lr"][1]), config["optimizer"]["momentum"]),
    "the authors' recipe": (steps_per_epoch * sum(lr_by_epoch), authors["optimizer"]["momentum"]),
}
for name, (lr_sum, momentum) in budgets.items():
    reach = authors["loss"]["nam_sparsity"] * lr_sum / (1 - momentum)
    print(f"{name}: sum of learning rates {lr_sum:8.2f}; p = 1e-4 alone moves a gamma by at most {reach:.4f}")

# %% [markdown] en
# ## 7. Export and predict
#
# `tools/export.py` writes Paddle's inference program and, with `--format onnx` (when paddle2onnx is installed),
# `model.onnx` for ONNX Runtime and OpenVINO. `paddle_attn.inference.backend_speed.time_backends` then times every
# backend that can run here on the images above (fp32, and bf16 where `paddle_attn.cpu.bf16_supported()` says this
# CPU computes it natively), fastest first, with how far each one's logits are from Paddle fp32's; the cell checks
# that the fp32 backends agree with Paddle's logits and predicts with the fastest through `tools/infer.py`.
# %% [markdown] zh
# ## 7. 导出与推理
#
# `tools/export.py` 导出 Paddle 推理模型；加 `--format onnx`（需安装 paddle2onnx）时还会导出 `model.onnx`，
# 供 ONNX Runtime 和 OpenVINO 使用。然后 `paddle_attn.inference.backend_speed.time_backends` 在上述图像上为本机
# 能运行的每个推理后端计时（fp32，以及 `paddle_attn.cpu.bf16_supported()` 表明本机 CPU 原生支持时的 bf16），
# 按速度从快到慢列出，并给出各自 logits 与 Paddle fp32 的差距；检查各 fp32 后端与 Paddle 的 logits 一致，
# 然后用最快的后端通过 `tools/infer.py` 进行预测。
# %%
from paddle_attn.cli import run_script
from paddle_attn.inference.backend_speed import speed_table, time_backends

formats = ["--format", "onnx"] if importlib.util.find_spec("paddle2onnx") else []  # the [onnx] extra
run_script("tools/export.py", "--checkpoint", run_dir, "--out", run_dir / "inference", *formats)
rows = time_backends(run_dir / "inference", inputs, repeats=2 if QUICK else 10)
display(Markdown(speed_table(rows)))
assert all(row["difference"] < 1e-4 for row in rows if row["precision"] == "fp32")  # one program, other kernels
choice = ["--backend", rows[0]["backend"], "--precision", rows[0]["precision"]]  # rows[0]: the fastest
run_script("tools/infer.py", "--model", run_dir / "inference", *choice, "--top-k", "3", image_dir)
