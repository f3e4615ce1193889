"""Every paper recipe config trains one epoch through tools/train.py and evaluates through tools/eval.py.

Sizes are overridden to seconds: a generated ImageNet-layout folder of 3 classes at 40x48 px, 32 px crops,
and ResNet-18 for the ResNet-50 recipes (the same blocks, attention and options; EPSANet-50 has no smaller
sibling and runs as is). Two runs at a time, one thread each. tools/eval.py runs for one recipe of each
evaluation pipeline and for the fine-tuning (its code path is the same for all); every checkpoint is checked
to carry its recipe's evaluation pipeline.
"""

import concurrent.futures
import json
import os

import paddle
import pytest
import yaml

import paddle_attn
from paddle_attn.data.synthetic import write_synthetic_cifar
from tests.helpers import ROOT, run_tool, write_image_folder

EVALUATED = ("resnet50_imagenet", "resnet50_nam_cifar100_authors", "finetune_eca50_folder")
RECIPES = {  # config -> (overrides, the evaluation preset its checkpoints carry)
    "resnet50_imagenet": (["model.name=resnet18"], "imagenet_eval"),
    "resnet50_se_imagenet": (["model.name=resnet18_se"], "imagenet_eval"),
    "resnet50_eca_imagenet": (["model.name=resnet18_eca"], "imagenet_eval"),
    "resnet50_cbam_imagenet": (["model.name=resnet18_cbam"], "imagenet_eval"),
    "epsanet50_imagenet": ([], "imagenet_eval"),
    "resnet50_nam_cifar100_authors": (
        [
            "model.name=resnet18_nam",
            "data.dataset=synthetic",
            "model.num_classes=10",
            "data.synthetic_train_per_class=1",
            "data.synthetic_test_per_class=1",
        ],
        "cifar",
    ),
    "finetune_eca50_folder": (["model.name=resnet18_eca"], "imagenet_eval"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{config: (train result, eval result, run directory)} of every recipe, trained on tiny data."""
    tmp = tmp_path_factory.mktemp("recipes")
    folder = write_image_folder(tmp / "images", ("train", "val"), per_class=2)
    cifar = write_synthetic_cifar(str(tmp / "tiny-cifar.tar.gz"), train_per_class=1, test_per_class=1)
    paddle.seed(0)
    converted = paddle_attn.create_model("resnet18_eca", stage_attention_kwargs={"kernel_size": [3, 5, 5, 7]})
    paddle.save(converted.state_dict(), str(tmp / "eca18_imagenet.pdparams"))  # 1000 classes, like converted weights

    def run(name):
        overrides, _ = RECIPES[name]
        run_dir = tmp / name
        common = [
            f"data.root={folder}",
            f"data.data_file={cifar}",
            "model.num_classes=3",
            "data.image_size=32",
            "data.num_workers=0",
            "train.epochs=1",
            "train.batch_size=4",
            f"run.output_dir={run_dir}",
            "train.verbose=0",
            "cpu.threads=1",
            "device.eval_backend=dygraph",
            "visualdl.enabled=false",
            f"model.pretrained={tmp / 'eca18_imagenet.pdparams'}"
            if name.startswith("finetune")
            else "model.pretrained=null",
        ]
        args = ["-c", os.path.join(ROOT, "configs", f"{name}.yaml")] + sum((["-o", o] for o in common + overrides), [])
        trained = run_tool("train.py", *args)
        evaluated = None
        if name in EVALUATED:
            evaluated = run_tool(
                "eval.py", "--checkpoint", run_dir, "--json", tmp / f"{name}.json", "-o", "cpu.threads=1"
            )
        return trained, evaluated, run_dir

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return dict(zip(RECIPES, pool.map(run, RECIPES), strict=True))


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_trains_an_epoch_and_its_checkpoint_carries_the_eval_pipeline(runs, name):
    trained, _, run_dir = runs[name]
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "done: best eval top-1" in trained.stdout
    with open(run_dir / "checkpoints" / "best" / "state.json") as f:
        state = json.load(f)
    assert state["data"]["transform"] == RECIPES[name][1] and state["data"]["image_size"] == 32


@pytest.mark.parametrize("name", EVALUATED)
def test_eval_tool_evaluates_the_recipes_checkpoint(runs, name):
    _, evaluated, run_dir = runs[name]
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    with open(f"{run_dir}.json") as f:
        result = json.load(f)
    assert result["samples"] == (10 if name.endswith("authors") else 6) and 0 <= result["top1"] <= 1
    assert f"top-1 {result['top1']:.4f}" in evaluated.stdout


def test_recipes_keep_their_papers_settings(runs):
    def saved(name):
        with open(runs[name][2] / "config.yaml") as f:
            return yaml.safe_load(f)

    imagenet = saved("resnet50_eca_imagenet")
    assert (imagenet["lr"]["schedule"], imagenet["lr"]["step_size"], imagenet["lr"]["gamma"]) == ("step", 30, 0.1)
    assert imagenet["model"]["kwargs"] == {"stage_attention_kwargs": {"kernel_size": [3, 5, 5, 7]}}
    assert saved("epsanet50_imagenet")["loss"]["label_smoothing"] == 0.1
    nam = saved("resnet50_nam_cifar100_authors")
    assert (nam["lr"]["milestones"], nam["lr"]["gamma"], nam["loss"]["nam_sparsity"]) == ([60, 120, 160], 0.2, 1e-4)
    assert nam["data"]["train_transform"] == "cifar_crop_flip"
    assert (
        "classifier fc replaced, 1000 classes in the weights, 3 in the model" in runs["finetune_eca50_folder"][0].stdout
    )
