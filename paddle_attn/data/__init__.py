"""Data sets, image files, loaders and image pipelines."""

from paddle_attn.data.transforms import PRESETS, STEM_EVAL_PIPELINES, build_transform

__all__ = ["PRESETS", "STEM_EVAL_PIPELINES", "build_transform"]
