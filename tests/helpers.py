"""Shared by the tests: a tiny generated data set and a config that trains on it in seconds."""

import os
import subprocess
import sys

from paddle_attn.analysis.run_logs import read_scalars
from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.data.synthetic import write_synthetic_cifar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_overrides(tmp_path, run="run", epochs=2, model="resnet18_nam"):
    """-o overrides: 40 training and 30 test images, batch 8 (5 steps an epoch), no workers, dygraph evaluation."""
    data_file = write_synthetic_cifar(str(tmp_path / "tiny.tar.gz"), train_per_class=4, test_per_class=3)
    return [
        f"model.name={model}",
        "model.stem=imagenet",
        *synthetic_data_overrides(data_file, train_per_class=4, test_per_class=3),
        f"train.epochs={epochs}",
        "train.batch_size=8",
        f"run.output_dir={tmp_path / run}",
        "train.verbose=0",
        "cpu.threads=2",
        "lr.base=0.05",
        "lr.warmup_steps=4",
        # evaluating through Paddle Inference exports the network first: ~5 s of a ~7 s tiny run; its tests ask for it
        "device.eval_backend=dygraph",
    ]


def tiny_config(tmp_path, *extra, **kwargs):
    return load_config(
        os.path.join(ROOT, "configs", "quickstart.yaml"), tiny_overrides(tmp_path, **kwargs) + list(extra)
    )


def read_points(run_dir):
    """{tag: [(step, value), ...]} of a run's VisualDL logs."""
    return {tag: list(zip(steps, values, strict=True)) for tag, (steps, values) in read_scalars(run_dir).items()}


def run_tool(tool, *args):
    """tools/<tool> as a subprocess from the repository root."""
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", tool), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def assert_user_error(result, *fragments):
    """A tool's clean failure: exit status 2, no traceback, the given fragments in stderr."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def make_checkpoint(run_dir, name, params_of=None, top1=0.5, random_norms=False):
    """A run with one checkpoint (`best`) of `name`, CIFAR stem, 10 classes; `params_of`: save another
    network's weights under that name; `random_norms`: its norm tensors randomized (`randomize_norms`)."""
    import paddle

    import paddle_attn
    from paddle_attn.checkpoint import save_checkpoint, set_link

    paddle.seed(1)
    net = paddle_attn.create_model(params_of or name, num_classes=10, stem="cifar")
    if random_norms:
        randomize_norms(net)
    state = {
        "epoch": 1,
        "step": 5,
        "best_top1": top1,
        "metrics": {"eval_top1": top1},
        "model": {"name": name, "num_classes": 10, "stem": "cifar", "kwargs": {}},
        "data": {"dataset": "cifar10", "transform": "cifar", "image_size": 32},
    }
    directory = os.path.join(run_dir, "checkpoints")
    os.makedirs(directory)
    save_checkpoint(directory, "epoch_0001", net.state_dict(), None, state)
    set_link(directory, "best", "epoch_0001")
    return str(run_dir)


def assert_close_to_scale(actual, expected, rtol):
    """max |actual - expected| <= rtol * max |expected|: relative to the output's scale, not elementwise."""
    import numpy as np

    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(np.abs(expected).max(), 1e-6)
    assert np.abs(actual - expected).max() <= rtol * scale, (np.abs(actual - expected).max(), scale)


