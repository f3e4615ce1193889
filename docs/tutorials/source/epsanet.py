# %% [markdown] en
# # EPSANet: pyramid split attention with paddle_attn
#
# This notebook follows the two EPSANet tutorials: a PaddlePaddle project that builds the PSA module and
# EPSANet-50, prints its `paddle.summary` and compares it with ResNet-50 on CIFAR-10 resized to 224 px, and a
# PyTorch write-up of the same network with the authors' weight initialization. With `paddle_attn` it goes through
# the layer, the network and its parameter counts, the PyTorch network converted to Paddle, a short training run
# through `paddle.Model.fit`, the trained network's kernel-size weights and Grad-CAM, and export and prediction on
# this CPU. Every figure shown below is computed when the notebook runs.
#
# It runs offline on a CPU: training uses a generated data set of coloured shapes instead of CIFAR-10.
# Set `PADDLE_ATTN_TUTORIAL_QUICK=1` for a smoke run (fewer images, one epoch, fewer timing repeats).
# %% [markdown] zh
# # EPSANet：金字塔拆分注意力（paddle_attn 实践）
#
# 本教程对应两篇 EPSANet 教程：一篇是飞桨项目，搭建 PSA 模块和 EPSANet-50，打印 `paddle.summary`，
# 并在缩放到 224 像素的 CIFAR-10 上与 ResNet-50 对比；另一篇是同一网络的 PyTorch 实现，带有作者的权重初始化方式。
# 这里用 `paddle_attn` 依次完成：注意力层、网络结构及其参数量、把 PyTorch 网络转换为飞桨网络、通过 `paddle.Model.fit`
# 的一次简短训练、训练后各卷积核尺度的权重和 Grad-CAM，以及在本机 CPU 上的模型导出与推理。下文展示的所有数值都由 notebook 运行时计算得出。
#
# 整个流程可离线在 CPU 上运行：训练使用程序生成的彩色图形数据集，而不是 CIFAR-10。
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
# ## 2. The layer on a random tensor
#
# `PSAModule(64, 64)` is the PSA of EPSANet's first stage. `GateRecorder` records the softmax weights of each scale
# as the forward pass computes them; the cell rebuilds the output from the module's own convolutions and SE weight
# module, step by step as in section 1, to check it.
# %% [markdown] zh
# ## 2. 在随机张量上运行注意力层
#
# `PSAModule(64, 64)` 即 EPSANet 第一个 stage 中的 PSA 模块。`GateRecorder` 记录前向计算中各尺度的 softmax 权重；
# 下面再用该模块自己的卷积和 SE 权重模块，按第 1 节的步骤逐步重建输出进行核对。
# %%
from paddle_attn.analysis import GateRecorder, count_flops, count_params
from paddle_attn.layers import PSAModule

paddle.seed(0)
psa = PSAModule(64, 64)
psa.eval()
x = paddle.randn([2, 64, 32, 32])
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

# the four steps by hand: SPC, one shared SE per scale, softmax across scales, weight and concatenate (kernel 9 first)
with paddle.no_grad():
    features = [getattr(psa, f"conv_{i}")(x) for i in range(1, 5)]  # kernels 3, 5, 7, 9
    scores = paddle.stack([psa.se(f) for f in features], axis=1)  # (N, 4, C/4, 1, 1)
    attention = paddle.nn.functional.softmax(scores, axis=1)
    by_hand = paddle.concat([features[i] * attention[:, i] for i in range(4)][::-1], axis=1)
assert np.allclose(y.numpy(), by_hand.numpy(), atol=1e-5)
assert np.allclose(weights.values, attention.numpy()[:, ::-1, :, 0, 0], atol=1e-6)  # recorded in output order
assert np.allclose(weights.values.sum(axis=1), 1.0, atol=1e-6)
means = weights.values.mean(axis=(0, 2))
print("mean weight per kernel size:", ", ".join(f"{k}x{k} {m:.4f}" for k, m in zip(weights.kernel_sizes, means)))

