# %% [markdown] en
# # Channel attention: SE and ECA
#
# This tutorial builds the two channel-attention blocks of `paddle_attn`, **Squeeze-and-Excitation (SE)**
# and **Efficient Channel Attention (ECA)**, looks at what they compute on a random tensor, puts ECA into a
# ResNet-50 exactly as the ECA-Net tutorial (PyTorch) does, checks the parameter count against it, converts
# its PyTorch weights, trains a small ECA network on a generated data set, looks inside it, and exports it
# for prediction on the CPU.
#
# Everything runs offline on a CPU. Set `PADDLE_ATTN_TUTORIAL_QUICK=1` for a smoke run of under a minute
# (fewer images, one epoch); without it the notebook takes a few minutes on two cores.
# %% [markdown] zh
# # 通道注意力：SE 与 ECA
#
# 本教程介绍 `paddle_attn` 中的两种通道注意力模块：**Squeeze-and-Excitation（SE）** 与
# **Efficient Channel Attention（ECA）**。我们先在随机张量上观察它们的计算结果，再按照 ECA-Net 教程（PyTorch 版）
# 的结构把 ECA 放进 ResNet-50，核对参数量，转换 PyTorch 权重，然后在生成的数据集上训练一个小型 ECA 网络，
# 查看其注意力，最后导出模型并在 CPU 上推理。
#
# 全部内容均可在 CPU 上离线运行。设置 `PADDLE_ATTN_TUTORIAL_QUICK=1` 可进行一分钟以内的快速运行（图像更少，只训练 1 个 epoch）；
# 不设置时，在 2 核 CPU 上需要几分钟。

# %%
import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

QUICK = os.environ.get("PADDLE_ATTN_TUTORIAL_QUICK") == "1"
# Jupyter may start in docs/tutorials/en/: work from the checkout, the nearest folder up holding setup.py
os.chdir(next(folder for folder in (Path.cwd(), *Path.cwd().parents) if (folder / "setup.py").is_file()))
sys.path.insert(0, os.getcwd())  # this checkout's paddle_attn and torch_reference, whatever copy is installed
import paddle_attn  # noqa: E402 (before paddle: it imports paddle without the "No ccache found" warning)

settings = paddle_attn.apply_cpu_settings()  # a notebook is an entry point: every core, fast BLAS
import paddle  # noqa: E402

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
# ## 2. The layers on a random tensor
#
# `SqueezeExcitation` and `EfficientChannelAttention` (in `paddle_attn.layers`) return the input times their
# gate; `gate(x)` returns the gate alone, so we can look at it. Parameters come from
# `paddle_attn.analysis.count_params`, FLOPs from `count_flops` (Paddle's `paddle.flops` rules: the sigmoid
# and the product with the gate count zero).
# %% [markdown] zh
# ## 2. 在随机张量上运行注意力层
#
# `paddle_attn.layers` 中的 `SqueezeExcitation` 与 `EfficientChannelAttention` 返回输入乘以门控（gate）后的结果；
# `gate(x)` 单独返回门控值，便于观察。参数量由 `paddle_attn.analysis.count_params` 统计，计算量 FLOPs 由
# `count_flops` 统计（采用 `paddle.flops` 的规则：sigmoid 和与门控相乘的操作计为 0）。

# %%
from paddle_attn.analysis import count_flops, count_params
from paddle_attn.layers import EfficientChannelAttention, SqueezeExcitation
from paddle_attn.layers.eca import eca_kernel_size

