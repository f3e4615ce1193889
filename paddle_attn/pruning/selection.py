"""Which channels go: one global ranking of every prunable channel by importance, lowest first (network slimming's
global threshold, Liu et al. 2017 sec. 4.3), with a floor per set so no layer vanishes."""

from __future__ import annotations

import math

import numpy as np

from paddle_attn.errors import ModelError


def floors(widths: list[int], min_keep: float, round_to: int = 1) -> list[int]:
    """The fewest channels each set keeps: `min_keep` of its width, at least one (and `round_to`)."""
    if not 0 < min_keep <= 1:
        raise ModelError(f"min_keep must be in (0, 1], got {min_keep!r}")
    return [min(width, max(1, round_to, math.ceil(min_keep * width))) for width in widths]


def keep_lowest_pruned(scores: list[np.ndarray], pruned: int, min_keep: float, round_to: int = 1) -> list[list[int]]:
    """The sorted channel indices each set keeps when the `pruned` lowest-scored channels of all sets go, a set's
    channels going only while it keeps more than its floor; each set's count then rounded up to a multiple of
    `round_to` (its highest-scored channels back first; oneDNN's blocked convolutions run fastest on multiples of 8
    or 16), capped at its width."""
    widths = [len(s) for s in scores]
    floor = floors(widths, min_keep, round_to)
    order = sorted(
        ((float(score), set_index, channel) for set_index, s in enumerate(scores) for channel, score in enumerate(s)),
    )
    remaining, left = list(widths), pruned
    for _, set_index, _ in order:
        if left <= 0:
            break
        if remaining[set_index] > floor[set_index]:
            remaining[set_index] -= 1
            left -= 1
    counts = [min(width, math.ceil(count / round_to) * round_to) for width, count in zip(widths, remaining)]
    return [sorted(np.argsort(-s, kind="stable")[:count].tolist()) for s, count in zip(scores, counts)]


def prunable_count(scores: list[np.ndarray], min_keep: float, round_to: int = 1) -> int:
    """How many channels can go at most without a set going under its floor."""
    widths = [len(s) for s in scores]
    return sum(width - floor for width, floor in zip(widths, floors(widths, min_keep, round_to)))


def keep_for_ratio(scores: list[np.ndarray], ratio: float, min_keep: float, round_to: int = 1) -> list[list[int]]:
    """Kept indices when `ratio` of all prunable channels go (Liu et al.'s "prune ratio")."""
    if not 0 <= ratio < 1:
        raise ModelError(f"the prune ratio must be in [0, 1), got {ratio!r}")
    total = sum(len(s) for s in scores)
    wanted = round(ratio * total)
    most = prunable_count(scores, min_keep, round_to)
    if wanted > most:
        raise ModelError(
            f"a prune ratio of {ratio:g} removes {wanted} of {total} channels; with at least {min_keep:g} of every "
            f"layer kept, at most {most} ({most / total:.1%}) can go: lower the ratio or min_keep"
        )
    return keep_lowest_pruned(scores, wanted, min_keep, round_to)


def keep_for_flops(scores, flops_of, reduction, min_keep, round_to=1):
    """Kept indices of the fewest pruned channels whose network has at most `1 - reduction` of the FLOPs, found by
    bisection on the number pruned; `flops_of(kept)` counts a candidate's FLOPs (0 pruned: the original's)."""
    if not 0 < reduction < 1:
        raise ModelError(f"the FLOPs reduction must be in (0, 1), got {reduction!r}")
    full = flops_of(keep_lowest_pruned(scores, 0, min_keep, round_to))
    target = (1 - reduction) * full
    low, high = 0, prunable_count(scores, min_keep, round_to)
    most = keep_lowest_pruned(scores, high, min_keep, round_to)
    least_flops = flops_of(most)
    if least_flops > target:
        raise ModelError(
            f"cannot remove {reduction:.0%} of the FLOPs by pruning inner channels: with at least {min_keep:g} of "
            f"every layer kept they fall by {1 - least_flops / full:.1%} at most (stem, residual path and classifier "
            f"stay); ask for less, or lower min_keep"
        )
    while low < high:  # invariant: pruning `high` channels meets the target
        middle = (low + high) // 2
        if flops_of(keep_lowest_pruned(scores, middle, min_keep, round_to)) <= target:
            high = middle
        else:
            low = middle + 1
    return keep_lowest_pruned(scores, high, min_keep, round_to)
