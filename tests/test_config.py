"""Configs: shipped files validate, overrides parse and nest, every mistake names its key, source and choices."""

import os

import pytest
import yaml

from paddle_attn.config import BUILTIN_DIR, ConfigError, builtin_configs, load_config, save_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(f for f in os.listdir(os.path.join(ROOT, "configs")) if f.endswith(".yaml"))


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_configs_validate(name):
    config = load_config(os.path.join(ROOT, "configs", name))
    assert config["train"]["epochs"] >= 1


def test_overrides_parse_as_yaml_scalars_and_nest():
    config = load_config(
        None,
        [
            "train.epochs=3",
            "lr.base=1e-3",
            "visualdl.enabled=false",
            "model.name=resnet18_se",
            "model.kwargs.attention_kwargs.reduction=8",
            "data.mean=[0.5, 0.5, 0.5]",
        ],
    )
    assert config["train"]["epochs"] == 3 and config["lr"]["base"] == 1e-3 and config["visualdl"]["enabled"] is False
    assert config["model"]["kwargs"] == {"attention_kwargs": {"reduction": 8}}
    assert config["data"]["mean"] == [0.5, 0.5, 0.5]


def test_file_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  epochs: 7\n  batch_size: 16\n")
    config = load_config(str(path), ["train.batch_size=8"])
    assert (config["train"]["epochs"], config["train"]["batch_size"]) == (7, 8)
    saved = tmp_path / "out" / "config.yaml"
    save_config(config, str(saved))
    assert yaml.safe_load(saved.read_text()) == config


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "trian:\n  epochs: 1\n",
            r"run.yaml: unknown section 'trian' \(did you mean 'train'\?\); sections: model, data",
        ),
        (
            "train:\n  epoch: 1\n",
            r"run.yaml: unknown key train.epoch \(did you mean 'epochs'\?\); keys of train: epochs,",
        ),
        ("train:\n  epochs: ten\n", r"run.yaml: train.epochs must be int, got 'ten'"),
        ("train:\n  epochs: -2\n", r"run.yaml: train.epochs must be >= 1, got -2"),
        (
            "optimizer:\n  name: adm\n",
            r"run.yaml: optimizer.name is 'adm' \(did you mean 'adam' or 'adamw'\?\); valid choices: momentum, sgd, adam, adamw",
        ),
        (
            "model:\n  name: resnet50_nma\n",
            r"run.yaml: model.name 'resnet50_nma' is not a registered model \(did you mean 'resnet50_nam'",
        ),
        ("model:\n  num_classes: 100\n", r"model.num_classes is 100 but data.dataset 'cifar10' has 10 classes"),
        ("data:\n  dataset: folder\n", r"data.dataset 'folder' needs data.root"),
        ("visualdl:\n  enabled: 3\n", r"visualdl.enabled must be bool, got 3"),
        ("train: [1, 2]\n", r"section 'train' must be a mapping"),
        ("train:\n  epochs: [1\n", r"run.yaml' is not valid YAML"),
    ],
)
def test_config_file_errors_name_key_file_and_choices(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(str(path))


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epochs", r"must look like section.key=value"),
        ("lr.base=[0.1", r"does not parse as a YAML value"),
        (
            "lr.schedule=linear",
            r"command line -o: lr.schedule is 'linear'; valid choices: cosine, constant, step, multistep",
        ),
        ("loss.nam_sparsity=-1e-4", r"command line -o: loss.nam_sparsity must be >= 0"),
        ("model.stem.x=1", r"model.stem is not a mapping"),
        # nested model arguments are checked against the network and its attention layer before anything is built
        (
            "model.kwargs.attention_kwargs.reductio=8",
            r"command line -o: model.kwargs: NormalizationAttention has no option 'reductio'; its options: pixel_attention",
        ),
        ("model.kwargs.stage_attention_kwargs.kernel_size=[3, 5]", r"must give 4 values, one per stage"),
        (
            "model.kwargs.attention=x",
            r"model.kwargs: unknown argument 'attention' \(did you mean 'attention_kwargs'\?\); the network takes",
        ),
        ("model.kwargs.attention_kwargs=3", r"attention_kwargs must be a mapping"),
    ],
)
def test_override_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_missing_config_file():
    with pytest.raises(ConfigError, match=r"no config file 'nowhere.yaml' and no built-in config of that name"):
        load_config("nowhere.yaml")


@pytest.mark.parametrize(
    "old, new",
    [
        ("train.output_dir", "run.output_dir"),
        ("train.threads", "cpu.threads"),
        ("train.device", "device.name"),
        ("train.nam_sparsity", "loss.nam_sparsity"),
    ],
)
def test_a_key_that_moved_out_of_train_names_its_new_place(tmp_path, old, new):
    key = old.split(".")[1]
    path = tmp_path / "old.yaml"
    path.write_text(f"train:\n  epochs: 2\n  {key}: null\n")
    with pytest.raises(ConfigError, match=rf"old.yaml: {old} moved to {new}$"):
        load_config(str(path))
    with pytest.raises(ConfigError, match=rf"command line -o: {old} moved to {new}$"):
        load_config(None, [f"{old}=1"])


def test_a_runs_saved_config_from_before_the_split_reads_its_old_keys_at_their_new_place(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("train:\n  epochs: 2\n  output_dir: out/old\n  threads: 3\n  amp: 'off'\n  nam_sparsity: 1.0e-4\n")
    config = load_config(str(path), ["train.batch_size=8"], saved_run=True)
    assert (config["train"]["epochs"], config["run"]["output_dir"], config["cpu"]["threads"]) == (2, "out/old", 3)
    assert (config["device"]["amp"], config["loss"]["nam_sparsity"]) == ("off", 1e-4)
    with pytest.raises(ConfigError, match=r"command line -o: train.threads moved to cpu.threads"):
        load_config(str(path), ["train.threads=1"], saved_run=True)


@pytest.mark.parametrize("name", ["quickstart", "quickstart.yaml"])
def test_a_builtin_config_by_name_from_any_folder(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(name) == load_config(os.path.join(ROOT, "configs", "quickstart.yaml"))
    assert "quickstart" in builtin_configs() and "resnet50_nam_cifar100" in builtin_configs()


def test_a_file_of_that_name_wins_over_the_builtin_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart.yaml").write_text("train:\n  epochs: 7\n")
    assert load_config("quickstart.yaml")["train"]["epochs"] == 7
    assert load_config("quickstart")["train"]["epochs"] == 5  # no file named quickstart: the built-in one


def test_the_checkout_configs_folder_is_the_package_one():
    shipped = sorted(f"{name}.yaml" for name in builtin_configs())
    assert CONFIGS == shipped and os.path.samefile(os.path.join(ROOT, "configs"), BUILTIN_DIR)


def test_an_unknown_config_name_lists_the_builtin_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as error:
        load_config("quikstart")
    assert "no config file 'quikstart'" in str(error.value) and "quickstart, resnet50_cbam_cifar100" in str(error.value)
    assert "\n" not in str(error.value)
