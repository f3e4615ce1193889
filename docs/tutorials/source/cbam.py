# %% [markdown] en
# # CBAM: channel attention, then spatial attention
#
# This tutorial builds the **Convolutional Block Attention Module (CBAM)** of `paddle_attn`: its channel
# gate and its spatial gate on a random tensor, then CBAM inside a ResNet-50 exactly as the CBAM tutorial
# (PyTorch) builds it, with the parameter count checked against it, its PyTorch weights converted, a small
# CBAM network trained on a generated data set, its spatial attention drawn over the images, and the network
# exported for prediction on the CPU.
#
# Everything runs offline on a CPU. Set `PADDLE_ATTN_TUTORIAL_QUICK=1` for a smoke run of under a minute
# (fewer images, one epoch); without it the notebook takes a few minutes on two cores.
# %% [markdown] zh
# # CBAM：先通道注意力，后空间注意力
#
# 本教程介绍 `paddle_attn` 中的 **Convolutional Block Attention Module（CBAM）**：先在随机张量上观察它的通道门控和空间门控，
# 再按照 CBAM 教程（PyTorch 版）的结构把 CBAM 放进 ResNet-50，核对参数量，转换 PyTorch 权重，
# 然后在生成的数据集上训练一个小型 CBAM 网络，把空间注意力画在图像上，最后导出模型并在 CPU 上推理。
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
# ## 2. The layer on a random tensor
#
# `paddle_attn.layers.CBAM` is `ChannelAttention` followed by `SpatialAttention`; each has a `gate(x)`
# method that returns its gate alone. Parameters come from `paddle_attn.analysis.count_params`, FLOPs from
# `count_flops` (Paddle's `paddle.flops` rules: pooling across channels, the sigmoid and the products with
# the gates count zero).
# %% [markdown] zh
# ## 2. 在随机张量上运行 CBAM 层
#
# `paddle_attn.layers.CBAM` 由 `ChannelAttention` 和其后的 `SpatialAttention` 组成，二者都有单独返回门控值的 `gate(x)` 方法。
# 参数量由 `paddle_attn.analysis.count_params` 统计，计算量 FLOPs 由 `count_flops` 统计（采用 `paddle.flops` 的规则：
# 沿通道的池化、sigmoid 以及与门控相乘的操作计为 0）。

# %%
from paddle_attn.analysis import count_flops, count_params
from paddle_attn.layers import CBAM

paddle.seed(0)
channels, size = 256, 16
x = paddle.randn([2, channels, size, size])
block = CBAM(channels)  # the tutorial's defaults: r = 16, bias-free MLP, 7x7 spatial kernel
block.eval()
y = block(x)
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

figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2), width_ratios=[2.2, 1], layout="constrained")
left.plot(channel_gate.numpy()[0, :, 0, 0], linewidth=1)
left.set_xlabel("channel")
left.set_ylabel("gate value")
left.set_title("channel gate of image 0")
image = right.imshow(spatial_gate.numpy()[0, 0], cmap="viridis")
right.set_title(f"spatial gate of image 0 ({size}x{size})")
figure.colorbar(image, ax=right)
plt.show()

# %% [markdown] en
# ## 3. The network: CBAM-ResNet-50 of the CBAM tutorial
#
# The CBAM tutorial builds ResNet-50 with the CIFAR stem (one 3x3 convolution, no max-pool), CBAM after the
# last BatchNorm of every bottleneck, 1000 classes; torchinfo counts 28,065,864 parameters. `paddle.summary`
# counts the same as trainable, and BatchNorm's running mean and variance on top as total. The counts do
# not depend on the input size, so we summarise at 32x32 (the tutorial used 224x224).
# %% [markdown] zh
# ## 3. 网络：CBAM 教程中的 CBAM-ResNet-50
#
# CBAM 教程使用 CIFAR 主干（一个 3x3 卷积，无最大池化）构建 ResNet-50，在每个瓶颈块的最后一个 BatchNorm 之后加入 CBAM，
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

