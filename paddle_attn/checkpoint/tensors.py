"""The tensors of a checkpoint: read without running code from the file, and checked against a network."""

import os

from paddle_attn.checkpoint.directories import MODEL_FILE, resolve
from paddle_attn.checkpoint.weights_file import as_tensors, read_weights_file
from paddle_attn.errors import CheckpointError

SHOWN_PER_KIND = 10


def load_params(path, file=MODEL_FILE, trusted=False):
    """A state dict saved in the checkpoint at `path` (model weights by default), read without running code
    from it unless `trusted` (see `safe_pickle.load`)."""
    return as_tensors(read_weights_file(os.path.join(resolve(path), file), trusted))


def check_tensors(net, params, title, origins=None, source="checkpoint", error=CheckpointError):
    """Raise `error` headed by `title`, naming every missing, unexpected or misshapen tensor of `params` for `net`.

    `origins[key]`, if given, is the name a tensor had where it came from (a PyTorch name), shown beside
    the Paddle name; `source` names the side the shapes came from ("checkpoint", "converted").
    """
    origins = origins or {}
    expected = {key: list(value.shape) for key, value in net.state_dict().items()}

    def named(key):
        origin = origins.get(key, key)
        return key if origin == key else f"{key} (PyTorch {origin})"

    def shape(value):
        return list(getattr(value, "shape", None) or [])

    def dtype(value):  # a NumPy or Paddle dtype by its bare name, so that they compare; a non-array by its type
        return str(getattr(value, "dtype", type(value).__name__)).removeprefix("paddle.")

    missing = sorted(set(expected) - set(params))
    unexpected = [named(key) for key in sorted(set(params) - set(expected))]
    misshapen = [
        f"{named(key)}: {source} {shape(params[key])} vs model {expected[key]}"
        for key in expected
        if key in params and shape(params[key]) != expected[key]
    ]
    mistyped = [  # set_state_dict would stop at the first with an AssertionError
        f"{named(key)}: {source} {dtype(params[key])} vs model {dtype(own)}"
        for key, own in net.state_dict().items()
        if key in params and shape(params[key]) == expected[key] and dtype(params[key]) != dtype(own)
    ]
    if missing or unexpected or misshapen or mistyped:
        lines = [f"{title}:"]
        kinds = ("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen), ("mistyped", mistyped)
        for kind, items in kinds:
            if items:
                more = " ..." if len(items) > SHOWN_PER_KIND else ""
                lines.append(f"  {kind} ({len(items)}): " + ", ".join(items[:SHOWN_PER_KIND]) + more)
        raise error("\n".join(lines))
