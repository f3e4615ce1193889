"""The pruned network: built at its new widths from the model spec, its tensors sliced from the trained one.

PaddleSlim (2.6.0, its newest release) would be the library for this, but its dygraph pruner fails on Paddle 3.3.1
before pruning anything (`L1NormFilterPruner(net, [1, 3, 32, 32])`: AttributeError, `paddle.base.dygraph.base` has no
`_to_static_mode_guard_`, paddleslim/core/dygraph.py:110), and its criteria are filter norms, not BatchNorm scales;
so the surgery is written here.
"""

from __future__ import annotations

import copy

import numpy as np

from paddle_attn.checkpoint import check_tensors
from paddle_attn.models import build_model_from_spec
from paddle_attn.pruning.channel_sets import ChannelSet, inner_widths

NORM_TENSORS = ("weight", "bias", "_mean", "_variance")  # a BatchNorm's per-channel tensors in its state dict


def pruned_spec(spec: dict, sets: list[ChannelSet], kept: list[list[int]]) -> dict:
    """`spec` with the `inner_widths` that keep `kept[i]` channels of set i."""
    spec = copy.deepcopy(spec)
    spec["kwargs"] = {**(spec.get("kwargs") or {}), "inner_widths": inner_widths(sets, kept)}
    return spec


def pruned_state(state: dict, sets: list[ChannelSet], kept: list[list[int]]) -> dict:
    """The state dict `state` (name -> array) with each set's channels cut to `kept`: the producer conv's output
    filters, the BatchNorm's channels and the consumer conv's input slice."""
    arrays = {name: np.asarray(value) for name, value in state.items()}
    for channel_set, indices in zip(sets, kept):
        prefix = f"{channel_set.block}."
        arrays[f"{prefix}{channel_set.producer}.weight"] = arrays[f"{prefix}{channel_set.producer}.weight"][indices]
        for tensor in NORM_TENSORS:
            key = f"{prefix}{channel_set.norm_name}.{tensor}"
            arrays[key] = arrays[key][indices]
        consumer = f"{prefix}{channel_set.consumer}.weight"
        arrays[consumer] = arrays[consumer][:, indices]
    return arrays


def prune_network(net, spec: dict, sets: list[ChannelSet], kept: list[list[int]]):
    """(pruned network in eval mode, its spec): `net` (built from `spec`) keeping `kept[i]` channels of set i."""
    new_spec = pruned_spec(spec, sets, kept)
    pruned = build_model_from_spec(new_spec)
    state = {name: tensor.numpy() for name, tensor in net.state_dict().items()}
    arrays = pruned_state(state, sets, kept)
    check_tensors(pruned, arrays, "the pruned tensors do not fit the pruned network")  # a bug if they do not
    pruned.set_state_dict(arrays)
    pruned.eval()
    return pruned, new_spec
