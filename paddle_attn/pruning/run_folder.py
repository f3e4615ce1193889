"""A pruned run folder: the pruned network's checkpoint and a config that fine-tunes it as a new run.

    OUTPUT/config.yaml                  the source run's config with the pruned widths (`model.kwargs.inner_widths`),
                                        `model.pretrained` = the checkpoint below, `run.output_dir` = OUTPUT/finetune
    OUTPUT/checkpoints/epoch_0000/      model.pdparams and state.json (no optimizer state: nothing trained yet)
    OUTPUT/checkpoints/best, latest ->  epoch_0000

So every tool reads it as any run (eval, infer, export, summary -c, visualize, `create_model_from_spec`), and
`tools/train.py -c OUTPUT/config.yaml` fine-tunes it into OUTPUT/finetune, a run of its own (resume, VisualDL,
checkpoints as for any run). Fine-tuning drops the BatchNorm sparsity penalty, as network slimming does.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from paddle_attn import checkpoint as ckpt
from paddle_attn.config import load_config, migrate_config, save_config
from paddle_attn.errors import CheckpointError, ConfigError
from paddle_attn.pruning.channel_sets import channel_sets
from paddle_attn.pruning.slimming import MIN_KEEP, Pruned, slim
from paddle_attn.weights import load_model

CHECKPOINT = "epoch_0000"
FINETUNE_DIR = "finetune"


def prune_run(
    source,
    output_dir,
    ratio=None,
    flops_reduction=None,
    min_keep=MIN_KEEP,
    round_to=1,
    finetune_epochs=None,
    trusted=False,
) -> tuple[Pruned, str]:
    """Prune the checkpoint `source` (a checkpoint or run folder, read without running code from it unless `trusted`)
    by `ratio` or `flops_reduction` (see `slim`) into the new run folder `output_dir`; its fine-tuning config trains
    `finetune_epochs` (default: the source run's epochs). Returns (the `Pruned` result, the checkpoint written)."""
    _check_free(output_dir)
    net, state = load_model(source, trusted)
    channel_sets(net)  # a network it cannot prune is refused before anything is read or written
    config = _source_config(state, ckpt.resolve(source))
    image_size = int((state.get("data") or {}).get("image_size") or config.get("data", {}).get("image_size", 32))
    pruned = slim(net, state["model"], image_size, ratio, flops_reduction, min_keep, round_to)
    checkpoint = os.path.abspath(os.path.join(output_dir, "checkpoints", CHECKPOINT))
    config_path = os.path.join(output_dir, "config.yaml")
    save_config(finetune_config(config, pruned.spec, checkpoint, output_dir, finetune_epochs), config_path)
    new_config = load_config(config_path, saved_run=True)  # checked, and with today's defaults where the run had none
    save_config(new_config, config_path)
    record = {
        "from": ckpt.resolve(source),
        "criterion": "batchnorm |gamma| (network slimming)",
        "ratio": ratio,
        "flops_reduction": flops_reduction,
        "min_keep": min_keep,
        "round_to": round_to,
        "image_size": image_size,
        "params": list(pruned.params),
        "flops": list(pruned.flops),
    }
    new_state: dict[str, Any] = {
        **{key: state[key] for key in ("data", "ranks", "train_samples") if key in state},
        "model": pruned.spec,
        "config": new_config,
        "epoch": 0,
        "step": 0,
        "best_top1": -1.0,
        "metrics": {},
        "pruned": record,
    }
    directory = os.path.join(output_dir, "checkpoints")
    os.makedirs(directory, exist_ok=True)
    tensors = {name: tensor.numpy() for name, tensor in pruned.net.state_dict().items()}
    ckpt.save_checkpoint(directory, CHECKPOINT, tensors, None, new_state)
    for link in ("best", "latest"):
        ckpt.set_link(directory, link, CHECKPOINT)
    return pruned, checkpoint


def finetune_config(config, spec, checkpoint, output_dir, epochs=None):
    """The source run's `config` fine-tuning the pruned network `spec` from `checkpoint` into `output_dir`/finetune."""
    config = copy.deepcopy(config)
    config.setdefault("model", {}).update(
        {"kwargs": spec["kwargs"], "pretrained": checkpoint, "pretrained_layout": None}
    )
    run_dir = os.path.abspath(os.path.join(output_dir, FINETUNE_DIR))
    config.setdefault("run", {}).update({"output_dir": run_dir, "resume": None})
    config.setdefault("loss", {})["bn_sparsity"] = 0.0  # Liu et al. fine-tune without the sparsity penalty (sec. 4)
    if epochs is not None:
        config.setdefault("train", {})["epochs"] = int(epochs)
    return config


def _source_config(state, where):
    """The run config a checkpoint was trained with (saved in its state.json), in today's sections."""
    saved = state.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"checkpoint {where!r} records no run config (state.json 'config'), so no fine-tuning run can be "
            f"written for it: prune a checkpoint that tools/train.py wrote"
        )
    return migrate_config(saved)


def _check_free(output_dir):
    for entry in ("checkpoints", "config.yaml"):
        if os.path.exists(os.path.join(output_dir, entry)):
            raise ConfigError(f"output folder {output_dir!r} already holds a run ({entry}); prune into a new folder")
