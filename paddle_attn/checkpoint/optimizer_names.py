"""Optimizer state saved with parameter names that do not depend on the process that built the network."""


def portable_optimizer_state(optimizer_state, net):
    """The optimizer's state with each parameter's generated name (`conv2d_40.w_0_velocity_0`) replaced by
    its structured name (`layer1.0.conv1.weight/velocity_0`): generated names depend on how many layers the
    process built before, structured names do not."""
    return _rename_accumulators(optimizer_state, {p.name: k for k, p in net.named_parameters()}, "_", "/")


def restore_optimizer_state(portable_state, net):
    """Inverse of `portable_optimizer_state` for the parameters of `net` as built in this process."""
    return _rename_accumulators(portable_state, {k: p.name for k, p in net.named_parameters()}, "/", "_")


def _rename_accumulators(state, names, old_sep, new_sep):
    renamed = {}
    by_length = sorted(names, key=len, reverse=True)  # conv2d_40.w_0 before conv2d_4.w_0
    for key, value in state.items():
        owner = next((n for n in by_length if key.startswith(n + old_sep)), None)
        renamed[names[owner] + new_sep + key[len(owner) + 1 :] if owner else key] = value
    return renamed
