"""Post-training int8 for OpenVINO: two calibration recipes, judged on a hold-out of the calibration images against
fp32, the better kept, and sensitive convolutions left in fp32 until it agrees (see docs/deploy.md)."""

from paddle_attn.inference.int8.quantize import (
    METHODS,
    MIN_CALIBRATION_IMAGES,
    TARGET_AGREEMENT,
    int8_path,
    int8_report_path,
    quantize_int8,
    read_int8_report,
)

__all__ = [
    "METHODS",
    "MIN_CALIBRATION_IMAGES",
    "TARGET_AGREEMENT",
    "int8_path",
    "int8_report_path",
    "quantize_int8",
    "read_int8_report",
]
