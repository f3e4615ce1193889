"""The converter's one error type."""

from paddle_attn.errors import CheckpointError


class ConversionError(CheckpointError):
    """A PyTorch checkpoint that cannot be read, or whose tensors do not map onto a paddle_attn model."""
