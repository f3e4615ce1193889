"""What the attention does during training, in VisualDL (`visualdl.attention: true`): each stage's gate values
as histograms every epoch, and Grad-CAM overlays of a fixed batch of test images every `visualdl.attention_every`."""

import numpy as np
from paddle.callbacks import Callback

from paddle_attn.analysis import gates as am
from paddle_attn.analysis.attention_figures import figure_array, plot_cam_grid, to_display
from paddle_attn.data.datasets import class_names
from paddle_attn.training.callbacks import is_main_process

FIXED_IMAGES = 8           # the test images drawn with their Grad-CAM: the first of the test split
CAM_TAG = "attention/gradcam"


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
    tags.update({f"attention/{stage}/nam_scale": values for stage, values in am.nam_scale_weights_by_stage(net).items()})
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
            titles = [self.names[p] + ("" if p == label else f"\n(true: {self.names[label]})")
                      for p, label in zip(maps.predicted, self.labels)]
            figure = plot_cam_grid(self.shown, maps.cam, titles)
            figure.suptitle(f"epoch {epoch}: Grad-CAM of the predicted class through {maps.cam_layer}", fontsize=9)
            writer.add_image(CAM_TAG, figure_array(figure), epoch)
        writer.flush()


def attention_logging(config, test_set, visualdl, epoch_offset=0):
    """[AttentionLogger] when the config asks for it (`visualdl.attention`), on the main process only; else []."""
    if not config["visualdl"]["attention"] or not is_main_process():
        return []
    data = config["data"]
    samples = [test_set[i] for i in range(min(FIXED_IMAGES, len(test_set)))]
    images = np.stack([np.asarray(image, dtype="float32") for image, _ in samples])
    labels = [int(label) for _, label in samples]
    names = class_names(data, test_set) or [str(i) for i in range(config["model"]["num_classes"])]
    shown = to_display(images, data["transform"], data["mean"], data["std"])
    return [AttentionLogger(visualdl, images, labels, shown, names, config["visualdl"]["attention_every"], epoch_offset)]
