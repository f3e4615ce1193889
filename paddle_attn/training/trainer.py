"""Training and evaluation runs from a validated config, through paddle.Model.prepare / fit / evaluate."""

import os
import warnings

import paddle
from paddle.static import InputSpec

from paddle_attn import checkpoint as ckpt
from paddle_attn.config import save_config
from paddle_attn.data.datasets import CheckedLoader, build_dataset, class_names
from paddle_attn.data.transforms import split_presets
from paddle_attn.models import create_model
from paddle_attn.acceleration import speed_up_cpu
from paddle_attn.runtime import available_cores
from paddle_attn.training.callbacks import AverageBatchNormStats, CheckpointSaver, EpochSeed, EvalLossMean, VisualDLLogger, is_main_process
from paddle_attn.training.guards import StopOnNonFinite, StopOnSignal
from paddle_attn.training.inference_eval import InferenceEvaluation, Model
from paddle_attn.training.amp import amp_configs, run_device
from paddle_attn.training.loss import SmoothedCrossEntropy
from paddle_attn.training.optimizer import build_optimizer
from paddle_attn.training.sampler import ResumableBatchSampler
from paddle_attn.training.schedule import load_optimizer_state, schedule_from_config
from paddle_attn.training.sparsity import add_nam_sparsity


def setup_runtime(train_cfg):
    """Device, process group (under paddle.distributed.launch), CPU settings and seed, in that order.

    Returns the device and the CPU settings applied (`acceleration.speed_up_cpu`)."""
    # Paddle's BatchNorm warns on every training call that it tracks running statistics; it always has
    warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")
    warnings.filterwarnings("ignore", message="To copy construct from a tensor")  # Paddle's hapi on each batch
    device = run_device(train_cfg["device"])
    paddle.set_device(device)
    if world_size() > 1:
        paddle.distributed.init_parallel_env()
    # ranks on one machine share its cores
    cpu = speed_up_cpu(train_cfg["threads"] or max(1, available_cores() // int(os.environ.get("PADDLE_LOCAL_SIZE", 1))))
    paddle.seed(train_cfg["seed"])
    return device, cpu


def inference_evaluation(config, device, cpu):
    """The callback that evaluates through Paddle Inference, where the config asks for it and it applies
    (the CPU, one process: under data parallelism Paddle's eval gathers the ranks' outputs), else None."""
    if config["train"]["eval_backend"] != "inference" or device != "cpu" or world_size() > 1:
        return None
    return InferenceEvaluation(config["data"]["image_size"], threads=cpu["threads"])


def world_size():
    return int(os.environ.get("PADDLE_TRAINERS_NUM", 1))


def check_writable(directory):
    """Fail before training, not at the first save, when the run directory cannot be written."""
    probe = os.path.join(directory, f".write-test-{os.getpid()}")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as err:
        raise PermissionError(f"cannot write to output directory {directory!r} (train.output_dir): {err.strerror}") from err


def build_network(model_cfg, pretrained=True):
    """The config's network, with its `model.pretrained` weights unless `pretrained` is False (a resume)."""
    return create_model(model_cfg["name"], num_classes=model_cfg["num_classes"], stem=model_cfg["stem"],
                        pretrained=model_cfg["pretrained"] if pretrained else None,
                        pretrained_layout=model_cfg["pretrained_layout"], **model_cfg["kwargs"])


def prepare(net, config, optimizer=None, amp=None):
    """paddle.Model with cross-entropy (label-smoothed on training steps), top-1/top-5 accuracy and `amp` configs."""
    size = config["data"]["image_size"]
    model = Model(net, InputSpec([None, 3, size, size], "float32", "image"), InputSpec([None], "int64", "label"))
    model.prepare(optimizer, SmoothedCrossEntropy(config["loss"]["label_smoothing"]), paddle.metric.Accuracy(topk=(1, 5)),
                  amp_configs=amp)
    return model


def loader(dataset, batch_size, shuffle, num_workers, worker_init=None):
    # one shard per rank under paddle.distributed.launch, the whole set otherwise
    sampler = ResumableBatchSampler(dataset, batch_size=batch_size, shuffle=shuffle)
    return CheckedLoader(paddle.io.DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                                              worker_init_fn=worker_init))


def run_state(config, train_set):
    """What a checkpoint needs to rebuild its network and its evaluation pipeline."""
    model, data = config["model"], config["data"]
    return {
        "model": {key: model[key] for key in ("name", "num_classes", "stem", "kwargs")},
        "data": {"dataset": data["dataset"], "transform": split_presets(data)[1], "image_size": data["image_size"],
                 "mean": data["mean"], "std": data["std"], "class_names": class_names(data, train_set)},
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

    Raises TrainingStopped (after saving a resumable checkpoint) on SIGINT/SIGTERM, NonFiniteLoss on a NaN loss.
    """
    train_cfg = config["train"]
    run_dir = train_cfg["output_dir"]
    amp = amp_configs(train_cfg["amp"], run_device(train_cfg["device"]))  # a CPU run with AMP stops here
    if is_main_process():
        check_writable(run_dir)
    device, cpu = setup_runtime(train_cfg)
    resume_from = resume_point(train_cfg)  # before anything is built: a bad path fails fast

    train_set, test_set = build_dataset(config["data"], "train"), build_dataset(config["data"], "test")
    net = build_network(config["model"], pretrained=resume_from is None)
    seeding = EpochSeed(None, train_cfg["seed"])
    train_loader = loader(train_set, train_cfg["batch_size"], True, config["data"]["num_workers"], seeding.worker_init)
    seeding.sampler = train_loader.batch_sampler
    test_loader = loader(test_set, train_cfg["eval_batch_size"] or train_cfg["batch_size"], False, config["data"]["num_workers"])

    scheduler = schedule_from_config(config["lr"], train_cfg["epochs"], len(train_loader))
    optimizer = build_optimizer(config, scheduler, net)
    model = prepare(net, config, optimizer, amp)

    epoch, step, best_top1 = 0, 0, -1.0
    if resume_from is not None:
        state = ckpt.read_state(resume_from)
        params = ckpt.load_params(resume_from)
        ckpt.check_compatible(net, params, resume_from)
        net.set_state_dict(params)
        optimizer_state = ckpt.load_params(resume_from, ckpt.OPTIMIZER_FILE)  # includes the LR schedule
        load_optimizer_state(optimizer, ckpt.restore_optimizer_state(optimizer_state, net))
        epoch, step, best_top1 = state["epoch"], state["step"], state["best_top1"]
        train_loader.batch_sampler.skip_batches(state.get("step_in_epoch", 0))
        print(f"resumed from {resume_from}: epoch {epoch} + {state.get('step_in_epoch', 0)} steps, "
              f"step {step}, best top-1 {best_top1:.4f}")
    add_nam_sparsity(net, train_cfg["nam_sparsity"])

    if is_main_process():
        save_config(config, os.path.join(run_dir, "config.yaml"))
    seeding.epoch_offset = epoch
    saver = CheckpointSaver(run_dir, optimizer, train_cfg["save_freq"], train_cfg["epochs"], run_state(config, train_set),
                            epoch, best_top1, step)
    stop_on_signal = StopOnSignal(saver.save_interrupted)
    logger = []
    if config["visualdl"]["enabled"]:
        logger = [VisualDLLogger(config["visualdl"]["log_dir"] or os.path.join(run_dir, "vdl"), scheduler, epoch, step)]
    # order matters: the LR steps after each batch; a NaN stops the run before anything saves it; the eval
    # loss mean is computed before it is logged and saved; a signal saves once the step is counted and logged
    fast_eval = inference_evaluation(config, device, cpu)
    callbacks = [paddle.callbacks.LRScheduler(by_step=True, by_epoch=False), seeding, *([fast_eval] if fast_eval else []),
                 StopOnNonFinite(step, lambda: ckpt.find_latest(run_dir)), AverageBatchNormStats(), EvalLossMean(), saver, *logger,
                 stop_on_signal, *callbacks]
    remaining = train_cfg["epochs"] - epoch
    if remaining <= 0:
        print(f"nothing to do: the checkpoint is at epoch {epoch} of {train_cfg['epochs']}")
        return {"best_top1": best_top1, "epoch": epoch, "run_dir": run_dir}
    try:
        model.fit(train_loader, test_loader, epochs=remaining, log_freq=train_cfg["log_freq"],
                  verbose=train_cfg["verbose"], callbacks=callbacks)
    finally:
        stop_on_signal.restore()
    return {"best_top1": saver.best_top1, "epoch": train_cfg["epochs"], "run_dir": run_dir}


def evaluate(config, checkpoint_path):
    """Top-1, top-5 and mean loss of a checkpoint on the configured test split."""
    device, cpu = setup_runtime(config["train"])
    net, state = ckpt.load_model(checkpoint_path)
    model = prepare(net, config)
    test_set = build_dataset(config["data"], "test")
    mean_loss = EvalLossMean()
    fast_eval = inference_evaluation(config, device, cpu)
    logs = model.evaluate(loader(test_set, config["train"]["eval_batch_size"] or config["train"]["batch_size"], False,
                                 config["data"]["num_workers"]), verbose=0,
                          callbacks=[*([fast_eval] if fast_eval else []), mean_loss])
    return {"checkpoint": ckpt.resolve(checkpoint_path), "epoch": state.get("epoch"), "samples": len(test_set),
            "top1": float(logs["acc_top1"]), "top5": float(logs["acc_top5"]), "loss": mean_loss.mean}
