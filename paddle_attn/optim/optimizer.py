"""A config's optimizer, its parameters in groups: normalization layers' scales and shifts may take their own weight decay."""

from __future__ import annotations

import paddle

from paddle_attn.layers import NORM_LAYERS, AttentionGate

OPTIMIZERS = ("momentum", "sgd", "adam", "adamw")  # the names `build_optimizer` builds


def norm_parameters(net):
    """The scales and shifts of `net`'s normalization layers, those inside attention gates as each gate declares
    (`AttentionGate.norm_parameters`: none of NAM's). Running statistics are parameters in Paddle too, but not
    trainable ones: no optimizer touches them."""
    layers = net.sublayers(include_self=True)
    gates = [layer for layer in layers if isinstance(layer, AttentionGate)]
    in_gates = {id(p) for gate in gates for p in gate.parameters()}
    chosen = {id(p) for gate in gates for p in gate.norm_parameters()}
    chosen |= {
        id(p)
        for layer in layers
        if isinstance(layer, NORM_LAYERS)
        for p in layer.parameters(include_sublayers=False)
        if not p.stop_gradient and id(p) not in in_gates
    }
    return [p for p in net.parameters() if id(p) in chosen]


def parameter_groups(net: paddle.nn.Layer, norm_weight_decay: float | None = None) -> list:
    """`net`'s parameters for an optimizer: all in one group, or with `norm_weight_decay` not None, the
    normalization parameters in a group of their own with that weight decay (0: none, torchvision's
    `--norm-weight-decay`)."""
    if norm_weight_decay is None:
        return net.parameters()
    norm = norm_parameters(net)
    if not norm:
        return net.parameters()
    in_norm = {id(p) for p in norm}
    return [
        {"params": [p for p in net.parameters() if id(p) not in in_norm]},
        {"params": norm, "weight_decay": float(norm_weight_decay)},
    ]


def build_optimizer(
    opt: dict, scheduler: paddle.optimizer.lr.LRScheduler, net: paddle.nn.Layer
) -> paddle.optimizer.Optimizer:
    """The optimizer a config's `optimizer` section `opt` names, stepping `net`'s parameters at `scheduler`'s LR."""
    parameters = parameter_groups(net, opt["norm_weight_decay"])
    if opt["name"] == "momentum":
        return paddle.optimizer.Momentum(scheduler, opt["momentum"], parameters, weight_decay=opt["weight_decay"])
    if opt["name"] == "sgd":
        return paddle.optimizer.SGD(scheduler, parameters, weight_decay=opt["weight_decay"])
    if opt["name"] == "adam":
        return paddle.optimizer.Adam(scheduler, parameters=parameters, weight_decay=opt["weight_decay"] or None)
    return paddle.optimizer.AdamW(scheduler, parameters=parameters, weight_decay=opt["weight_decay"])
