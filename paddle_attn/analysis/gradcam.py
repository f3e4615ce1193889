"""Grad-CAM (Selvaraju et al. 2017): the class score's gradient on a stage's feature maps, and the test of
where its evidence lies; `attention_maps` and `grad_cam` (in `gates`) run it beside the gate recording."""

import contextlib

import numpy as np
import paddle
import paddle.nn.functional as F

# "auto" Grad-CAM picks the deepest stage with at least this many rows and columns: a 2x2 map only names a
# quadrant (quick start, 32 px: inside/outside >= 2 on 16% of test images at 2x2 layer3, 81% at 4x4 layer2)
MIN_CAM_SIZE = 4


@contextlib.contextmanager
def stage_outputs(net, names):
    """{name: output tensor} of the named sublayers, filled by each forward pass while active."""
    layers = dict(net.named_sublayers())
    missing = [name for name in names if name not in layers]
    if missing:
        raise ValueError(f"{type(net).__name__} has no sublayer {', '.join(map(repr, missing))} for Grad-CAM")
    outputs = {}
    hooks = [
        layers[name].register_forward_post_hook(
            lambda layer, inputs, output, name=name: outputs.__setitem__(name, output)
        )
        for name in names
    ]
    try:
        yield outputs
    finally:
        for hook in hooks:
            hook.remove()


def pick_cam_layer(outputs):
    """The deepest of `outputs` (a {stage: tensor} in forward order) with a map of at least MIN_CAM_SIZE
    rows and columns, else the largest map."""
    names = list(outputs)
    for name in reversed(names):
        if min(outputs[name].shape[2:]) >= MIN_CAM_SIZE:
            return name
    return max(names, key=lambda name: min(outputs[name].shape[2:]))


def cam_from(features, logits, classes, size, retain_graph):
    """Grad-CAM (Selvaraju et al. 2017, eq. 1-2): ReLU of the feature maps weighted by the spatial mean of the
    class score's gradient, bilinearly upsampled to `size` and scaled to [0, 1] per image (all zero if no
    position counts for the class). Returns (N, H, W)."""
    score = (logits * F.one_hot(paddle.to_tensor(classes, dtype="int64"), logits.shape[1])).sum()
    grads = paddle.grad(score, features, retain_graph=retain_graph)[0]
    cam = F.relu((grads.mean(axis=[2, 3], keepdim=True) * features).sum(axis=1, keepdim=True))
    cam = F.interpolate(cam, size=list(size), mode="bilinear", align_corners=False)[:, 0].numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1)[:, None, None]
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)


def class_indices(target, count, num_classes):
    classes = np.broadcast_to(np.asarray(target, dtype="int64"), (count,))
    bad = classes[(classes < 0) | (classes >= num_classes)]
    if bad.size:
        raise ValueError(
            f"class {int(bad[0])} is out of range: the model has {num_classes} classes (0-{num_classes - 1})"
        )
    return classes


def box_ratios(cams, boxes):
    """(N,) mean of each map inside its box (y0, x0, y1, x1) over its mean outside: Grad-CAM's evidence test on
    data that knows where its objects are (0 for an empty map, inf for a map inside the box only)."""
    ratios = np.empty(len(cams))
    for i, (cam, (y0, x0, y1, x1)) in enumerate(zip(cams, boxes)):
        inside = np.zeros(cam.shape, dtype=bool)
        inside[y0:y1, x0:x1] = True
        mean_in, mean_out = cam[inside].mean(), cam[~inside].mean()
        ratios[i] = 0.0 if mean_in == 0 else np.inf if mean_out == 0 else mean_in / mean_out
    return ratios
