"""How far a hold-out's agreement can be trusted: the one-sided Clopper-Pearson lower bound on the agreement of
int8 with fp32 (Clopper & Pearson, Biometrika 1934), from the count of flips among the held-out images."""

import math

CONFIDENCE = 0.95


def _at_most(flips, total, rate):
    """P(X <= flips) for X ~ Binomial(total, rate), summed in log space (total may be thousands)."""
    if rate <= 0:
        return 1.0
    if rate >= 1:
        return 1.0 if flips >= total else 0.0
    log_rate, log_rest = math.log(rate), math.log1p(-rate)
    terms = [
        math.lgamma(total + 1) - math.lgamma(i + 1) - math.lgamma(total - i + 1) + i * log_rate + (total - i) * log_rest
        for i in range(flips + 1)
    ]
    top = max(terms)
    return math.exp(top) * sum(math.exp(t - top) for t in terms)


def agreement_lower_bound(flips, total, confidence=CONFIDENCE):
    """The agreement that `flips` flips in `total` images exceed with `confidence`: 1 - the flip rate q at which
    P(X <= flips) = 1 - confidence, found by bisection (P falls as q grows)."""
    if not 0 <= flips <= total or total < 1:
        raise ValueError(f"flips must be in [0, total] and total >= 1, got {flips} of {total}")
    if flips == total:
        return 0.0
    low, high = flips / total, 1.0
    for _ in range(60):  # 2^-60: below float precision of the rate
        middle = (low + high) / 2
        if _at_most(flips, total, middle) > 1 - confidence:
            low = middle
        else:
            high = middle
    return 1 - high
