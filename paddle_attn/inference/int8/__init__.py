"""Post-training int8 for OpenVINO: two calibration recipes, judged against fp32 on held-out training images, the
better kept, and the convolutions that move fp32's near-ties the most left in fp32 until it agrees (see
docs/deploy.md)."""

from paddle_attn.inference.int8.quantize import (
    METHODS,
    MIN_CALIBRATION_IMAGES,
    TARGET_AGREEMENT,
    allowed_flips,
    int8_path,
    int8_report_path,
    int8_summary,
    quantize_int8,
    read_int8_report,
)

__all__ = [
    "METHODS",
    "MIN_CALIBRATION_IMAGES",
    "TARGET_AGREEMENT",
    "allowed_flips",
    "int8_path",
    "int8_report_path",
    "int8_summary",
    "quantize_int8",
    "read_int8_report",
]