batch, warmup, iterations = (2, 0, 1) if QUICK else (16, 1, 3)
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
# ## 4. From the PyTorch tutorial's network to Paddle
#
# `torch_reference/cbam_tutorial.py` holds the CBAM tutorial's PyTorch network with its tensor names.
# `paddle_attn.convert.convert_and_compare(torch_net, "cbam_tutorial", ...)` first moves the BatchNorm statistics away
# from 0 and 1 by a few training-mode passes, so that a wrongly mapped statistic would show, then maps every tensor
# onto `resnet50_cbam` with `convert_state_dict` (an unmapped or misshapen tensor is an error) and runs both networks
# on the same random images: their logits must agree. This cell needs PyTorch (`pip install torch`) and is
# skipped without it.
# %% [markdown] zh
# ## 4. 从 PyTorch 教程的网络转换到 Paddle
#
# `torch_reference/cbam_tutorial.py` 中是 CBAM 教程的 PyTorch 网络（保留其参数名）。
# `paddle_attn.convert.convert_and_compare(torch_net, "cbam_tutorial", ...)` 先在训练模式下前向几次，使 BatchNorm 的统计量
# 偏离 0 和 1，以便让映射错误的统计量能够暴露出来；再用 `convert_state_dict` 把每个张量映射到 `resnet50_cbam`
# （无法映射或形状不符的张量会报错），并让两个网络在相同的随机图像上运行：两者输出的 logits 必须一致。
# 本单元需要 PyTorch（`pip install torch`），未安装时跳过。

# %%
if importlib.util.find_spec("torch") is None:
    print("PyTorch is not installed: the conversion check is skipped (pip install torch to run it)")
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
# ## 5. Training
#
# The CBAM tutorial gives no training recipe; `paddle_attn` trains SE, ECA and CBAM ResNets with the NAM
# tutorial's CIFAR recipe (`configs/resnet50_cbam_cifar100.yaml`: Momentum 0.9, weight decay 5e-4, linear
# warm-up then cosine decay). Here that config is loaded and shrunk with overrides so that it runs in
# minutes on a CPU: a **ResNet-18 with CBAM** (ResNet-50 with the CIFAR stem is about 16 times more work per
# image), the ImageNet stem at 32 px as in the quick start, the generated 10-class shapes data set
# (`config.synthetic_data_overrides`: `data.dataset=synthetic`, written to `output/tutorials/cbam/`), a short warm-up and a higher learning rate
# for a few epochs. `paddle_attn.training.train` runs `paddle.Model(...).prepare(...).fit(...)` with hapi's
# progress output, VisualDL logs and checkpoints.
# %% [markdown] zh
# ## 5. 训练
#
# CBAM 教程没有给出训练方案；`paddle_attn` 使用 NAM 教程的 CIFAR 训练方案训练 SE、ECA 和 CBAM 的 ResNet
# （`configs/resnet50_cbam_cifar100.yaml`：Momentum 0.9，权重衰减 5e-4，线性预热后余弦衰减）。这里加载该配置，
# 并用覆盖参数（overrides）把它缩小到能在 CPU 上几分钟内跑完：**带 CBAM 的 ResNet-18**（CIFAR 主干的 ResNet-50
# 每张图像的计算量约为其 16 倍），与快速开始相同的 ImageNet 主干、32 像素输入，生成的 10 类形状数据集
# （`config.synthetic_data_overrides`：`data.dataset=synthetic`，写入 `output/tutorials/cbam/`），较短的预热和较高的学习率，只训练几个 epoch。
# `paddle_attn.training.train` 内部调用 `paddle.Model(...).prepare(...).fit(...)`，输出 hapi 的训练进度，
# 并写入 VisualDL 日志和检查点。

# %%
from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.training import train

