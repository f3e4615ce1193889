"""Training and evaluation runs from a validated config, through paddle.Model.prepare / fit / evaluate.

`train` and `evaluate` leave the process as they found it, except what the config asks for (the
device, `train.threads` when set, the seed): CPU settings are the entry points' (`cli.set_up_process_for`).
"""

import contextlib
import os
import warnings

import paddle
from paddle.static import InputSpec

from paddle_attn import checkpoint as ckpt
from paddle_attn.config import save_config
from paddle_attn.cpu import set_cpu_threads
from paddle_attn.data.datasets import build_dataset, class_names
from paddle_attn.data.loader import ErrorReportingLoader
from paddle_attn.data.transforms import split_presets
from paddle_attn.weights import create_model_from_spec, load_model
from paddle_attn.training.amp import amp_configs, run_device
from paddle_attn.training.attention_logging import attention_logging
from paddle_attn.training.callbacks import AverageBatchNormStats, CheckpointSaver, EpochSeed, EvalLossMean, VisualDLLogger, is_main_process
from paddle_attn.training.evaluation import EvaluatingModel, InferenceEvaluation
from paddle_attn.training.guards import StopOnNonFinite, StopOnSignal
from paddle_attn.training.loss import SmoothedCrossEntropy
from paddle_attn.training.optimizer import build_optimizer
from paddle_attn.training.resume import check_resumable, resume_description
from paddle_attn.training.run_dir import hold_run_dir
from paddle_attn.training.sampler import ResumableBatchSampler
from paddle_attn.training.schedule import load_optimizer_state, schedule_from_config
from paddle_attn.training.sparsity import add_nam_sparsity

# Paddle's BatchNorm and hapi warn on every batch about things that are fine here; silenced inside runs only
PADDLE_NOISE = ("When training, we now always track global mean and variance", "To copy construct from a tensor")


@contextlib.contextmanager
def quiet_paddle():
    with warnings.catch_warnings():
        for message in PADDLE_NOISE:
            warnings.filterwarnings("ignore", message=message)
        yield


def prepare_device(train_cfg):
    """Device, process group (under paddle.distributed.launch), threads if the config sets them, and seed;
    returns the device."""
    device = run_device(train_cfg["device"])
    paddle.set_device(device)
    if world_size() > 1:
        paddle.distributed.init_parallel_env()
    if train_cfg["threads"] is not None:
        set_cpu_threads(train_cfg["threads"])
    paddle.seed(train_cfg["seed"])
    return device


def inference_evaluation(config, device):
    """The callback that evaluates through Paddle Inference, where the config asks for it and it applies
    (the CPU, one process: under data parallelism the ranks evaluate in dygraph and gather), else None."""
    if config["train"]["eval_backend"] != "inference" or device != "cpu" or world_size() > 1:
        return None
    return InferenceEvaluation(config["data"]["image_size"])


def world_size():
    return int(os.environ.get("PADDLE_TRAINERS_NUM", 1))


def prepare(net, config, optimizer=None, amp=None, eval_set_size=None):
    """paddle.Model with cross-entropy (label-smoothed on training steps), top-1/top-5 accuracy exact over
    `eval_set_size` test images, and `amp` configs."""
    size = config["data"]["image_size"]
    model = EvaluatingModel(net, InputSpec([None, 3, size, size], "float32", "image"), InputSpec([None], "int64", "label"))
    model.prepare(optimizer, SmoothedCrossEntropy(config["loss"]["label_smoothing"]), paddle.metric.Accuracy(topk=(1, 5)),
                  amp_configs=amp)
    model.eval_set_size = eval_set_size
    return model


def loader(dataset, batch_size, shuffle, num_workers, worker_init=None):
    # one shard per rank under paddle.distributed.launch, the whole set otherwise
    sampler = ResumableBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle)
    return ErrorReportingLoader(dataset, sampler, num_workers, worker_init)


def describe_run(config, train_set):
    """What every checkpoint of the run records: the network and evaluation pipeline to rebuild it, and
    what a resume must match (`resume.resume_description`)."""
    model, data = config["model"], config["data"]
    return {
        "model": {key: model[key] for key in ("name", "num_classes", "stem", "kwargs")},
        "data": {"dataset": data["dataset"], "transform": split_presets(data)[1], "image_size": data["image_size"],
                 "mean": data["mean"], "std": data["std"], "class_names": class_names(data, train_set)},
        **resume_description(config, world_size(), len(train_set)),
    }


def resume_point(train_cfg):
    """The checkpoint to resume from, or None: `resume` is a path, or "auto" for the run's newest checkpoint."""
    resume = train_cfg["resume"]
    if not resume:
        return None
    if resume == "auto":
        return ckpt.find_latest(train_cfg["output_dir"])
    return ckpt.resolve(resume)


def train(config, callbacks=()):
    """Train as the config says, with any extra `paddle.callbacks.Callback`s; returns {"best_top1", "epoch", "run_dir"}.

    Raises TrainingStopped (after saving a resumable checkpoint) on SIGINT/SIGTERM, NonFiniteLoss on a NaN
    loss, ConfigError when `train.output_dir` holds another run or another process is training into it (see
    `run_lock`), CheckpointError when a resume cannot continue the run exactly or a checkpoint cannot be saved.
    """
    train_cfg = config["train"]
    run_dir = train_cfg["output_dir"]
    amp = amp_configs(train_cfg["amp"], run_device(train_cfg["device"]))  # a CPU run with AMP stops here
    resume_from = resume_point(train_cfg)  # before anything is built: a bad path fails fast
    lock = hold_run_dir(run_dir, resume_from if train_cfg["resume"] else None,
                        train_cfg["move_existing_run"]) if is_main_process() else None
    try:
        return _train_in(run_dir, config, amp, resume_from, callbacks)
    finally:
        if lock is not None:
            lock.release()