paddle.seed(0)
channels, size = 256, 8
x = paddle.randn([2, channels, size, size])
blocks = {"SE (r=16)": SqueezeExcitation(channels, reduction=16), "ECA": EfficientChannelAttention(channels)}
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
# With random weights both gates stay near 0.5 and look alike. They differ in what they can learn: each ECA
# value sees the averages of only $k$ neighbouring channels (5 here, for 256 channels), each SE value those of
# all 256 through the bottleneck, with far more parameters (the ratio is printed above).
# %% [markdown] zh
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
# ECA-Net 教程使用 CIFAR 主干（一个 3x3 卷积，无最大池化）构建 ResNet-50，在每个瓶颈块的最后一个 BatchNorm
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
# on the same random images: their logits must agree. This cell needs PyTorch (`pip install torch`) and is
# skipped without it.
# %% [markdown] zh
# ## 4. 从 PyTorch 教程的网络转换到 Paddle
#
# `torch_reference/eca_tutorial.py` 中是 ECA-Net 教程的 PyTorch 网络（保留其参数名）。
# `paddle_attn.convert.convert_and_compare(torch_net, "eca_tutorial", ...)` 先在训练模式下前向几次，使 BatchNorm 的统计量
# 偏离 0 和 1，以便让映射错误的统计量能够暴露出来；再用 `convert_state_dict` 把每个张量映射到 `resnet50_eca`
# （无法映射或形状不符的张量会报错），并让两个网络在相同的随机图像上运行：两者输出的 logits 必须一致。
# 本单元需要 PyTorch（`pip install torch`），未安装时跳过。

# %%
if importlib.util.find_spec("torch") is None:
    print("PyTorch is not installed: the conversion check is skipped (pip install torch to run it)")
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
# ## 5. Training
#
# The ECA-Net tutorial gives no training recipe; `paddle_attn` trains SE, ECA and CBAM ResNets with the NAM
# tutorial's CIFAR recipe (`configs/resnet50_eca_cifar100.yaml`: Momentum 0.9, weight decay 5e-4, linear
# warm-up then cosine decay). Here that config is loaded and shrunk with overrides so that it runs in
# minutes on a CPU: a **ResNet-18 with ECA** (ResNet-50 with the CIFAR stem is about 16 times more work per
# image), the ImageNet stem at 32 px as in the quick start, the generated 10-class shapes data set
# (`config.synthetic_data_overrides`: `data.dataset=synthetic`, written to `output/tutorials/se_eca/`), a short warm-up and a higher learning rate
# for a few epochs. `paddle_attn.training.train` runs `paddle.Model(...).prepare(...).fit(...)` with hapi's
# progress output, VisualDL logs and checkpoints.
# %% [markdown] zh
# ## 5. 训练
#
# ECA-Net 教程没有给出训练方案；`paddle_attn` 使用 NAM 教程的 CIFAR 训练方案训练 SE、ECA 和 CBAM 的 ResNet
# （`configs/resnet50_eca_cifar100.yaml`：Momentum 0.9，权重衰减 5e-4，线性预热后余弦衰减）。这里加载该配置，
# 并用覆盖参数（overrides）把它缩小到能在 CPU 上几分钟内跑完：**带 ECA 的 ResNet-18**（CIFAR 主干的 ResNet-50
# 每张图像的计算量约为其 16 倍），与快速开始相同的 ImageNet 主干、32 像素输入，生成的 10 类形状数据集
# （`config.synthetic_data_overrides`：`data.dataset=synthetic`，写入 `output/tutorials/se_eca/`），较短的预热和较高的学习率，只训练几个 epoch。
# `paddle_attn.training.train` 内部调用 `paddle.Model(...).prepare(...).fit(...)`，输出 hapi 的训练进度，
# 并写入 VisualDL 日志和检查点。

# %%
from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.training import train

run_dir = OUT / "resnet18_eca"
shutil.rmtree(run_dir, ignore_errors=True)  # a rerun of the notebook starts a fresh run
train_per_class, test_per_class, epochs, batch_size = (6, 2, 1, 16) if QUICK else (120, 30, 4, 64)
network = ["model.name=resnet18_eca", "model.stem=imagenet"]
# the quick start's rate: a few epochs, not 300
schedule = ["lr.base=0.05", "lr.warmup_steps=10", f"train.epochs={epochs}", f"train.batch_size={batch_size}"]
shapes = synthetic_data_overrides(OUT / "shapes.tar.gz", train_per_class, test_per_class)  # and its 10 classes
logging = ["train.log_freq=5", "train.verbose=2", f"run.output_dir={run_dir}"]
config = load_config("configs/resnet50_eca_cifar100.yaml", overrides=network + schedule + shapes + logging)
start = time.perf_counter()
result = train(config)
print(f"best eval top-1 {result['best_top1']:.3f} (chance 0.100) after {time.perf_counter() - start:.0f} s")

