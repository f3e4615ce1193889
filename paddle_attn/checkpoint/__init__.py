"""Checkpoints on disk, the format only: atomic directories and links, `state.json`, weights files read without
running code from them, the tensor check, portable optimizer names. Imports nothing of models or convert."""

from paddle_attn.checkpoint.directories import (
    MODEL_FILE,
    OPTIMIZER_FILE,
    STATE_FILE,
    find_latest,
    read_state,
    remove,
    resolve,
    save_checkpoint,
    set_link,
)
from paddle_attn.checkpoint.optimizer_names import portable_optimizer_state, restore_optimizer_state
from paddle_attn.checkpoint.tensors import SHOWN_PER_KIND, check_tensors, load_params
from paddle_attn.checkpoint.weights_file import SAFETENSORS, as_tensors, read_weights_file, write_weights_file
from paddle_attn.errors import CheckpointError

__all__ = [
    "MODEL_FILE",
    "OPTIMIZER_FILE",
    "SAFETENSORS",
    "SHOWN_PER_KIND",
    "STATE_FILE",
    "CheckpointError",
    "as_tensors",
    "check_tensors",
    "find_latest",
    "load_params",
    "portable_optimizer_state",
    "read_state",
    "read_weights_file",
    "remove",
    "resolve",
    "restore_optimizer_state",
    "save_checkpoint",
    "set_link",
    "write_weights_file",
]