def _train_in(run_dir, config, amp, resume_from, callbacks):
    """`train` once the run holds its folder."""
    train_cfg = config["train"]
    device = prepare_device(train_cfg)

    train_set, test_set = build_dataset(config["data"], "train"), build_dataset(config["data"], "test")
    net = create_model_from_spec({**config["model"], "pretrained": None} if resume_from else config["model"],
                                 train_cfg["trusted"])
    seeding = EpochSeed(None, train_cfg["seed"])
    train_loader = loader(train_set, train_cfg["batch_size"], True, config["data"]["num_workers"], seeding.worker_init)
    seeding.sampler = train_loader.batch_sampler
    test_loader = loader(test_set, train_cfg["eval_batch_size"] or train_cfg["batch_size"], False, config["data"]["num_workers"])

    scheduler = schedule_from_config(config["lr"], train_cfg["epochs"], len(train_loader))
    optimizer = build_optimizer(config, scheduler, net)
    model = prepare(net, config, optimizer, amp, len(test_set))

    epoch, step, best_top1 = 0, 0, -1.0
    if resume_from is not None:
        state = ckpt.read_state(resume_from)
        params = ckpt.load_params(resume_from, trusted=train_cfg["trusted"])
        ckpt.check_tensors(net, params, f"checkpoint {resume_from!r} does not fit the model")
        note = check_resumable(state, config, world_size(), len(train_set), resume_from)
        net.set_state_dict(params)
        optimizer_state = ckpt.load_params(resume_from, ckpt.OPTIMIZER_FILE, train_cfg["trusted"])  # with the LR schedule
        load_optimizer_state(optimizer, ckpt.restore_optimizer_state(optimizer_state, net))
        epoch, step, best_top1 = state["epoch"], state["step"], state["best_top1"]
        train_loader.batch_sampler.skip_batches(state.get("step_in_epoch", 0))
        print(f"resumed from {resume_from}: epoch {epoch} + {state.get('step_in_epoch', 0)} steps, "
              f"step {step}, best top-1 {best_top1:.4f}" + (f"; {note}" if note else ""))
    add_nam_sparsity(net, train_cfg["nam_sparsity"])

    if is_main_process():
        save_config(config, os.path.join(run_dir, "config.yaml"))
    seeding.epoch_offset = epoch
    saver = CheckpointSaver(run_dir, optimizer, train_cfg["save_freq"], train_cfg["epochs"], describe_run(config, train_set),
                            epoch, best_top1, step)
    stop_on_signal = StopOnSignal(saver.save_interrupted)
    logger = []
    if config["visualdl"]["enabled"]:
        logger = [VisualDLLogger(config["visualdl"]["log_dir"] or os.path.join(run_dir, "vdl"), scheduler, epoch, step)]
        logger += attention_logging(config, test_set, logger[0], epoch)
    # order matters: the LR steps after each batch; a NaN stops the run before anything saves it; the eval
    # loss mean is computed before it is logged and saved; a signal saves once the step is counted and logged
    fast_eval = inference_evaluation(config, device)
    callbacks = [paddle.callbacks.LRScheduler(by_step=True, by_epoch=False), seeding, *([fast_eval] if fast_eval else []),
                 StopOnNonFinite(step, lambda: ckpt.find_latest(run_dir)), AverageBatchNormStats(), EvalLossMean(), saver, *logger,
                 stop_on_signal, *callbacks]
    remaining = train_cfg["epochs"] - epoch
    if remaining <= 0:
        print(f"nothing to do: the checkpoint is at epoch {epoch} of {train_cfg['epochs']}")
        return {"best_top1": best_top1, "epoch": epoch, "run_dir": run_dir}
    try:
        with quiet_paddle():
            model.fit(train_loader, test_loader, epochs=remaining, log_freq=train_cfg["log_freq"],
                      verbose=train_cfg["verbose"], callbacks=callbacks)
    finally:
        stop_on_signal.restore()
    return {"best_top1": saver.best_top1, "epoch": train_cfg["epochs"], "run_dir": run_dir}


def evaluate(config, checkpoint_path, verbose=None, trusted=False):
    """Top-1, top-5 and mean loss of a checkpoint on the configured test split, with Paddle's progress
    output every `train.log_freq` batches (`verbose`: 0 none, 1 a bar, 2 lines; default `train.verbose`).
    `trusted` (or `train.trusted`): see `checkpoint.load_params`."""
    device = prepare_device(config["train"])
    net, state = load_model(checkpoint_path, trusted or config["train"]["trusted"])
    test_set = build_dataset(config["data"], "test")
    model = prepare(net, config, eval_set_size=len(test_set))
    mean_loss = EvalLossMean()
    fast_eval = inference_evaluation(config, device)
    train_cfg = config["train"]
    with quiet_paddle():
        logs = model.evaluate(loader(test_set, train_cfg["eval_batch_size"] or train_cfg["batch_size"], False,
                                     config["data"]["num_workers"]), log_freq=train_cfg["log_freq"],
                              verbose=train_cfg["verbose"] if verbose is None else verbose, callbacks=[*([fast_eval] if fast_eval else []), mean_loss])
    return {"checkpoint": ckpt.resolve(checkpoint_path), "epoch": state.get("epoch"), "samples": mean_loss.samples,
            "top1": float(logs["acc_top1"]), "top5": float(logs["acc_top5"]), "loss": mean_loss.mean}
