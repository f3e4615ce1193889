"""tools/summary.py, tools/compare.py and tools/plot_curves.py end to end, and the counting they rest on."""

import csv
import os
from concurrent.futures import ThreadPoolExecutor

import paddle
import paddle.nn as nn
import pytest
from PIL import Image

import paddle_attn
from paddle_attn.analysis.comparison import registry_entries
from paddle_attn.analysis.model_cost import count_flops, count_params
from paddle_attn.analysis.run_logs import read_scalars
from tests.helpers import ROOT, assert_user_error, make_checkpoint, run_tool


def test_summary_prints_the_tutorials_counts():
    cases = [  # model, classes, stem, input size, the tutorial's total / trainable count
        ("epsanet50", 1000, "imagenet", 224, "total params 22,614,835  trainable params 22,561,715"),
        ("resnet50_nam", 100, "cifar", 32, "total params 23,818,788  trainable params 23,735,460"),
        ("resnet50_eca", 1000, "cifar", 32, "trainable params 25,549,438"),
        ("resnet50_cbam", 1000, "cifar", 32, "trainable params 28,065,864"),
        ("resnet50", 1000, "imagenet", 224, "total params 25,610,152  trainable params 25,557,032"),
    ]
    with ThreadPoolExecutor(2) as pool:  # two cores
        results = list(
            pool.map(
                lambda c: run_tool(
                    "summary.py", "--model", c[0], "--num-classes", c[1], "--stem", c[2], "--input-size", c[3]
                ),
                cases,
            )
        )
    for (name, *_, expected), result in zip(cases, results, strict=True):
        assert result.returncode == 0, result.stderr
        last = result.stdout.strip().splitlines()[-1]
        assert last.startswith(name) and expected in last and "GFLOPs" not in last and " G (multiply-adds" in last
        assert "Layer (type)" in result.stdout  # paddle.summary's table came first
    assert "FLOPs 4.112 G" in results[-1].stdout  # ResNet-50's well-known 4.1 G multiply-adds
    assert "FLOPs 3.622 G" in results[0].stdout  # EPSANet-50 (small), 3.62 GFLOPs in its paper


def test_summary_rejects_an_unknown_model():
    assert_user_error(run_tool("summary.py", "--model", "resnet50_nan"), "unknown model 'resnet50_nan'", "resnet50_nam")


def test_flops_follow_paddle_flops_rules():
    class LeNet(nn.Layer):  # the example of paddle.flops' docstring, documented there as 347560 FLOPs
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2D(1, 6, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2D(2, 2),
                nn.Conv2D(6, 16, 5),
                nn.ReLU(),
                nn.MaxPool2D(2, 2),
            )
            self.fc = nn.Sequential(nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10))

        def forward(self, x):
            return self.fc(paddle.flatten(self.features(x), 1))

    net = LeNet()
    net.train()
    assert count_flops(net, [1, 1, 28, 28]) == (347560, ["MaxPool2D"])
    assert net.training and "total_ops" not in net.features[0].__dict__  # left as found
    assert count_params(net) == (61610, 61610)


def test_registry_entries_expand_patterns_once():
    names = [entry["label"] for entry in registry_entries(["resnet18", "resnet18*"], 10, "cifar")]
    assert names == paddle_attn.list_models("resnet18*")
    with pytest.raises(ValueError, match="no registered model matches 'resnet19'"):
        registry_entries(["resnet19"], 10, "cifar")


def test_compare_writes_markdown_csv_and_png(tmp_path):
    make_checkpoint(tmp_path / "se_run", "resnet18_se", top1=0.4321)
    out = tmp_path / "compare"
    result = run_tool(
        "compare.py",
        "--models",
        "resnet18",
        "--num-classes",
        10,
        "--results",
        tmp_path / "se_run",
        "--batch-size",
        2,
        "--input-size",
        32,
        "--warmup",
        0,
        "--iterations",
        1,
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert "[1/2] resnet18:" in result.stdout and "[2/2] se_run:" in result.stdout
    markdown = (out / "compare.md").read_text()
    assert "batch 2, input 3x32x32" in markdown and "| `resnet18` | 10, cifar | 11.17 | 0.557 |" in markdown
    assert "| `se_run` | 10, cifar | 11.26 |" in markdown and markdown.rstrip().endswith("| 0.4321 |")
    with open(out / "compare.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["network"] for row in rows] == ["resnet18", "resnet18_se"]
    assert int(rows[0]["params"]) == 11_173_962 and int(rows[0]["flops"]) == 556_660_224
    assert float(rows[0]["ms_per_batch"]) > 0 and float(rows[1]["top1"]) == 0.4321
    with Image.open(out / "compare.png") as png:
        assert png.format == "PNG" and png.width > 1000  # two panels: params and top-1 against GFLOPs


def write_log(run_dir, file_name, steps, epochs, scale=1.0):
    from visualdl import LogWriter

    with LogWriter(logdir=str(run_dir / "vdl"), file_name=file_name) as writer:
        for step in steps:
            for tag, value in (
                ("train/loss", 2.0 / step),
                ("train/top1", 0.01 * step),
                ("train/top5", 0.02 * step),
                ("train/lr", 0.1 / step),
            ):
                writer.add_scalar(tag, value * scale, step)
        for epoch in epochs:
            for tag, value in (("eval/loss", 1.0 / epoch), ("eval/top1", 0.1 * epoch), ("eval/top5", 0.2 * epoch)):
                writer.add_scalar(tag, value * scale, epoch)


def test_read_scalars_merges_a_resumed_run(tmp_path):
    write_log(tmp_path, "vdlrecords.100.log", range(1, 11), [1, 2])
    write_log(tmp_path, "vdlrecords.200.log", range(9, 16), [2, 3], scale=2.0)  # resumed from step 8
    scalars = read_scalars(str(tmp_path))
    steps, values = scalars["train/top1"]
    assert steps == list(range(1, 16)) and values[7] == pytest.approx(0.08) and values[8] == pytest.approx(0.18)
    assert scalars["eval/top1"][0] == [1, 2, 3]


def test_plot_curves_draws_runs_side_by_side(tmp_path):
    write_log(tmp_path / "nam", "vdlrecords.1.log", range(1, 31), range(1, 4))
    write_log(tmp_path / "baseline", "vdlrecords.1.log", range(1, 31), range(1, 4), scale=0.9)
    out = tmp_path / "plots" / "curves.png"
    result = run_tool(
        "plot_curves.py", tmp_path / "nam", tmp_path / "baseline", "--names", "NAM", "ResNet", "--out", out
    )
    assert result.returncode == 0, result.stderr
    assert "NAM: train/top1 (30)" in result.stdout and "eval/loss (3)" in result.stdout
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (1800, 800)


def test_plot_curves_reports_a_run_without_logs(tmp_path):
    assert_user_error(run_tool("plot_curves.py", tmp_path), "no VisualDL log")


def test_summary_of_a_config():
    result = run_tool("summary.py", "-c", os.path.join(ROOT, "configs", "resnet50_nam_cifar100.yaml"))
    assert result.returncode == 0, result.stderr
    assert "resnet50_nam (100 classes, cifar stem, input 1x3x32x32): total params 23,818,788" in result.stdout