# %% [markdown] en
# The run's VisualDL log is in `output/tutorials/se_eca/resnet18_eca/vdl/`; to browse it:
#
# ```bash
# visualdl --logdir output/tutorials/se_eca --language en
# ```
#
# The same curves drawn here from the log (`paddle_attn.analysis.run_logs`, `run_figures.plot_curves`):
# %% [markdown] zh
# 本次训练的 VisualDL 日志位于 `output/tutorials/se_eca/resnet18_eca/vdl/`，可用下面的命令查看：
#
# ```bash
# visualdl --logdir output/tutorials/se_eca --language zh
# ```
#
# 下面直接从日志读取并画出相同的曲线（`paddle_attn.analysis.run_logs`、`run_figures.plot_curves`）：

# %%
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import read_scalars

scalars = read_scalars(run_dir)
print({tag: len(steps) for tag, (steps, _) in scalars.items()}, "points per tag")
display(plot_curves({"ECA ResNet-18": scalars}, OUT / "curves.png"))

# %% [markdown] en
# **On the real data set, with a GPU** (not run here: this machine has no GPU). The tutorial's network and
# recipe on CIFAR-100 (put `cifar-100-python.tar.gz` into `data/`; 300 epochs, batch 256):
#
# ```bash
# python tools/train.py -c configs/resnet50_eca_cifar100.yaml -o device.name=gpu
# python tools/train.py -c configs/resnet50_se_cifar100.yaml -o device.name=gpu    # SE, for comparison
# python tools/train.py -c configs/resnet50_cifar100.yaml -o device.name=gpu       # no attention
# ```
#
# The papers report ImageNet results, not CIFAR ones. ECA-Net-50 on ImageNet: **77.48 % top-1** in the
# paper (ResNet-50 75.20 % and SE-ResNet-50 76.71 % in its table), 77.42 % for the authors' released
# `eca_resnet50_k3557`. That recipe (SGD momentum 0.9, LR 0.1 divided by 10 every 30 epochs, 100 epochs,
# weight decay 1e-4, batch 256, random-resized crops of 224 px, kernel sizes 3, 5, 5, 7 per stage) is
# `configs/resnet50_eca_imagenet.yaml`:
#
# ```bash
# python tools/train.py -c configs/resnet50_eca_imagenet.yaml -o device.name=gpu
# ```
# %% [markdown] zh
# **在真实数据集和 GPU 上训练**（本机没有 GPU，此处未运行）。教程网络与训练方案在 CIFAR-100 上的命令如下
# （把 `cifar-100-python.tar.gz` 放到 `data/` 下；300 个 epoch，batch 256）：
#
# ```bash
# python tools/train.py -c configs/resnet50_eca_cifar100.yaml -o device.name=gpu
# python tools/train.py -c configs/resnet50_se_cifar100.yaml -o device.name=gpu    # SE，用于对比
# python tools/train.py -c configs/resnet50_cifar100.yaml -o device.name=gpu       # 无注意力
# ```
#
# 论文报告的是 ImageNet 而非 CIFAR 上的结果。ECA-Net-50 在 ImageNet 上：论文中 **top-1 为 77.48%**
# （同表中 ResNet-50 为 75.20%，SE-ResNet-50 为 76.71%），作者发布的 `eca_resnet50_k3557` 为 77.42%。
# 对应的训练方案（SGD momentum 0.9，学习率 0.1、每 30 个 epoch 除以 10，共 100 个 epoch，权重衰减 1e-4，batch 256，
# 224 像素随机缩放裁剪，各 stage 的卷积核大小为 3、5、5、7）即 `configs/resnet50_eca_imagenet.yaml`：
#
# ```bash
# python tools/train.py -c configs/resnet50_eca_imagenet.yaml -o device.name=gpu
# ```

