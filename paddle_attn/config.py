"""Run configs: YAML files (a path, or the name of one shipped in paddle_attn/configs/), `-o section.key=value`
overrides, validation before anything is built.

Every key has a default here, so a config file names only what differs. An unknown section or key,
a wrong type or an impossible value raises a ConfigError naming the key, where it came from and the
valid choices.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable

import yaml

from paddle_attn.convert.layouts import LAYOUTS
from paddle_attn.data.datasets import CLASS_COUNTS, DATASETS
from paddle_attn.data.loader import DEFAULT_TIMEOUT_S
from paddle_attn.data.transforms import BOTH_SPLITS_PRESETS, EVAL_PRESETS, TRAIN_PRESETS
from paddle_attn.errors import ConfigError, ModelError, did_you_mean
from paddle_attn.models import check_model_kwargs, list_models
from paddle_attn.models.resnet import STEMS
from paddle_attn.optim import OPTIMIZERS, SCHEDULES

# the package's own configs (package data; the checkout's configs/ links here), for `-c NAME` from any folder
BUILTIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")

DEVICES = ("auto", "cpu", "gpu")
# convolutions of CPU training runs: auto is oneDNN where its operator builds and passes its self-check (issue 31)
CPU_KERNELS = ("auto", "paddle", "onednn")
PRECISIONS = ("fp32", "bf16")

# section -> key -> (default, type or tuple of types, rule); rule is a tuple of choices or a check
_NUMBER = (int, float)
_OPTIONAL_STR = (str, type(None))
SCHEMA: dict[str, dict[str, tuple]] = {
    "model": {
        "name": ("resnet18_nam", str, None),  # checked against the registry
        "num_classes": (10, int, lambda v: v >= 1 or "must be >= 1"),
        "stem": ("cifar", str, STEMS),
        "kwargs": ({}, dict, None),  # more arguments for create_model, e.g. attention_kwargs
        "pretrained": (None, _OPTIONAL_STR, None),  # weights to start from: checkpoint dir, .pdparams, or .pth + layout
        "pretrained_layout": (
            None,
            _OPTIONAL_STR,
            lambda v: v is None or _known_layout(v),
        ),  # a .pth's source code base
    },
    "data": {
        "dataset": ("cifar10", str, DATASETS),
        "data_file": (None, _OPTIONAL_STR, None),  # CIFAR's python tar.gz; None: Paddle's cache, else download
        "root": (None, _OPTIONAL_STR, None),  # folder: root/train/<class>/*, root/val/<class>/* (else root/test/)
        "train_list": (None, _OPTIONAL_STR, None),  # filelist: "path label" lines
        "test_list": (None, _OPTIONAL_STR, None),
        "transform": ("cifar", str, BOTH_SPLITS_PRESETS),
        # a pipeline for one split only; null: data.transform (see paddle_attn.data.transforms)
        "train_transform": (None, _OPTIONAL_STR, lambda v: v in (None,) + TRAIN_PRESETS or _choices(TRAIN_PRESETS)),
        "eval_transform": (None, _OPTIONAL_STR, lambda v: v in (None,) + EVAL_PRESETS or _choices(EVAL_PRESETS)),
        "image_size": (32, int, lambda v: v >= 8 or "must be >= 8"),
        "mean": (None, (list, type(None)), None),
        "std": (None, (list, type(None)), None),
        "num_workers": (0, int, lambda v: v >= 0 or "must be >= 0"),
        # seconds to wait for a batch (a worker's, or the main process's read) before the run stops: a read stuck in I/O
        "timeout_s": (DEFAULT_TIMEOUT_S, _NUMBER, lambda v: v > 0 or "must be > 0"),
        "synthetic_train_per_class": (200, int, lambda v: v >= 1 or "must be >= 1"),
        "synthetic_test_per_class": (50, int, lambda v: v >= 1 or "must be >= 1"),
    },
    "optimizer": {
        "name": ("momentum", str, OPTIMIZERS),
        "momentum": (0.9, _NUMBER, lambda v: 0 <= v < 1 or "must be in [0, 1)"),
        "weight_decay": (5e-4, _NUMBER, lambda v: v >= 0 or "must be >= 0"),
        # weight decay of BatchNorm/LayerNorm scales and shifts (NAM's excepted); null: weight_decay, 0: none
        "norm_weight_decay": (None, (float, type(None)), lambda v: v is None or v >= 0 or "must be >= 0"),
    },
    "loss": {
        "label_smoothing": (0.0, _NUMBER, lambda v: 0 <= v < 1 or "must be in [0, 1)"),  # training steps only
        "nam_sparsity": (0.0, _NUMBER, lambda v: v >= 0 or "must be >= 0"),  # NAM eq. 4 lambda; authors: 1e-4
        # L1 on every BatchNorm scale before pruning (network slimming eq. 1 lambda; Liu et al.: 1e-4 on CIFAR)
        "bn_sparsity": (0.0, _NUMBER, lambda v: v >= 0 or "must be >= 0"),
    },
    "lr": {
        "base": (0.01, _NUMBER, lambda v: v > 0 or "must be > 0"),
        "schedule": ("cosine", str, SCHEDULES),
        "warmup_steps": (0, int, lambda v: v >= 0 or "must be >= 0"),
        "min_lr": (0.0, _NUMBER, lambda v: v >= 0 or "must be >= 0"),  # cosine's end
        "step_size": (30, int, lambda v: v >= 1 or "must be >= 1"),  # step: epochs between decays
        "gamma": (0.1, _NUMBER, lambda v: 0 < v < 1 or "must be in (0, 1)"),  # step, multistep: LR factor per decay
        "milestones": (None, (list, type(None)), lambda v: _increasing_epochs(v)),  # multistep: epochs of the decays
    },
    "train": {  # the training loop
        "epochs": (10, int, lambda v: v >= 1 or "must be >= 1"),
        "batch_size": (64, int, lambda v: v >= 1 or "must be >= 1"),
        "eval_batch_size": (None, (int, type(None)), lambda v: v is None or v >= 1 or "must be >= 1"),
        "save_freq": (1, int, lambda v: v >= 1 or "must be >= 1"),
        "log_freq": (10, int, lambda v: v >= 1 or "must be >= 1"),
        "seed": (42, int, None),
        "verbose": (1, int, (0, 1, 2)),
    },
    "run": {  # the run's folder and what may continue or read it
        "output_dir": ("output/run", str, None),
        "resume": (None, _OPTIONAL_STR, None),  # a checkpoint path, or "auto": the latest in output_dir
        # resuming with another batch size, data, model, optimizer, schedule or loss: true refuses, false continues
        "resume_strict": (True, bool, None),
        # a new run into an output_dir that holds one: false stops with a message, true moves the old run aside
        "move_existing_run": (False, bool, None),
        # read pretrained and resumed pickles that hold objects other than arrays: runs the code they hold
        "trusted": (False, bool, None),
    },
    "cpu": {  # process settings, applied by the tools (cli.set_up_process_for)
        "threads": (None, (int, type(None)), lambda v: v is None or v >= 1 or "must be >= 1"),  # None: cores / ranks
        "fast_blas": (True, bool, None),  # MKL's AVX2 path on AMD CPUs (cpu.use_fast_blas), set by the tools
        "keep_freed_memory": (True, bool, None),  # glibc keeps freed memory (cpu.keep_freed_memory), set by the tools
        "kernels": ("auto", str, CPU_KERNELS),  # the training network's convolutions (training/cpu_kernels.py)
    },
    "device": {  # where and how the network runs
        "name": ("auto", str, DEVICES),
        "amp": ("off", (str, bool), lambda v: v in (False, "off", "O1") or _AMP_RULE),  # float16 mixed precision, GPUs
        # CPU training's convolution products: bf16 on CPUs with AVX-512 BF16 or AMX (training/cpu_kernels.py)
        "precision": ("fp32", str, PRECISIONS),
        # evaluation on the CPU: "inference" (the network exported to Paddle Inference, oneDNN) or "dygraph"
        "eval_backend": ("inference", str, ("inference", "dygraph")),
    },
    "visualdl": {
        "enabled": (True, bool, None),
        "log_dir": (None, _OPTIONAL_STR, None),  # default: <output_dir>/vdl
        "attention": (False, bool, None),  # gate histograms, Grad-CAM images (training/visualdl_logging.py)
        "attention_every": (1, int, lambda v: v >= 1 or "must be >= 1"),  # epochs between Grad-CAM images
    },
}


# keys of the `train` section before it was split by concern (configs and checkpoints written before)
MOVED_KEYS = {
    **{
        f"train.{key}": f"run.{key}"
        for key in ("output_dir", "resume", "resume_strict", "move_existing_run", "trusted")
    },
    **{f"train.{key}": f"cpu.{key}" for key in ("threads", "fast_blas", "keep_freed_memory")},
    "train.device": "device.name",
    "train.amp": "device.amp",
    "train.eval_backend": "device.eval_backend",
    "train.nam_sparsity": "loss.nam_sparsity",
}


def migrate_config(config: dict) -> dict:
    """A config saved before the `train` section was split (a checkpoint's `state["config"]`), in today's
    sections; a config without old keys comes back equal. The input is not changed."""
    migrated = copy.deepcopy(config)
    old_train = migrated.get("train")
    if not isinstance(old_train, dict):
        return migrated
    for old, new in MOVED_KEYS.items():
        key = old.split(".", 1)[1]
        if key in old_train:
            section, new_key = new.split(".", 1)
            migrated.setdefault(section, {})[new_key] = old_train.pop(key)
    return migrated


def defaults() -> dict:
    return {section: {key: copy.deepcopy(spec[0]) for key, spec in keys.items()} for section, keys in SCHEMA.items()}


def load_config(path: str | os.PathLike | None = None, overrides: Iterable[str] = (), saved_run: bool = False) -> dict:
    """Defaults, updated by the YAML file at `path`, then by `overrides` ("section.key=value"), validated.

    `saved_run`: `path` is a run's own config.yaml, which a run before the `train` section was split wrote
    with the old keys: those are read at their new place (`MOVED_KEYS`) instead of refused."""
    config = defaults()
    sources: dict[str, str] = {}  # section.key -> where its value came from
    if path is not None:
        path = resolve_config(path)
        for section, key, value in _flatten_file(path):
            if saved_run:
                section, _, key = MOVED_KEYS.get(f"{section}.{key}", f"{section}.{key}").partition(".")
            _assign(config, sources, section, key, value, path)
    for item in overrides:
        dotted, sep, raw = item.partition("=")
        if not sep or "." not in dotted:
            raise ConfigError(f"override {item!r} must look like section.key=value (command line -o)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(
                f"override {item!r} does not parse as a YAML value: {getattr(err, 'problem', None) or err}"
            ) from err
        section, key = dotted.split(".", 1)
        _assign(config, sources, section, key, value, "command line -o")
    _validate(config, sources)
    return config


def builtin_configs() -> list[str]:
    """The names `-c NAME` takes: the configs shipped with the package (paddle_attn/configs/NAME.yaml)."""
    return sorted(name[:-5] for name in os.listdir(BUILTIN_DIR) if name.endswith(".yaml"))


def resolve_config(path: str | os.PathLike) -> str | os.PathLike:
    """`path` if that file exists, else the built-in config of that name (with or without .yaml), else a ConfigError
    listing the built-in names. Paths inside a config (data, output) stay relative to the working folder."""
    if os.path.isfile(path):
        return path
    name = os.fspath(path)
    name = name[:-5] if name.endswith(".yaml") else name
    if name in builtin_configs():
        return os.path.join(BUILTIN_DIR, f"{name}.yaml")
    raise ConfigError(
        f"no config file {os.fspath(path)!r} and no built-in config of that name; built-in: {', '.join(builtin_configs())}"
    )


def synthetic_data_overrides(data_file, train_per_class, test_per_class):
    """`load_config` overrides that train on the generated shapes set (`data.synthetic`), written to `data_file` with
    this many images per class and split, read in the main process; the model gets the set's class count."""
    return [
        f"model.num_classes={CLASS_COUNTS['synthetic']}",
        "data.dataset=synthetic",
        f"data.data_file={data_file}",
        f"data.synthetic_train_per_class={train_per_class}",
        f"data.synthetic_test_per_class={test_per_class}",
        "data.num_workers=0",  # the set is a few hundred 32-px images: a worker process costs more than it saves
    ]


def save_config(config: dict, path: str | os.PathLike) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    os.replace(tmp, path)


def _flatten_file(path):
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except OSError as err:
        raise ConfigError(f"cannot read config file {path!r}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path!r} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path!r} must hold a mapping of sections, got {type(data).__name__}")
    for section, keys in data.items():
        if not isinstance(keys, dict):
            _check_section(section, path)
            raise ConfigError(f"{path}: section {section!r} must be a mapping of keys")
        for key, value in keys.items():
            yield section, key, value


def _check_section(section, source):
    if section not in SCHEMA:
        raise ConfigError(
            f"{source}: unknown section {section!r}{did_you_mean(section, SCHEMA)}; sections: {', '.join(SCHEMA)}"
        )


def _assign(config, sources, section, key, value, source):
    _check_section(section, source)
    top, _, rest = key.partition(".")
    if f"{section}.{top}" in MOVED_KEYS:
        raise ConfigError(f"{source}: {section}.{top} moved to {MOVED_KEYS[section + '.' + top]}")
    if top not in SCHEMA[section]:
        raise ConfigError(
            f"{source}: unknown key {section}.{top}{did_you_mean(top, SCHEMA[section])}; "
            f"keys of {section}: {', '.join(SCHEMA[section])}"
        )
    if rest:  # a nested key inside a dict-valued setting, e.g. model.kwargs.attention_kwargs.reduction
        if SCHEMA[section][top][1] is not dict:
            raise ConfigError(f"{source}: {section}.{top} is not a mapping, so {section}.{key} does not exist")
        node = config[section][top]
        *parents, leaf = rest.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    else:
        config[section][top] = value
    sources[f"{section}.{top}"] = source


def _validate(config, sources):
    for section, keys in SCHEMA.items():
        for key, (_, types, rule) in keys.items():
            value, where = config[section][key], sources.get(f"{section}.{key}", "defaults")
            types = types if isinstance(types, tuple) else (types,)
            if float in types:
                value = config[section][key] = _as_float(value)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                raise ConfigError(f"{where}: {section}.{key} must be {names}, got {value!r}")
            if isinstance(rule, tuple) and value not in rule:
                raise ConfigError(
                    f"{where}: {section}.{key} is {value!r}{did_you_mean(str(value), rule)}; valid choices: {', '.join(map(str, rule))}"
                )
            if callable(rule):
                verdict = rule(value)
                if verdict is not True:
                    raise ConfigError(f"{where}: {section}.{key} {verdict}, got {value!r}")
    _validate_relations(config, sources)


def _validate_relations(config, sources):
    name = config["model"]["name"]
    if name not in list_models():
        where = sources.get("model.name", "defaults")
        raise ConfigError(
            f"{where}: model.name {name!r} is not a registered model{did_you_mean(name, list_models())}; "
            f"see paddle_attn.list_models()"
        )
    try:
        check_model_kwargs(name, config["model"]["kwargs"])
    except ModelError as err:
        raise ConfigError(f"{sources.get('model.kwargs', 'defaults')}: model.kwargs: {err}") from err
    data = config["data"]
    needs = {"folder": ("root",), "filelist": ("train_list", "test_list")}.get(data["dataset"], ())
    for key in needs:
        if not data[key]:
            raise ConfigError(
                f"{sources.get('data.dataset', 'defaults')}: data.dataset {data['dataset']!r} needs data.{key}"
            )
    classes = CLASS_COUNTS.get(data["dataset"])
    if classes is not None and config["model"]["num_classes"] != classes:
        where = sources.get("model.num_classes", "defaults")
        raise ConfigError(
            f"{where}: model.num_classes is {config['model']['num_classes']} but data.dataset "
            f"{data['dataset']!r} has {classes} classes"
        )
    if config["lr"]["schedule"] == "multistep" and not config["lr"]["milestones"]:
        raise ConfigError(
            f"{sources.get('lr.schedule', 'defaults')}: lr.schedule 'multistep' needs lr.milestones, "
            f"the epochs at which the LR is multiplied by lr.gamma (e.g. [60, 120, 160])"
        )
    for key in ("mean", "std"):
        if data[key] is not None and (len(data[key]) != 3 or not all(isinstance(v, (int, float)) for v in data[key])):
            raise ConfigError(
                f"{sources.get('data.' + key, 'defaults')}: data.{key} must be 3 numbers, got {data[key]!r}"
            )


def _as_float(value):
    """Ints and YAML 1.1's unparsed exponents ("1e-4" is a string to PyYAML) as floats; anything else as is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


# hapi's O2 casts the network's weights to float16 for the whole run (paddle.amp.decorate, no save_dtype)
_AMP_RULE = (
    "must be off or O1 (float16 autocast, GPUs only); O2 is not offered: it keeps float16 weights in the "
    "network, so evaluation would not be float32 and its checkpoints would not load into float32 networks"
)


def _known_layout(name):
    return name in LAYOUTS or f"must be null or one of {', '.join(LAYOUTS)}"


def _increasing_epochs(value):
    if value is None or (
        all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
        and all(a < b for a, b in zip(value, value[1:]))
    ):
        return True
    return "must be increasing epoch numbers >= 1"


def _choices(choices):
    return f"must be null or one of {', '.join(choices)}"
