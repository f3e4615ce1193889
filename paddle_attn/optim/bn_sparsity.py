"""Network slimming's sparsity penalty on every BatchNorm scale (Liu et al. 2017, eq. 1: loss + lambda * sum |gamma|),
which drives the scales of unimportant channels toward 0 before they are pruned (`paddle_attn.pruning`)."""

import paddle.nn as nn

from paddle_attn.optim.l1_penalty import add_l1_penalty

BATCH_NORMS = (nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D, nn.SyncBatchNorm)


def batchnorm_scales(net):
    """The scale (gamma) of every BatchNorm layer of `net`; NAM's gates are not BatchNorm layers (their scales are
    `nam_gammas`), so `loss.nam_sparsity` and `loss.bn_sparsity` penalize disjoint sets."""
    return [
        layer.weight
        for layer in net.sublayers()
        if isinstance(layer, BATCH_NORMS) and layer.weight is not None and not layer.weight.stop_gradient
    ]


def add_bn_sparsity(net, lam):
    """Add lambda * sign(gamma) to each BatchNorm scale's gradient (`add_l1_penalty`); Liu et al. train with
    lambda = 1e-4 (VGG, ResNet on CIFAR) and 1e-5 (DenseNet, ImageNet). Returns the hook handles."""
    return add_l1_penalty(batchnorm_scales(net), lam)
