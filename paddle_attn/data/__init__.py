"""Data sets and image pipelines."""

from paddle_attn.data.transforms import PRESETS, build_transform

__all__ = ["PRESETS", "build_transform"]