def write_image_folder(root, splits=("train", "val"), classes=("a", "b", "c"), per_class=2, size=(40, 48)):
    """An ImageNet-layout folder root/<split>/<class>/<n>.jpg of small photos: one colour per class, plus noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.RandomState(0)
    for split in splits:
        for label, name in enumerate(classes):
            os.makedirs(os.path.join(root, split, name), exist_ok=True)
            for i in range(per_class):
                colour = np.array([(label * 97) % 256, (label * 53 + 80) % 256, (label * 29 + 160) % 256])
                pixels = np.clip(colour + rng.randint(-30, 30, (size[0], size[1], 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(os.path.join(root, split, name, f"{i}.jpg"))
    return str(root)


BF16_UNIT_ROUNDOFF = 2.0**-9  # bf16 keeps 8 significant bits: round to nearest errs by at most 2^-9 relative


def bf16_bound(net):
    """The largest bf16 error allowed, relative to the largest fp32 logit: rounding errors of L independent bf16
    roundings (each conv or linear layer) grow like sqrt(L); a factor of 8 leaves room for the elementwise ops
    between them. resnet18_nam: 21 layers -> 7.2 %."""
    import math

    import paddle

    layers = sum(isinstance(m, (paddle.nn.Conv2D, paddle.nn.Conv1D, paddle.nn.Linear)) for m in net.sublayers())
    return 8 * math.sqrt(layers) * BF16_UNIT_ROUNDOFF


def randomize_norms(net, seed=0):
    """Every batch-norm's running mean and variance, scale and shift (NAM's gates included: their scales set the
    channel weights |gamma| / sum |gamma|) drawn at random, so an export or backend that ignored the running
    statistics, an affine or NAM's weighting would change the logits. Returns `net`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ranges = {"_mean": (-0.5, 0.5), "_variance": (0.5, 2.0), "weight": (0.5, 1.5), "bias": (-0.3, 0.3)}
    changed = 0
    for layer in net.sublayers():
        if all(hasattr(layer, name) for name in ranges):  # BatchNorm and NAM's _ScaleWeightedNorm
            for name, (low, high) in ranges.items():
                tensor = getattr(layer, name)
                tensor.set_value(rng.uniform(low, high, tensor.shape).astype("float32"))
            changed += 1
    assert changed, "no batch-norm found"
    return net


def assert_bf16_agrees(bf16, fp32, bound, min_decided=16):
    """bf16 logits within `bound` x the largest fp32 logit, and the same top-1 wherever fp32's margin between
    its first and second class exceeds twice that error (there, no error within the bound can flip it);
    at least `min_decided` such images, of 3 classes or more, so the check means something; and bf16 different
    from fp32 by more than fp32 engines differ, so a silent fallback to fp32 fails."""
    import numpy as np

    scale = np.abs(fp32).max()
    # fp32 engines differ by up to 1e-4 x the scale (the fp32 parity bound): bf16 must differ by more
    assert np.abs(bf16 - fp32).max() > 1e-4 * scale, "bf16 gave fp32's logits: it did not run in bf16"
    assert np.abs(bf16 - fp32).max() <= bound * scale, (np.abs(bf16 - fp32).max() / scale, bound)
    top2 = np.sort(fp32, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 2 * bound * scale
    assert decided.sum() >= min_decided and len(set(fp32.argmax(1)[decided])) >= 3, "too few clear predictions"
    np.testing.assert_array_equal(bf16.argmax(1)[decided], fp32.argmax(1)[decided])


def spread_classifier(net, x, directions=5):
    """Classes = both signs of the features' first principal directions, each scaled to unit variance:
    the predictions spread over the classes, many with a clear margin."""
    import math

    import numpy as np
    import paddle

    pooled = []  # what the classifier reads: the network's own forward up to its global pool
    hook = net.avgpool.register_forward_post_hook(lambda layer, inputs, output: pooled.append(output))
    with paddle.no_grad():
        net(x)
    hook.remove()
    f = pooled[0].flatten(1).numpy()
    mean = f.mean(0)
    _, sv, vt = np.linalg.svd(f - mean, full_matrices=False)
    unit = vt[:directions] / (sv[:directions, None] / math.sqrt(len(f)))
    weight = 3.0 * np.concatenate([unit, -unit]).T
    net.fc.weight.set_value(weight.astype("float32"))
    net.fc.bias.set_value((-mean @ weight).astype("float32"))


def write_lying_images(folder):
    """Two files whose headers lie: (a 1 KB PNG whose header says 20000x20000, more pixels than PIL's
    decompression-bomb limit; a JPEG cut off after its first 300 bytes). Returns their paths."""
    import io
    import struct
    import zlib

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buffer, "PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = struct.pack(">II", 20000, 20000)  # IHDR's width and height, then its CRC recomputed
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    bomb = os.path.join(folder, "bomb_20000x20000.png")
    with open(bomb, "wb") as f:
        f.write(png)
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    truncated = os.path.join(folder, "truncated.jpg")
    with open(truncated, "wb") as f:
        f.write(buffer.getvalue()[:300])
    return bomb, truncated


def relative_error(ours, theirs):
    """Largest absolute difference over the largest magnitude of `theirs` (Paddle tensors)."""
    return float((ours - theirs).abs().max()) / max(float(theirs.abs().max()), 1e-30)


# the networks conftest's onnx_exports exports once per run, and their input size: small, so conversions stay quick
ONNX_FAMILIES = ("resnet18", "resnet18_se", "resnet18_eca", "resnet18_cbam", "resnet18_nam", "epsanet50")
ONNX_SIZE = 16