# %% [markdown] en
# ## 3. The network: EPSANet-50 at 224 px
#
# The Paddle tutorial prints `paddle.Model(epsanet50()).summary((1, 3, 224, 224))` for 1000 classes: total
# 22,614,835 parameters, trainable 22,508,595. Paddle 3.x reports the same total; its "trainable" count also
# includes the batch norms' $\gamma$ and $\beta$, which the older Paddle of the tutorial left out. Those are exactly
# as many as the running means and variances (total minus trainable), so the tutorial's figure is trainable minus
# that difference; Paddle 3.x's trainable count is the one PyTorch gives (the paper's 22.56 M).
# %% [markdown] zh
# ## 3. 网络结构：224 像素输入的 EPSANet-50
#
# 飞桨教程打印了 1000 类时的 `paddle.Model(epsanet50()).summary((1, 3, 224, 224))`：总参数量 22,614,835，
# 可训练参数量 22,508,595。Paddle 3.x 给出相同的总参数量；而它的"可训练"参数量还包含了 BN 的 $\gamma$ 和 $\beta$，
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

batch, warmup, iterations = (1, 1, 1) if QUICK else (4, 1, 5)
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
# ## 4. The PyTorch network, converted
#
# `torch_reference/epsanet.py` is the PyTorch tutorial's EPSANet with its tensor names and its initialization
# (convolutions $\mathcal{N}(0, \sqrt{2/n})$ with $n = k^2 \cdot C_{out}$, batch norms scale 1 and shift 0).
# One forward pass in training mode gives its batch norms running statistics other than 0 and 1, so that a
# misplaced mean or variance would show; then `convert_state_dict(..., "epsanet")` maps every tensor onto
# `paddle_attn`'s EPSANet-50, and the two networks' logits are compared: the three steps of
# `paddle_attn.convert.convert_and_compare`. The cell is skipped when torch is missing.
# %% [markdown] zh
# ## 4. 转换 PyTorch 网络
#
# `torch_reference/epsanet.py` 是 PyTorch 教程中的 EPSANet，保留其参数名和初始化方式
# （卷积权重服从 $\mathcal{N}(0, \sqrt{2/n})$，$n = k^2 \cdot C_{out}$；BN 的缩放为 1、偏移为 0）。
# 先在训练模式下做一次前向计算，使 BN 的滑动均值和方差不再是 0 和 1，这样均值或方差映射错位就会暴露出来；
# 然后用 `convert_state_dict(..., "epsanet")` 把每个参数映射到 `paddle_attn` 的 EPSANet-50，并比较两个网络的 logits：
# 这三步即 `paddle_attn.convert.convert_and_compare`。
# 未安装 torch 时跳过此单元。
# %%
from paddle_attn.convert import convert_and_compare

if importlib.util.find_spec("torch") is None:
    print("torch is not installed: skipping the conversion (pip install torch==2.13.0 to run it)")
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
# ## 5. Training with the tutorial's recipe
#
# The Paddle tutorial trains EPSANet-50 and ResNet-50 for 10 epochs on CIFAR-10 resized to 224 px with ImageNet's
# mean and std, Adam at a constant 1e-3, batch 64, and logs to VisualDL. That recipe is
# `configs/epsanet50_cifar10.yaml`; the cell loads it and overrides only what a CPU run of a few minutes needs:
#
# - data: the generated 10-class shapes (`dataset: synthetic`, written under `output/tutorials/epsanet/`), the
#   overrides of `config.synthetic_data_overrides`;
# - input size 32 instead of 224: at 224 px EPSANet-50 computes 3.6 GFLOPs per image, 49x more, which would turn
#   the few minutes of training below into hours on two CPU cores;
# - a few hundred images and a few epochs, batch 32, loader workers 0 (the two cores are busy training).
#
# Network (EPSANet-50 as summarised above, 10 classes), optimizer, learning rate, preprocessing and metrics stay
# the tutorial's. A 22-million-parameter network sees too few images here to learn much: the run shows the
# machinery, not EPSANet's accuracy. `train` runs `paddle.Model.fit` with hapi's progress bar, writes VisualDL logs
# and checkpoints; the notebook starts its run afresh, removing its own previous run folder.
# %% [markdown] zh
# ## 5. 按教程的配方训练
#
# 飞桨教程在缩放到 224 像素的 CIFAR-10 上训练 EPSANet-50 和 ResNet-50 各 10 个 epoch：使用 ImageNet 的均值和标准差，
# Adam 优化器，恒定学习率 1e-3，batch 64，并记录到 VisualDL。这套配方即 `configs/epsanet50_cifar10.yaml`；
# 下面的代码加载该配置，只覆盖在 CPU 上几分钟跑完所必需的几项：
#
# - 数据：程序生成的 10 类图形数据集（`dataset: synthetic`，写在 `output/tutorials/epsanet/` 下），即
#   `config.synthetic_data_overrides` 给出的覆盖参数；
# - 输入尺寸 32 而不是 224：224 像素时 EPSANet-50 每张图像的计算量为 3.6 GFLOPs，是 32 像素时的 49 倍，
#   下面几分钟的训练在两个 CPU 核上会变成几个小时；
# - 几百张图像、几个 epoch、batch 32，数据加载进程数为 0（两个核都用于训练）。
#
# 网络（即上面打印的 EPSANet-50，10 类）、优化器、学习率、预处理和评估指标都保持教程的设置。
# 一个 2200 万参数的网络在这里见到的图像太少，学不到多少东西：这次训练展示的是训练流程，而不是 EPSANet 的精度。
# `train` 调用 `paddle.Model.fit`，显示 hapi 的进度条，写入 VisualDL 日志和 checkpoint；每次运行 notebook 都会删除自己上一次的训练目录，重新开始。
# %%
from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.training import train

