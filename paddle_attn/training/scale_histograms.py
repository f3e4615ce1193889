"""The BatchNorm scales |gamma| of each stage as a VisualDL histogram every epoch: under `loss.bn_sparsity` the
reader sees them split into a group near 0 (the channels pruning removes) and the rest (network slimming, Fig. 4)."""

import numpy as np
from paddle.callbacks import Callback

from paddle_attn.optim import batchnorm_scales

STAGES = ("layer1", "layer2", "layer3", "layer4")


def scales_by_stage(net):
    """{"batchnorm/<stage>/abs_gamma": |gamma| of every BatchNorm in that stage}; the stem's BatchNorm is "stem"."""
    by_stage = {}
    scales = {id(p): p for p in batchnorm_scales(net)}
    for name, param in net.named_parameters():
        if id(param) in scales:
            stage = name.split(".", 1)[0] if name.split(".", 1)[0] in STAGES else "stem"
            by_stage.setdefault(f"batchnorm/{stage}/abs_gamma", []).append(np.abs(param.numpy()))
    return {tag: np.concatenate(parts) for tag, parts in by_stage.items()}


class BatchNormScaleLogger(Callback):
    """Writes `scales_by_stage` at each epoch's end through `visualdl` (a `VisualDLLogger` earlier in the callbacks)."""

    def __init__(self, visualdl, epoch_offset=0):
        super().__init__()
        self.visualdl, self.epoch_offset = visualdl, epoch_offset

    def on_epoch_end(self, epoch, logs=None):
        writer = self.visualdl.writer
        if writer is None:
            return
        for tag, values in scales_by_stage(self.model.network).items():
            writer.add_histogram(tag, values, self.epoch_offset + epoch + 1)
        writer.flush()
