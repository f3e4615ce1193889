"""tools/export.py and tools/infer.py end to end on a small CIFAR-stem ResNet-18 with SE."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_attn.cpu import bf16_supported
from paddle_attn.data.class_names import CIFAR10_CLASSES
from paddle_attn.data.transforms import build_transform
from paddle_attn.inference.predict import ExportedModel
from paddle_attn.weights import load_model
from tests.helpers import ROOT, assert_user_error, bf16_bound, make_checkpoint, run_tool, write_lying_images


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_checkpoint(str(tmp_path_factory.mktemp("run")), "resnet18_se", random_norms=True)


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "inference"
    result = run_tool("export.py", "--checkpoint", run_dir, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "exported resnet18_se (10 classes)" in result.stdout and "input [N, 3, 32, 32]" in result.stdout
    return str(out)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    for name, colour in (("red", (255, 0, 0)), ("green", (0, 255, 0)), ("blue", (0, 0, 255))):  # differ in class
        Image.new("RGB", (32, 32), colour).save(folder / f"{name}.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / "noise.png")
    Image.fromarray(rng.integers(0, 256, (40, 48), dtype=np.uint8)).save(
        folder / "gray_48x40.png"
    )  # needs RGB + resize
    (folder / "notes.txt").write_text("not an image, and skipped in folders")
    return folder


def test_export_matches_the_dynamic_model(run_dir, exported):
    net, _ = load_model(run_dir)
    with open(os.path.join(exported, "model_info.json")) as f:
        info = json.load(f)
    assert info["image_size"] == 32 and info["transform"] == "cifar" and info["class_names"] == list(CIFAR10_CLASSES)
    loaded = paddle.jit.load(os.path.join(exported, "inference"))
    loaded.eval()
    inference = ExportedModel(exported, threads=2)
    for batch in (3, 1):  # the batch dimension is dynamic
        x = np.random.rand(batch, 3, 32, 32).astype("float32")
        expected = net(paddle.to_tensor(x)).numpy()
        np.testing.assert_allclose(loaded(paddle.to_tensor(x)).numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(inference(x), expected, atol=1e-5)


def dynamic_top1(run_dir, paths):
    """The class the checkpoint's network predicts for each image, through the evaluation pipeline."""
    net, _ = load_model(run_dir)
    transform = build_transform("cifar", train=False, image_size=32)
    arrays = [transform(Image.open(path).convert("RGB").resize((32, 32), Image.BILINEAR)) for path in paths]
    logits = net(paddle.to_tensor(np.stack(arrays).astype("float32"))).numpy()
    return [CIFAR10_CLASSES[i] for i in logits.argmax(axis=1)]


def test_infer_on_the_export_predicts_the_dynamic_models_classes(run_dir, exported, images, tmp_path):
    out = tmp_path / "predictions.json"
    result = run_tool("infer.py", "--model", exported, images, "--top-k", 3, "--json", out)
    assert result.returncode == 0, result.stderr
    predictions = json.loads(out.read_text())["predictions"]
    paths = sorted(str(path) for path in images.glob("*.png"))
    assert [item["image"] for item in predictions] == paths  # notes.txt skipped
    assert len(result.stdout.splitlines()) == len(paths)  # nothing but one line per image
    assert [item["top_k"][0]["class"] for item in predictions] == dynamic_top1(run_dir, paths)
    for item, line in zip(predictions, result.stdout.splitlines(), strict=True):
        probabilities = [top["probability"] for top in item["top_k"]]
        assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert line.startswith(f"{item['image']}: {item['top_k'][0]['class']} ")
    assert "5 image(s) in" in result.stderr


def test_images_with_lying_headers_are_named_and_skipped(exported, images, tmp_path):
    bomb, truncated = write_lying_images(tmp_path)
    result = run_tool("infer.py", "--model", exported, bomb, images / "red.png", truncated, images / "blue.png")
    assert_user_error(
        result,
        f"{bomb!r} is not a readable image: Image size (400000000 pixels) exceeds limit",
        f"{truncated!r} is not a readable image",
    )
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        str(images / "red.png"),
        str(images / "blue.png"),
    ]


def test_infer_from_a_checkpoint_with_a_labels_file(run_dir, images, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"label_{i}\n" for i in range(10)))
    image = images / "gray_48x40.png"
    result = run_tool("infer.py", "--checkpoint", run_dir, image, "--labels", labels, "--top-k", 1)
    assert result.returncode == 0, result.stderr
    expected = CIFAR10_CLASSES.index(dynamic_top1(run_dir, [image])[0])
    assert result.stdout.splitlines() == [f"{image}: label_{expected} " + result.stdout.split()[-1]]


def test_infer_from_a_checkpoint_runs_paddle_inference_with_dygraphs_numbers(run_dir, images, tmp_path):
    results = {}
    for flags in ((), ("--dygraph",)):
        out = tmp_path / f"predictions{len(flags)}.json"
        result = run_tool("infer.py", "--checkpoint", run_dir, images, "--top-k", 10, "--json", out, *flags)
        assert result.returncode == 0, result.stderr
        results[flags] = json.loads(out.read_text())["predictions"]
    fast, plain = results[()], results[("--dygraph",)]
    assert [item["image"] for item in fast] == [item["image"] for item in plain]
    for a, b in zip(fast, plain, strict=True):
        assert a["top_k"][0]["class"] == b["top_k"][0]["class"]
        by_index = {top["index"]: top["probability"] for top in b["top_k"]}
        for top in a["top_k"]:
            assert abs(top["probability"] - by_index[top["index"]]) < 1e-5


