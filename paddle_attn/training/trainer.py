"""Training and evaluation runs from a validated config, through paddle.Model.prepare / fit / evaluate.

`train` and `evaluate` leave the process as they found it, except what the config asks for (the
device, `cpu.threads` when set, the seed): CPU settings are the entry points' (`cli.set_up_process_for`).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence

import paddle

from paddle_attn import checkpoint as ckpt
from paddle_attn.data.datasets import build_dataset
from paddle_attn.optim import add_bn_sparsity, add_nam_sparsity, build_optimizer, schedule_from_config
from paddle_attn.training.cpu_kernels import apply_cpu_kernels, check_precision
from paddle_attn.training.device import amp_configs, prepare_device, run_device
from paddle_attn.training.evaluation import EvalLossMean, evaluation_path, prepare
from paddle_attn.training.fit_callbacks import FitPlan, fit_callbacks
from paddle_attn.training.resume import RunStart, describe_run, restore, resume_point
from paddle_attn.training.run_dir import hold_run_dir, write_run_config
from paddle_attn.training.sampler import eval_loader, run_loaders
from paddle_attn.weights import create_model_from_spec, load_model

# Paddle's BatchNorm and hapi warn on every batch about things that are fine here; silenced inside runs only
PADDLE_NOISE = ("When training, we now always track global mean and variance", "To copy construct from a tensor")


@contextlib.contextmanager
def quiet_paddle():
    """Inside: Paddle's warnings of PADDLE_NOISE are not shown (BatchNorm's "we now always track global mean and
    variance" and hapi's "To copy construct from a tensor", which a `fit` raises every run); the filters are
    restored on exit. For a hand-written `fit`: `with quiet_paddle(): model.fit(...)`."""
    with warnings.catch_warnings():
        for message in PADDLE_NOISE:
            warnings.filterwarnings("ignore", message=message)
        yield


def train(config: dict, callbacks: Sequence[paddle.callbacks.Callback] = ()) -> dict:
    """Train as the config says, with any extra `paddle.callbacks.Callback`s; returns {"best_top1", "epoch", "run_dir"}.

    Raises TrainingStopped (after saving a resumable checkpoint) on SIGINT/SIGTERM, NonFiniteLoss on a NaN
    loss, ConfigError when `run.output_dir` holds another run or another process is training into it (see
    `run_lock`), CheckpointError when a resume cannot continue the run exactly or a checkpoint cannot be saved.
    """
    run = config["run"]
    device = run_device(config["device"]["name"])
    amp = amp_configs(config["device"]["amp"], device)  # a CPU run with AMP stops here
    check_precision(config["device"]["precision"], config["cpu"]["kernels"], device)  # so does bf16 where it can't run
    resume_from = resume_point(run)  # before anything is built: a bad path fails fast
    lock = hold_run_dir(run["output_dir"], resume_from if run["resume"] else None, run["move_existing_run"])
    try:
        return _train_in(run["output_dir"], config, amp, resume_from, callbacks)
    finally:
        if lock is not None:
            lock.release()


def _train_in(run_dir, config, amp, resume_from, callbacks):
    """`train` once the run holds its folder: data, model, optimizer, callbacks, fit."""
    device = prepare_device(config)
    seed = config["train"]["seed"]  # of the augmentation of each (epoch, sample)
    train_set, test_set = build_dataset(config["data"], "train", seed), build_dataset(config["data"], "test", seed)
    net = create_model_from_spec(
        {**config["model"], "pretrained": None} if resume_from else config["model"], config["run"]["trusted"]
    )
    apply_cpu_kernels(net, config["cpu"]["kernels"], device, config["device"]["precision"])
    train_loader, test_loader, seeding = run_loaders(config["train"], config["data"], train_set, test_set)
    epochs = config["train"]["epochs"]
    scheduler = schedule_from_config(config["lr"], epochs, len(train_loader))
    optimizer = build_optimizer(config["optimizer"], scheduler, net)
    model = prepare(net, config, optimizer, amp, len(test_set), _evaluation_path(config, device))
    start = RunStart()
    if resume_from is not None:
        start = restore(resume_from, config, net, optimizer, train_loader, len(train_set))
    add_nam_sparsity(net, config["loss"]["nam_sparsity"])
    add_bn_sparsity(net, config["loss"]["bn_sparsity"])

    write_run_config(run_dir, config)
    plan = FitPlan(
        config, run_dir, model, optimizer, scheduler, seeding, describe_run(config, train_set), test_set, start
    )
    fit_with, saver, stop_on_signal = fit_callbacks(plan, callbacks)
    if epochs - start.epoch <= 0:
        print(f"nothing to do: the checkpoint is at epoch {start.epoch} of {epochs}")
        return {"best_top1": start.best_top1, "epoch": start.epoch, "run_dir": run_dir}
    try:
        with quiet_paddle():
            model.fit(
                train_loader,
                test_loader,
                epochs=epochs - start.epoch,
                log_freq=config["train"]["log_freq"],
                verbose=config["train"]["verbose"],
                callbacks=fit_with,
            )
    finally:
        stop_on_signal.restore()
    return {"best_top1": saver.best_top1, "epoch": epochs, "run_dir": run_dir}


def evaluate(
    config: dict, checkpoint_path: str | os.PathLike, verbose: int | None = None, trusted: bool = False
) -> dict:
    """Top-1, top-5 and mean loss of a checkpoint on the configured test split, with Paddle's progress
    output every `train.log_freq` batches (`verbose`: 0 none, 1 a bar, 2 lines; default `train.verbose`).
    `trusted` (or `run.trusted`): see `checkpoint.load_params`."""
    device = prepare_device(config)
    net, state = load_model(checkpoint_path, trusted or config["run"]["trusted"])
    test_set = build_dataset(config["data"], "test")
    model = prepare(net, config, eval_set_size=len(test_set), evaluation=_evaluation_path(config, device))
    mean_loss = EvalLossMean()
    callbacks = [*model.eval_callbacks(), mean_loss]
    with quiet_paddle():
        logs = model.evaluate(
            eval_loader(config["train"], config["data"], test_set),
            log_freq=config["train"]["log_freq"],
            verbose=config["train"]["verbose"] if verbose is None else verbose,
            callbacks=callbacks,
        )
    return {
        "checkpoint": ckpt.resolve(checkpoint_path),
        "epoch": state.get("epoch"),
        "samples": mean_loss.samples,
        "top1": float(logs["acc_top1"]),
        "top5": float(logs["acc_top5"]),
        "loss": mean_loss.mean,
    }


def _evaluation_path(config, device):
    return evaluation_path(config["device"]["eval_backend"], config["data"]["image_size"], device)
