"""What a network's attention does on given images: the gates each stage multiplied by, EPSANet's
kernel-size weights, NAM's normalized scales, and Grad-CAM: `maps = attention_maps(net, images)`."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_attn.analysis.gradcam import cam_from, class_indices, pick_cam_layer, stage_outputs
from paddle_attn.layers import AttentionGate, PSAModule

STAGES = ("layer1", "layer2", "layer3", "layer4")
VALUES_PER_IMAGE = 20_000  # a sample of each stage's gates per image for distributions: NAM's hold millions at 224 px


@dataclass
class RecordedGate:
    """The gate one attention block multiplied its input by, shaped as its kind says (layers.GATE_KINDS)."""

    name: str  # the block's sublayer name, e.g. "layer2.1.attention.channel"
    stage: str  # "layer1" ... "layer4", or "" outside the stages
    kind: str  # the block's `gate_kind`: "channel", "spatial" (CBAM), "pixel" (NAM's pixel branch), "per-axis"
    values: np.ndarray


@dataclass
class ScaleWeights:
    """EPSANet's PSA softmax weights of one module, (N, scales, C), scales in the module's output order."""

    name: str
    stage: str
    kernel_sizes: tuple
    values: np.ndarray


def stage_of(name):
    head = name.split(".", 1)[0]
    return head if head in STAGES else ""


def gate_kind(layer):
    return layer.gate_kind


def psa_kernel_sizes(psa):
    """Kernel size of each PSA scale in output order (conv_S first, see `PSAModule.forward`)."""
    return tuple(int(getattr(psa, f"conv_{i}").weight.shape[-1]) for i in range(psa.scales, 0, -1))


class GateRecorder:
    """While active (`with GateRecorder(net) as recorder:`), records each forward pass's gates of every
    `AttentionGate` in `net` and the scale weights of every `PSAModule`; `gates()` and `scale_weights()`
    return them, batches concatenated.

    Each block's `gate` is wrapped on the instance for the duration, so what is recorded is the tensor the
    forward pass multiplied by, not a second computation; PSA's SE output is hooked and put through the
    same softmax across scales as `PSAModule.forward`.
    """

    def __init__(self, net):
        self.net = net
        self._gates, self._weights, self._undo = {}, {}, []

    def __enter__(self):
        for name, layer in self.net.named_sublayers():
            if isinstance(layer, AttentionGate):
                self._wrap_gate(name, layer)
            elif isinstance(layer, PSAModule):
                hook = layer.se.register_forward_post_hook(self._psa_hook(name, layer))
                self._undo.append(hook.remove)
        return self

    def __exit__(self, *exc):
        for undo in reversed(self._undo):
            undo()
        self._undo = []

    def _wrap_gate(self, name, layer):
        compute = layer.gate
        record = self._gates.setdefault(name, (layer, []))[1]

        def recorded_gate(x):
            gate = compute(x)
            record.append(gate.detach().numpy())
            return gate

        layer.gate = recorded_gate  # an instance attribute shadows the class's method until deleted
        self._undo.append(lambda: delattr(layer, "gate"))

    def _psa_hook(self, name, psa):
        record = self._weights.setdefault(name, (psa, []))[1]

        def hook(layer, inputs, output):
            scores = output.detach().reshape([-1, psa.scales, output.shape[1]])
            record.append(F.softmax(scores, axis=1).numpy())

        return hook

    def gates(self):
        return [
            RecordedGate(name, stage_of(name), gate_kind(layer), np.concatenate(batches))
            for name, (layer, batches) in self._gates.items()
            if batches
        ]

    def scale_weights(self):
        return [
            ScaleWeights(name, stage_of(name), psa_kernel_sizes(psa), np.concatenate(batches))
            for name, (psa, batches) in self._weights.items()
            if batches
        ]


def has_attention(net):
    return any(isinstance(layer, (AttentionGate, PSAModule)) for layer in net.sublayers())


def nam_scale_weights(net):
    """{sublayer name: its `attention_scales()`} of every gate that has them: |gamma| / sum |gamma| of each NAM
    channel branch (NAM eq. 2's channel weights)."""
    scales = {}
    for name, layer in net.named_sublayers():
        if isinstance(layer, AttentionGate) and (weights := layer.attention_scales()) is not None:
            scales[name] = weights
    return scales


def nam_scale_weights_by_stage(net):
    """{stage: normalized scales of the stage's NAM blocks, each times its channel count}: 1 is an equal
    share of a block's attention, whatever the stage's width."""
    by_stage = {}
    for name, scales in nam_scale_weights(net).items():
        by_stage.setdefault(stage_of(name), []).append(scales * scales.size)
    return {stage: np.concatenate(parts) for stage, parts in by_stage.items()}


def share_under(values_by_stage, threshold):
    """{stage: the fraction of values below `threshold`}."""
    return {stage: float(np.mean(values < threshold)) for stage, values in values_by_stage.items()}


def _as_tensor(images):
    return images if isinstance(images, paddle.Tensor) else paddle.to_tensor(np.asarray(images, dtype="float32"))


@contextlib.contextmanager
def eval_mode(net):
    """`net` in eval mode (BatchNorm on its running statistics, none updated), its mode restored after."""
    training = net.training
    net.eval()
    try:
        yield net
    finally:
        if training:
            net.train()


def grad_cam(
    net: paddle.nn.Layer,
    images: np.ndarray | paddle.Tensor,
    classes: int | Sequence[int] | None = None,
    layer: str = "auto",
) -> tuple[np.ndarray | None, np.ndarray, str]:
    """Grad-CAM of `classes` (default: each image's predicted class; an int or one per image) through
    the output of `layer`: a sublayer name, or "auto", the deepest ResNet stage whose map is at least
    gradcam.MIN_CAM_SIZE x MIN_CAM_SIZE. Returns (cams (N, H, W) in [0, 1], logits (N, classes), layer used)."""
    maps = attention_maps(net, images, target_class=classes, cam_layer=layer)
    return (maps.cam if classes is None else maps.target_cam), maps.logits, maps.cam_layer


@dataclass
class AttentionMaps:
    """What `attention_maps` found for a batch of N images."""

    logits: np.ndarray  # (N, classes)
    cam: np.ndarray  # (N, H, W) Grad-CAM of each image's predicted class, in [0, 1]
    cam_layer: str  # the sublayer Grad-CAM went through
    cam_size: tuple  # (rows, columns) of its feature map, before upsampling
    gates: list = field(default_factory=list)  # RecordedGate of each attention block, forward order
    scale_weights: list = field(default_factory=list)  # ScaleWeights of each PSA module
    target_class: np.ndarray | None = None  # (N,) the class asked for, if any
    target_cam: np.ndarray | None = None  # (N, H, W) its Grad-CAM

    @property
    def predicted(self):
        return self.logits.argmax(axis=1)

    def gate_kinds(self):
        return sorted({gate.kind for gate in self.gates})

    def gate_values(self, kind="channel", per_image=None):
        """{stage: (N, values)}: each image's gate values of that kind over the stage's blocks, all positions
        of a gate that differs across them (NAM's pixel, per-axis); `per_image` caps the values kept per image by an even stride."""
        by_stage = {}
        for gate in self.gates:
            if gate.kind == kind:
                by_stage.setdefault(gate.stage, []).append(gate.values.reshape(len(gate.values), -1))
        by_stage = {stage: np.concatenate(parts, axis=1) for stage, parts in by_stage.items()}
        if per_image:
            by_stage = {stage: values[:, :: -(-values.shape[1] // per_image)] for stage, values in by_stage.items()}
        return by_stage

    def spatial_gates(self):
        """{stage: (N, H, W)}: CBAM's spatial gate, averaged over the stage's blocks (one map size per stage)."""
        by_stage = {}
        for gate in self.gates:
            if gate.kind == "spatial":
                by_stage.setdefault(gate.stage, []).append(gate.values[:, 0])
        return {stage: np.mean(parts, axis=0) for stage, parts in by_stage.items()}

    def stage_scale_weights(self):
        """{stage: (kernel sizes, (N, scales) weights averaged over channels and the stage's PSA modules)}."""
        by_stage = {}
        for module in self.scale_weights:
            by_stage.setdefault(module.stage, (module.kernel_sizes, []))[1].append(module.values.mean(axis=2))
        return {stage: (kernels, np.mean(parts, axis=0)) for stage, (kernels, parts) in by_stage.items()}


def attention_maps(
    net: paddle.nn.Layer,
    images: np.ndarray | paddle.Tensor,
    target_class: int | Sequence[int] | None = None,
    cam_layer: str = "auto",
) -> AttentionMaps:
    """Gates, PSA scale weights and Grad-CAM of `net` on `images` (N, 3, H, W), preprocessed as for the model.

    One forward pass in eval mode (the network's mode is restored after; gradients on, for Grad-CAM, even
    under `paddle.no_grad`, but no parameter's gradient is touched): the gates every attention block
    multiplied by, EPSANet's scale weights, and Grad-CAM of each image's predicted class and, if given, of
    `target_class` (an int, or one per image), through `cam_layer` (see `grad_cam`).
    """
    x = _as_tensor(images)
    names = STAGES if cam_layer == "auto" else (cam_layer,)
    with (
        paddle.set_grad_enabled(True),
        eval_mode(net),
        stage_outputs(net, names) as outputs,
        GateRecorder(net) as recorder,
    ):
        logits = net(x)
        layer = pick_cam_layer(outputs) if cam_layer == "auto" else cam_layer
        predicted = logits.numpy().argmax(axis=1)
        size = x.shape[2:]
        cam = cam_from(outputs[layer], logits, predicted, size, retain_graph=target_class is not None)
        target, target_cam = None, None
        if target_class is not None:
            target = class_indices(target_class, len(predicted), logits.shape[1])
            target_cam = cam_from(outputs[layer], logits, target, size, retain_graph=False)
        return AttentionMaps(
            logits.numpy(),
            cam,
            layer,
            tuple(outputs[layer].shape[2:]),
            recorder.gates(),
            recorder.scale_weights(),
            target,
            target_cam,
        )