run_dir = OUT / "epsanet50_shapes"
train_per_class, test_per_class, epochs, batch_size = (4, 2, 1, 20) if QUICK else (50, 20, 3, 32)
config = load_config(
    "configs/epsanet50_cifar10.yaml",
    overrides=[
        *synthetic_data_overrides(OUT / "shapes.tar.gz", train_per_class, test_per_class),
        "data.image_size=32",
        f"train.epochs={epochs}",
        f"train.batch_size={batch_size}",
        f"train.log_freq={max(1, math.ceil(10 * train_per_class / batch_size) // 4)}",
        f"run.output_dir={run_dir}",
    ],
)
print({section: config[section] for section in ("model", "data", "optimizer", "lr", "train")})
shutil.rmtree(run_dir, ignore_errors=True)
start = time.perf_counter()
result = train(config)
print(f"trained in {time.perf_counter() - start:.0f} s; best eval top-1 {result['best_top1']:.3f} (chance 0.100)")

# %% [markdown] en
# The curves, read back from the run's VisualDL log. To browse them interactively:
# `visualdl --logdir output/tutorials/epsanet --language en` (then open http://localhost:8040).
# %% [markdown] zh
# 从本次训练的 VisualDL 日志中读出的曲线。如需交互式查看：
# `visualdl --logdir output/tutorials/epsanet --language zh`（然后打开 http://localhost:8040）。
# %%
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import log_files, read_scalars

print("VisualDL log:", log_files(run_dir))
scalars = read_scalars(run_dir)
print({tag: [round(v, 4) for v in values[-1:]] for tag, (_, values) in scalars.items()})
display(plot_curves({"EPSANet-50": scalars}, OUT / "curves.png"))

# %% [markdown] en
# **On a GPU with the real data** (not run here: this machine has no GPU and no CIFAR-10). Put
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
# **在 GPU 上使用真实数据训练**（本机没有 GPU，也没有 CIFAR-10，因此这里没有运行）。把
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
# ## 6. Inside the trained network
#
# The best checkpoint, reloaded, on the first test images (also written as PNG files for section 7). EPSANet's
# picture is the softmax weight of each kernel size per stage, averaged over the images, channels and the stage's
# PSA modules: 0.25 each would mean the module mixes its four scales equally. Grad-CAM shows where the evidence for
# the predicted class lies.
# %% [markdown] zh
# ## 6. 观察训练后的网络
#
# 重新加载最优 checkpoint，在测试集的前几张图像上分析（这些图像同时保存为 PNG 文件，供第 7 节使用）。
# EPSANet 的可视化是每个 stage 中各卷积核尺寸的 softmax 权重，对图像、通道以及该 stage 的所有 PSA 模块取平均：
# 若四个尺度各为 0.25，说明模块对它们一视同仁。Grad-CAM 显示预测类别的依据位于图像的哪些位置。
# %%
from paddle_attn.analysis.attention_figures import plot_cam_grid, plot_scale_weights, to_display
from paddle_attn.analysis.gates import attention_maps
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

by_stage = {stage: (kernels, w.mean(axis=0)) for stage, (kernels, w) in maps.stage_scale_weights().items()}
for stage, (kernels, w) in by_stage.items():
    print(f"{stage}: " + ", ".join(f"{k}x{k} {v:.3f}" for k, v in sorted(zip(kernels, w))))
display(
    plot_scale_weights(
        by_stage, f"EPSANet-50: PSA weight per kernel size, mean over {len(inputs)} images", OUT / "psa.png"
    )
)

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
