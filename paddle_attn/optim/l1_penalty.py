"""An L1 penalty lambda * sum |p| on some parameters, added to their gradients."""

import paddle


def add_l1_penalty(parameters, lam):
    """Add lambda * sign(p), the gradient of lambda * sum |p|, to each parameter's gradient as a gradient hook (the
    way NAM's and network slimming's training code add it after backward); the loss value itself stays the plain
    cross-entropy. Returns the hook handles (`.remove()` undoes it); none when `lam` <= 0."""
    if lam <= 0:
        return []
    return [p.register_hook(lambda grad, p=p: grad + lam * paddle.sign(p)) for p in parameters]
