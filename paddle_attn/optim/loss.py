"""The training loss: cross-entropy, with label smoothing on training steps only."""

import paddle
import paddle.nn.functional as F


class SmoothedCrossEntropy(paddle.nn.Layer):
    """Cross-entropy against labels smoothed by `label_smoothing` where gradients are taken, plain elsewhere.

    The smoothed target is (1 - eps) * one-hot + eps / classes (Szegedy et al. 2016, sec. 7; EPSANet trains
    with eps = 0.1), through Paddle's `cross_entropy(label_smoothing=)`. `paddle.Model.prepare` takes one loss
    for training and evaluation; its `eval_batch`, like paddle_attn's Paddle Inference evaluation, runs without
    gradients, so evaluation losses stay the plain cross-entropy, comparable across recipes.
    """

    def __init__(self, label_smoothing=0.0):
        super().__init__()
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits, label):
        smoothing = self.label_smoothing if paddle.is_grad_enabled() else 0.0
        return F.cross_entropy(logits, label, label_smoothing=smoothing)