# %% [markdown] en
# ## 6. Looking inside the trained network
#
# `paddle_attn.analysis.attention_maps` runs test images through the network once and records the gate
# every ECA block multiplied by, plus Grad-CAM of the predicted class. The test images are written as PNG
# files first (section 7 predicts them too) and read back with the checkpoint's own preprocessing.
# %% [markdown] zh
# ## 6. 查看训练后网络的注意力
#
# `paddle_attn.analysis.attention_maps` 让测试图像经过网络一次，记录每个 ECA 模块实际相乘的门控值，
# 并计算预测类别的 Grad-CAM。测试图像先保存为 PNG 文件（第 7 节也会用它们做推理），再按检查点自身的预处理方式读回。

# %%
from paddle_attn.analysis.attention_figures import plot_cam_grid, plot_gate_distributions, to_display
from paddle_attn.analysis.gates import attention_maps
from paddle_attn.analysis.report import open_network
from paddle_attn.data.synthetic import CLASS_NAMES, write_image_files
from paddle_attn.inference.predict import preprocess

image_dir = OUT / "images"
paths, labels = write_image_files(image_dir, 1 if QUICK else 2, seed=1)  # the test split's first images (seed 1)

trained, info = open_network(str(run_dir))  # the best checkpoint, in eval mode, and its preprocessing
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
# Each violin shows the values of the ECA gates of one stage over the test images: where a stage's gates
# spread away from 0.5, its channels are being switched up and down per image.
# %% [markdown] zh
# 每个小提琴图表示一个 stage 中 ECA 门控值在测试图像上的分布：门控值越偏离 0.5，说明该 stage 的通道越会随图像被增强或抑制。

# %% [markdown] en
# ## 7. Export and predict
#
# `tools/export.py` writes the trained checkpoint as Paddle's inference program and, with `--format onnx`,
# as `model.onnx`; `tools/infer.py` predicts image files with Paddle Inference, ONNX Runtime or OpenVINO.
# First the export; then `paddle_attn.inference.backend_speed` lists the backends that can run it here
# (`runnable_backends`: fp32, and bf16 where `paddle_attn.cpu.bf16_supported()` says the CPU has it) and times each
# on one batch (`time_backends`: images/s, and how far its logits are from Paddle fp32's); the fastest one
# predicts the images.
# %% [markdown] zh
# ## 7. 导出与推理
#
# `tools/export.py` 把训练得到的检查点导出为 Paddle 推理程序，加上 `--format onnx` 时还会导出 `model.onnx`；
# `tools/infer.py` 可使用 Paddle Inference、ONNX Runtime 或 OpenVINO 对图像文件进行推理。先导出模型，
# 再由 `paddle_attn.inference.backend_speed` 列出本机能运行它的后端（`runnable_backends`：fp32，以及
# `paddle_attn.cpu.bf16_supported()` 表明 CPU 支持时的 bf16），并在一个 batch 上逐一计时（`time_backends`：
# 每秒图像数，以及 logits 与 Paddle fp32 的差距）；最后用最快的后端对图像进行预测。

# %%
from paddle_attn.cli import run_script

formats = ["--format", "onnx"] if importlib.util.find_spec("paddle2onnx") else []  # the [onnx] extra
run_script("tools/export.py", "--checkpoint", run_dir, "--out", run_dir / "inference", *formats)

# %%
from paddle_attn.inference.backend_speed import runnable_backends, speed_table, time_backends

print("runnable here:", runnable_backends(run_dir / "inference"))
batch_images = np.resize(inputs, (8 if QUICK else 64, *inputs.shape[1:]))  # one batch: the test images repeated
rows = time_backends(run_dir / "inference", batch_images, repeats=2 if QUICK else 7)
display(Markdown(speed_table(rows)))

# %%
choice = ["--backend", rows[0]["backend"], "--precision", rows[0]["precision"]]  # rows[0]: the fastest
run_script("tools/infer.py", "--model", run_dir / "inference", *choice, "--top-k", "3", image_dir)

# %% [markdown] en
# Each line is one image: its file name (which holds the true class) and the three most likely classes
# with their probabilities. The same command works on your own images and on any checkpoint trained above.
# %% [markdown] zh
# 每行对应一张图像：文件名（包含真实类别）以及概率最高的三个类别和对应概率。同样的命令也适用于你自己的图像以及上面训练得到的任何检查点。
