"""VisualDL logs of a run: its curves (`VisualDLLogger`, the tags of `run_logs.TRAIN_TAGS`/`EVAL_TAGS`) and what the
attention does (`visualdl.attention: true`): each stage's gate values as histograms every epoch, and Grad-CAM
overlays of a fixed batch of test images every `visualdl.attention_every`.

`epoch_offset` is the number of epochs finished before this `fit` call (non-zero after a resume),
so epochs and steps are numbered across the whole run.
"""

import os

import numpy as np
from paddle.callbacks import Callback

from paddle_attn.analysis import gates as am
from paddle_attn.analysis.attention_figures import figure_array, plot_cam_grid, to_display
from paddle_attn.analysis.run_logs import EVAL_TAGS, TRAIN_TAGS
from paddle_attn.data.datasets import class_names
from paddle_attn.training.distributed import is_main_process
from paddle_attn.training.scale_histograms import BatchNormScaleLogger

FIXED_IMAGES = 8  # the test images drawn with their Grad-CAM: the first of the test split
CAM_TAG = "attention/gradcam"


class VisualDLLogger(Callback):
    """Train loss, top-1, top-5 and LR every step; eval loss, top-1, top-5 every epoch (see TRAIN_TAGS, EVAL_TAGS),
    into a VisualDL log in `log_dir` (`visualdl --logdir LOG_DIR`, or `tools/curves.py` on its parent).

    For a `paddle.Model` prepared with `paddle.metric.Accuracy(topk=(1, 5))`. Train top-1/top-5 are Paddle's
    running accuracy over the epoch so far, as its progress bar shows; the LR is the one each batch trained
    with, from `scheduler` (default: the optimizer's). The eval loss is logged when an `EvalLossMean`
    comes earlier in the callbacks (Paddle's own is the last batch's only).
    """

    def __init__(self, log_dir, scheduler=None, epoch_offset=0, step_offset=0):
        super().__init__()
        self.log_dir, self.scheduler = log_dir, scheduler
        self.epoch_offset, self.step = epoch_offset, step_offset
        self.writer, self.epoch, self._lr = None, epoch_offset, None

    def on_train_begin(self, logs=None):
        if is_main_process():
            from visualdl import (
                LogWriter,  # imported here: only the writing rank needs it
            )

            self.writer = LogWriter(logdir=self.log_dir)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = self.epoch_offset + epoch + 1

    def on_train_batch_begin(self, step, logs=None):
        # the LR this batch trains with, before Paddle's LRScheduler callback steps it
        self._lr = self.model._optimizer.get_lr() if self.scheduler is None else self.scheduler()

    def on_train_batch_end(self, step, logs=None):
        self.step += 1
        if self.writer is None:
            return
        measured = {
            "loss": np.mean(logs["loss"]),
            "top1": logs.get("acc_top1"),
            "top5": logs.get("acc_top5"),
            "lr": self._lr,
        }
        self._write({tag: measured[_metric(tag)] for tag in TRAIN_TAGS}, self.step)

    def on_eval_end(self, logs=None):
        if self.writer is None:
            return
        measured = {"loss": logs.get("loss_mean"), "top1": logs.get("acc_top1"), "top5": logs.get("acc_top5")}
        self._write({tag: measured[_metric(tag)] for tag in EVAL_TAGS}, self.epoch)
        self.writer.flush()

    def _write(self, values, step):
        for tag, value in values.items():
            if value is not None:
                self.writer.add_scalar(tag, float(value), step)

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


def _metric(tag):
    """ "train/top1" -> "top1": the tags are `run_logs`' (the curves reader's), their last part names the value."""
    return tag.rsplit("/", 1)[1]


