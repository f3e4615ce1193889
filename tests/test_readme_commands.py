"""The commands and links in README.md, README_zh.md and docs/*.md name scripts, configs, options, config keys,
pip extras and files that exist (the checker: tests/doc_commands.py)."""

import os
import re

import pytest

from tests import doc_commands
from tests.doc_commands import link_problems, markdown_command_problems
from tests.helpers import ROOT


@pytest.mark.parametrize("document", doc_commands.documents())
def test_every_command_in_the_docs_is_real(document):
    text = open(os.path.join(ROOT, document), encoding="utf-8").read()
    assert doc_commands.bash_blocks(text) or document.startswith("docs/"), f"{document} has no bash block"
    assert markdown_command_problems(text) == []


@pytest.mark.parametrize("document", doc_commands.documents())
def test_every_link_in_the_docs_points_to_a_file(document):
    # links into docs/tutorials/ count too: the notebooks are committed with the READMEs that list them
    path = os.path.join(ROOT, document)
    assert link_problems(open(path, encoding="utf-8").read(), path) == []


def test_both_readmes_link_to_each_other():
    english = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    chinese = open(os.path.join(ROOT, "README_zh.md"), encoding="utf-8").read()
    assert "(README_zh.md)" in english and "(README.md)" in chinese


def test_the_chinese_readme_quotes_only_the_english_figures():
    # README_zh.md translates README.md: a number only it holds is a typo or a figure left behind by an update
    numbers = re.compile(r"\d+(?:[.,]\d+)*")
    english = set(numbers.findall(open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()))
    chinese = numbers.findall(open(os.path.join(ROOT, "README_zh.md"), encoding="utf-8").read())
    assert len(chinese) > 100 and [number for number in chinese if number not in english] == []


# A README in small: every kind of command the checker reads, placeholders included; clean as written.
SAMPLE = """
```bash
pip install -e ".[cpu,onnx]" && python tools/train.py -c configs/quickstart.yaml -o train.epochs=3   # a comment's '
python tools/eval.py --checkpoint output/quickstart [--json out.json]
python -m paddle.distributed.launch --gpus 0,1 tools/train.py \\
    -c configs/resnet50_se_cifar100.yaml -o model.kwargs.attention_kwargs.reduction=8
python tools/infer.py --model output/run/inference --backend paddle|onnxruntime|openvino images/
python tools/export.py ... --format onnx --int8-calibration data/calibration/
python tools/train.py -c ... -o run.resume=<checkpoint>
mkdir -p output/x && python -c "
print('a # inside a string')"
paddle-attn-summary --model resnet50_nam --num-classes 100 --stem cifar
python benchmarks/infer_speed.py --models resnet50_nam,resnet50
paddle-attn-train --list-configs && paddle-attn-train -c resnet50_nam_cifar100 -o train.epochs=1
```

See [deploy](docs/deploy.md), [its backends](docs/deploy.md#backends) and ![a picture](docs/images/attention_gradcam.png).
"""

MUTATIONS = [
    # (sample text, replaced by, the problem the checker must name)
    ("--checkpoint output/quickstart", "--checkpiont output/quickstart", "unknown option --checkpiont"),
    ("--checkpoint output/quickstart", "--check output/quickstart", "unknown option --check"),  # an abbreviation
    ("[--json out.json]", "[--jsn out.json]", "unknown option --jsn"),
    ("configs/quickstart.yaml", "configs/quickstrt.yaml", "no config file configs/quickstrt.yaml"),
    ("tools/eval.py", "tools/evaluate.py", "no script tools/evaluate.py"),
    ("benchmarks/infer_speed.py", "benchmarks/infer_sped.py", "no script benchmarks/infer_sped.py"),
    ("--models resnet50_nam", "--model resnet50_nam", "unknown option --model"),  # a benchmark's option
    ("paddle-attn-summary", "paddle-attn-summarize", "no command paddle-attn-summarize"),
    ("--stem cifar", "--stem cifar10", "invalid choice: 'cifar10'"),
    ("paddle|onnxruntime|openvino", "paddle|onnxruntime|openvno", "invalid choice: 'openvno'"),  # every alternative
    ("--format onnx --int8", "--format onx --int8", "--format onx: not one of"),  # an elided command's choices
    ('".[cpu,onnx]"', '".[cpu,onyx]"', "no pip extra 'onyx'"),
    # -o keys on the elided command (`-c ...`), where only the key can be checked
    ("-o run.resume=<checkpoint>", "-o run.resumes=<checkpoint>", "unknown config key run.resumes"),
    ("-o run.resume=<checkpoint>", "-o runs.resume=<checkpoint>", "unknown config section 'runs'"),
    ("-o run.resume=<checkpoint>", "-o train.resume=<checkpoint>", "train.resume moved to run.resume"),
    ("-o run.resume=<checkpoint>", "-o run.resume.last=<checkpoint>", "run.resume is not a mapping"),
    # with a real -c, the whole config is loaded: values are checked too
    ("-o train.epochs=3", "-o train.epochs=zero", "train.epochs must be int"),
    # a built-in config by name: it must exist, and it is loaded with the overrides
    ("-c resnet50_nam_cifar100", "-c resnet50_nam_cifar10", "neither a configs/ file nor a built-in config name"),
    ("-o train.epochs=1", "-o train.epochs=one", "train.epochs must be int"),
    ("attention_kwargs.reduction=8", "attention_kwargs.reductio=8", "has no option 'reductio'"),
    ("(docs/deploy.md)", "(docs/deploy.txt)", "no file docs/deploy.txt"),
    ("deploy.md#backends", "deploy.md#backend", "no heading #backend in docs/deploy.md"),
    ("attention_gradcam.png", "attention_gradcam.jpg", "no file docs/images/attention_gradcam.jpg"),
]


def sample_problems(text):
    return markdown_command_problems(text) + link_problems(text, os.path.join(ROOT, "README.md"))


def test_the_sample_is_clean_and_every_command_is_read():
    assert sample_problems(SAMPLE) == []
    commands = [tokens for block in doc_commands.bash_blocks(SAMPLE) for tokens in doc_commands.commands(block)]
    assert [tokens[0] for tokens in commands] == ["pip", "python", "python", "python", "python", "python", "python"] + [
        "mkdir",
        "python",
        "paddle-attn-summary",
        "python",
        "paddle-attn-train",
        "paddle-attn-train",
    ]
    assert commands[3][-2:] == ["-o", "model.kwargs.attention_kwargs.reduction=8"]  # continuation joined
    assert commands[8] == ["python", "-c", "\nprint('a # inside a string')"]  # a quote spanning lines


@pytest.mark.parametrize("old, new, problem", MUTATIONS, ids=[new for _, new, _ in MUTATIONS])
def test_the_checker_names_each_mistake(old, new, problem):
    assert old in SAMPLE
    problems = sample_problems(SAMPLE.replace(old, new, 1))
    assert any(problem in found for found in problems), problems


def test_alternatives_and_optional_groups_are_read_as_choices():
    assert doc_commands.variants(["x", "[--json", "out.json]", ".[cpu]", "a|b"]) == [
        ["x", "--json", "out.json", ".[cpu]", "a"],
        ["x", "--json", "out.json", ".[cpu]", "b"],
    ]


def test_headings_give_githubs_anchors():
    assert doc_commands.slug("Look inside: attention maps, gate statistics and Grad-CAM") == (
        "look-inside-attention-maps-gate-statistics-and-grad-cam"
    )
    assert doc_commands.slug("快速开始（CPU，无需数据）") == "快速开始cpu无需数据"