@pytest.mark.skipif(not bf16_supported(), reason="the CPU has no native bf16 (AVX-512 BF16 / AMX)")
def test_infer_in_bf16_where_the_cpu_has_it(run_dir, exported, images, tmp_path):
    """bf16 really ran (probabilities differ from fp32's) and its logits, recovered from the probabilities up to
    a constant per image (log p = logit - logsumexp), are within bf16's bound, with fp32's top-1 on clear calls."""
    results = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / f"{precision}.json"
        result = run_tool(
            "infer.py", "--model", exported, images, "--top-k", 10, "--precision", precision, "--json", out
        )
        assert result.returncode == 0, result.stderr
        by_index = [
            {top["index"]: top["probability"] for top in item["top_k"]}
            for item in json.loads(out.read_text())["predictions"]
        ]
        logits = np.log([[p[i] for i in range(10)] for p in by_index])
        results[precision] = logits - logits.mean(axis=1, keepdims=True)
    fp32, bf16 = results["fp32"], results["bf16"]
    bound = bf16_bound(load_model(run_dir)[0])
    # more than fp32 engines differ (1e-4 of the scale): a silent fallback to fp32 fails
    assert np.abs(bf16 - fp32).max() > 1e-4 * np.abs(fp32).max(), "bf16 gave fp32's numbers: it did not run in bf16"
    assert np.abs(bf16 - fp32).max() <= 2 * bound * np.abs(fp32).max()  # centring can double an error
    decided = np.diff(np.sort(fp32, axis=1)[:, -2:], axis=1)[:, 0] > 4 * bound * np.abs(fp32).max()
    np.testing.assert_array_equal(bf16.argmax(1)[decided], fp32.argmax(1)[decided])


def run_tool_without_bf16(tool, *args):
    """tools/<tool> in a subprocess whose CPU feature check finds no AVX-512 BF16 or AMX, on any machine."""
    code = (
        "import runpy, sys; import paddle_attn.cpu as cpu; cpu.cpu_info = lambda: ('GenuineIntel', {'avx2'}); "
        "sys.argv = sys.argv[1:]; runpy.run_module('paddle_attn.cli.' + sys.argv[0], run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", code, tool.removesuffix(".py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_bf16_asked_on_a_cpu_without_it_is_refused(exported, images):
    assert_user_error(
        run_tool_without_bf16("infer.py", "--model", exported, images, "--precision", "bf16"),
        "bf16 inference needs oneDNN and a CPU with AVX-512 BF16 or AMX",
        "use --precision fp32",
    )


def test_bad_inputs_give_one_clear_message(exported, images, tmp_path):
    foreign = make_checkpoint(str(tmp_path / "foreign"), "resnet18_se", params_of="resnet18")
    cases = [
        (
            ("export.py", "--checkpoint", foreign, "--out", tmp_path / "x"),
            ("does not fit the model", "missing (", "attention"),
        ),
        (("export.py", "--checkpoint", tmp_path / "no_such_run", "--out", tmp_path / "x"), ("does not exist",)),
        (("infer.py", "--model", exported, images / "notes.txt"), ("notes.txt", "is not a readable image")),
        (("infer.py", "--model", exported, tmp_path / "missing.png"), ("missing.png", "does not exist")),
        (("infer.py", "--model", exported, "--input-size", 64, images), ("exported for 32x32 inputs, not 64x64",)),
        (("infer.py", "--model", exported, "--dygraph", images), ("--dygraph needs a checkpoint",)),
    ]
    with ThreadPoolExecutor(2) as pool:  # two cores
        results = list(pool.map(lambda case: run_tool(*case[0]), cases))
    for (_, fragments), result in zip(cases, results, strict=True):
        assert_user_error(result, *fragments)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """resnet18_se trained for an epoch on the tiny synthetic set (CIFAR preprocessing; lr 0.01, so its probabilities
    are not saturated at 0 and 1), and 50 images of the same kind."""
    from paddle_attn.data.synthetic import make_images
    from paddle_attn.training import train
    from tests.helpers import tiny_config

    root = tmp_path_factory.mktemp("trained")
    train(tiny_config(root, "lr.base=0.01", model="resnet18_se", epochs=1))
    folder = root / "images"
    folder.mkdir()
    for i, pixels in enumerate(make_images(5, seed=9)[0]):
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    return str(root / "run"), sorted(str(path) for path in folder.glob("*.png"))


def test_infer_gives_the_evaluation_pipelines_probabilities_on_a_trained_network(trained_run, tmp_path):
    """tools/infer.py's preprocessing (channel order, mean/std, resize) against evaluation's on 50 images: a
    trained network's probabilities move with any of them."""
    run, paths = trained_run
    out = tmp_path / "p.json"
    result = run_tool("infer.py", "--checkpoint", run, *paths, "--top-k", 10, "--json", out)
    assert result.returncode == 0, result.stderr
    predictions = json.loads(out.read_text())["predictions"]
    got = np.array(
        [[{t["index"]: t["probability"] for t in item["top_k"]}[i] for i in range(10)] for item in predictions]
    )
    net, state = load_model(run)
    transform = build_transform(state["data"]["transform"], train=False, image_size=state["data"]["image_size"])
    from paddle_attn.data.images import load_image

    with paddle.no_grad():
        logits = net(paddle.to_tensor(np.stack([transform(load_image(p)) for p in paths]).astype("float32"))).numpy()
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert len(paths) == 50 and [item["image"] for item in predictions] == paths
    assert expected.max(1).mean() > 0.3, "the network must be trained: confident, not uniform"
    assert (expected > 1e-4).mean() > 0.9, "probabilities saturated at 0 and 1 would hide preprocessing errors"
    np.testing.assert_allclose(got, expected, atol=1e-5)
    clear = expected > 1e-4  # and the log-probabilities (logits up to a constant) wherever they are not underflowing
    np.testing.assert_allclose(np.log(got[clear]), np.log(expected[clear]), atol=1e-3)
