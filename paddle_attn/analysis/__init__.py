"""What a network and its runs show: attention gates and Grad-CAM (`gates`, `gradcam`), their figures
(`attention_figures`) and per-image report (`report`, tools/visualize.py), size and FLOPs (`model_cost`),
networks side by side (`comparison`), training curves (`run_logs`, `run_figures`) and how runs ended
(`run_summary`). Figures need matplotlib: import those modules by name."""

from paddle_attn.analysis.gates import GateRecorder, attention_maps, grad_cam
from paddle_attn.analysis.model_cost import count_flops, count_params

__all__ = ["GateRecorder", "attention_maps", "count_flops", "count_params", "grad_cam"]
