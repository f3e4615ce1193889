"""A checkpoint's preprocessing: what prediction, exports and attention reports need to feed its network."""

from paddle_attn.data.class_names import for_dataset
from paddle_attn.data.transforms import STEM_EVAL_PIPELINES
from paddle_attn.errors import InferenceError


def inference_info(state, image_size=None):
    """What prediction needs from a checkpoint's `state.json`, for inputs of `image_size` (default:
    the training image size). A checkpoint without a `data` section (e.g. converted weights) gets
    its stem's pipeline (`STEM_EVAL_PIPELINES`)."""
    model, data = state["model"], state.get("data") or {}
    preset, default_size = STEM_EVAL_PIPELINES.get(model.get("stem"), STEM_EVAL_PIPELINES["imagenet"])
    size = image_size if image_size is not None else data.get("image_size") or default_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InferenceError(f"the input size must be a positive integer, got {size!r}")
    return {
        "model": model,
        "transform": data.get("transform") or preset,
        "image_size": size,
        "mean": data.get("mean"),
        "std": data.get("std"),
        "class_names": data.get("class_names") or for_dataset(data.get("dataset")),
    }