def histogram_tags(maps, net):
    """{tag: 1-D values}: `attention/<stage>/<kind>` gate values, `attention/<stage>/psa_k<kernel>` EPSANet's
    weights per kernel size, `attention/<stage>/nam_scale` NAM's normalized scales times channels."""
    tags = {}
    for kind in maps.gate_kinds():
        for stage, values in maps.gate_values(kind, am.VALUES_PER_IMAGE).items():
            tags[f"attention/{stage}/{kind}"] = values.ravel()
    by_stage = {}
    for module in maps.scale_weights:
        for index, kernel in enumerate(module.kernel_sizes):
            by_stage.setdefault(f"attention/{module.stage}/psa_k{kernel}", []).append(module.values[:, index].ravel())
    tags.update({tag: np.concatenate(parts) for tag, parts in by_stage.items()})
    tags.update(
        {f"attention/{stage}/nam_scale": values for stage, values in am.nam_scale_weights_by_stage(net).items()}
    )
    return tags


class AttentionLogger(Callback):
    """At each epoch's end, runs `images` (a fixed (K, 3, H, W) batch, preprocessed) through the network in
    eval mode (its mode restored after) and writes the histograms of `histogram_tags`; every `every` epochs
    also an image of their Grad-CAM overlays (`CAM_TAG`), titled with the predicted class.

    Writes through `visualdl`'s writer (a `VisualDLLogger` earlier in the callbacks), into the run's one log.
    """

    def __init__(self, visualdl, images, labels, shown, names, every=1, epoch_offset=0):
        super().__init__()
        self.visualdl, self.images, self.labels, self.shown, self.names = visualdl, images, labels, shown, names
        self.every, self.epoch_offset = every, epoch_offset

    def on_epoch_end(self, epoch, logs=None):
        writer = self.visualdl.writer
        if writer is None:
            return
        epoch = self.epoch_offset + epoch + 1
        net = self.model.network
        maps = am.attention_maps(net, self.images)
        for tag, values in histogram_tags(maps, net).items():
            writer.add_histogram(tag, values, epoch)
        if epoch % self.every == 0:
            titles = [
                self.names[p] + ("" if p == label else f"\n(true: {self.names[label]})")
                for p, label in zip(maps.predicted, self.labels)
            ]
            figure = plot_cam_grid(self.shown, maps.cam, titles)
            figure.suptitle(f"epoch {epoch}: Grad-CAM of the predicted class through {maps.cam_layer}", fontsize=9)
            writer.add_image(CAM_TAG, figure_array(figure), epoch)
        writer.flush()


def attention_logger(visualdl, test_set, data, num_classes, every=1, epoch_offset=0):
    """An AttentionLogger of the first `FIXED_IMAGES` images of `test_set` (a data set of `data.datasets.build_dataset`,
    `data` the config's section it was built from, for the class names and to draw the images), writing through
    `visualdl` (a `VisualDLLogger` earlier in the callbacks), Grad-CAM every `every` epochs."""
    samples = [test_set[i] for i in range(min(FIXED_IMAGES, len(test_set)))]
    images = np.stack([np.asarray(image, dtype="float32") for image, _ in samples])
    labels = [int(label) for _, label in samples]
    names = class_names(data, test_set) or [str(i) for i in range(num_classes)]
    shown = to_display(images, data["transform"], data["mean"], data["std"])
    return AttentionLogger(visualdl, images, labels, shown, names, every, epoch_offset)


def attention_logging(config, test_set, visualdl, epoch_offset=0):
    """[AttentionLogger] when the config asks for it (`visualdl.attention`), on the main process only; else []."""
    if not config["visualdl"]["attention"] or not is_main_process():
        return []
    every = config["visualdl"]["attention_every"]
    return [attention_logger(visualdl, test_set, config["data"], config["model"]["num_classes"], every, epoch_offset)]


def visualdl_loggers(config, run_dir, scheduler, test_set, epoch_offset=0, step_offset=0):
    """The run's VisualDL callbacks (`visualdl.enabled`): the curves into `visualdl.log_dir` (default
    `<run_dir>/vdl`), the BatchNorm scales' histograms, then the attention logging if asked for; [] when VisualDL is off."""
    if not config["visualdl"]["enabled"]:
        return []
    curves = VisualDLLogger(
        config["visualdl"]["log_dir"] or os.path.join(run_dir, "vdl"), scheduler, epoch_offset, step_offset
    )
    scales = BatchNormScaleLogger(curves, epoch_offset)
    return [curves, scales, *attention_logging(config, test_set, curves, epoch_offset)]