run_dir = OUT / "resnet18_cbam"
shutil.rmtree(run_dir, ignore_errors=True)  # a rerun of the notebook starts a fresh run
train_per_class, test_per_class, epochs, batch_size = (6, 2, 1, 16) if QUICK else (120, 30, 4, 64)
network = ["model.name=resnet18_cbam", "model.stem=imagenet"]
# the quick start's rate: a few epochs, not 300
schedule = ["lr.base=0.05", "lr.warmup_steps=10", f"train.epochs={epochs}", f"train.batch_size={batch_size}"]
shapes = synthetic_data_overrides(OUT / "shapes.tar.gz", train_per_class, test_per_class)  # and its 10 classes
logging = ["train.log_freq=5", "train.verbose=2", f"run.output_dir={run_dir}"]
config = load_config("configs/resnet50_cbam_cifar100.yaml", overrides=network + schedule + shapes + logging)
start = time.perf_counter()
result = train(config)
print(f"best eval top-1 {result['best_top1']:.3f} (chance 0.100) after {time.perf_counter() - start:.0f} s")

# %% [markdown] en
# The run's VisualDL log is in `output/tutorials/cbam/resnet18_cbam/vdl/`; to browse it:
#
# ```bash
# visualdl --logdir output/tutorials/cbam --language en
# ```
#
# The same curves drawn here from the log (`paddle_attn.analysis.run_logs`, `run_figures.plot_curves`):
# %% [markdown] zh
# 本次训练的 VisualDL 日志位于 `output/tutorials/cbam/resnet18_cbam/vdl/`，可用下面的命令查看：
#
# ```bash
# visualdl --logdir output/tutorials/cbam --language zh
# ```
#
# 下面直接从日志读取并画出相同的曲线（`paddle_attn.analysis.run_logs`、`run_figures.plot_curves`）：

# %%
from paddle_attn.analysis.run_figures import plot_curves
from paddle_attn.analysis.run_logs import read_scalars

scalars = read_scalars(run_dir)
print({tag: len(steps) for tag, (steps, _) in scalars.items()}, "points per tag")
display(plot_curves({"CBAM ResNet-18": scalars}, OUT / "curves.png"))

# %% [markdown] en
# **On the real data set, with a GPU** (not run here: this machine has no GPU). The tutorial's network and
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
# **在真实数据集和 GPU 上训练**（本机没有 GPU，此处未运行）。教程网络与训练方案在 CIFAR-100 上的命令如下
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
# ## 6. Looking inside the trained network
#
# `paddle_attn.analysis.attention_maps` runs test images through the network once and records the gates
# every CBAM block multiplied by, plus Grad-CAM of the predicted class. The test images are written as PNG
# files first (section 7 predicts them too) and read back with the checkpoint's own preprocessing. For each
# image: the input, Grad-CAM, and the spatial gate of each stage (averaged over the stage's blocks) stretched
# over the image, on the gate's own value range.
# %% [markdown] zh
# ## 6. 查看训练后网络的注意力
#
# `paddle_attn.analysis.attention_maps` 让测试图像经过网络一次，记录每个 CBAM 模块实际相乘的门控值，
# 并计算预测类别的 Grad-CAM。测试图像先保存为 PNG 文件（第 7 节也会用它们做推理），再按检查点自身的预处理方式读回。
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

trained, info = open_network(str(run_dir))  # the best checkpoint, in eval mode, and its preprocessing
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
# At 32 px with the ImageNet stem, stage 1's maps are 8x8 and stage 4's a single value, so the early
# stages are where the spatial gate can pick out the shape. The violins show how far the gates move from
# 0.5 per stage, channel gates on the left and spatial gates on the right.
# %% [markdown] zh
# 在 32 像素输入和 ImageNet 主干下，stage 1 的空间门控为 8x8，stage 4 只有一个值，因此只有前面的 stage 能用空间门控突出形状所在的位置。
# 小提琴图显示各 stage 门控值偏离 0.5 的程度，左为通道门控，右为空间门控。

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
