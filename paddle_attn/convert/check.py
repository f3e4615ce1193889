"""Every tensor accounted for: converted weights against the model they are meant for."""

from paddle_attn.convert.errors import ConversionError

SHOWN_PER_KIND = 10


def check_tensors(net, params, origins, title):
    """Raise a ConversionError naming every missing, unexpected or misshapen tensor of `params` for `net`.

    `origins[key]` is the PyTorch name a converted tensor came from, shown beside the Paddle name
    so a mapping mistake can be traced to its source tensor; `title` heads the message.
    """
    expected = {key: list(value.shape) for key, value in net.state_dict().items()}

    def named(key):
        origin = origins.get(key, key)
        return key if origin == key else f"{key} (PyTorch {origin})"

    missing = sorted(set(expected) - set(params))
    unexpected = [named(key) for key in sorted(set(params) - set(expected))]
    misshapen = [f"{named(key)}: converted {list(params[key].shape)} vs model {expected[key]}"
                 for key in expected if key in params and list(params[key].shape) != expected[key]]
    if missing or unexpected or misshapen:
        lines = [f"{title}:"]
        for kind, items in (("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen)):
            if items:
                more = " ..." if len(items) > SHOWN_PER_KIND else ""
                lines.append(f"  {kind} ({len(items)}): " + ", ".join(items[:SHOWN_PER_KIND]) + more)
        raise ConversionError("\n".join(lines))
