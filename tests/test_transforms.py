"""The papers' ImageNet pipelines, pixel for pixel against torchvision's."""

import contextlib
import importlib.util
import os
import random
import sys
import types

import matplotlib.cbook
import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_attn.config import ConfigError, load_config
from paddle_attn.convert import checkpoint_state
from paddle_attn.data.augment import Pipeline, sample_rng
from paddle_attn.data.datasets import load_image
from paddle_attn.data.preprocessing import inference_info
from paddle_attn.data.samples import AugmentedSamples
from paddle_attn.data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_transform, split_presets

# photographs and drawings matplotlib ships: a 512x600 portrait (downscaled), a 128x128 drawing (upscaled),
# a 542x130 banner (upscaled, extreme aspect ratio)
SAMPLE_IMAGES = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png")


def sample_image(name):
    return load_image(os.path.join(matplotlib.cbook._get_data_path("sample_data"), name))


@contextlib.contextmanager
def _package_without_ops(name):
    """`name` as a bare package: its submodules import, its __init__ (which registers C++ ops) does not run."""
    saved = {key: module for key, module in sys.modules.items() if key == name or key.startswith(name + ".")}
    for key in saved:
        del sys.modules[key]
    spec = importlib.util.find_spec(name)
    package = types.ModuleType(name)
    package.__path__, package.__spec__ = list(spec.submodule_search_locations), spec
    sys.modules[name] = package
    try:
        yield
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        sys.modules.update(saved)


def torchvision_transforms():
    """torchvision.transforms, or a skip. Its PIL transforms are pure Python; where its C++ ops cannot load
    (PyPI's torchvision 0.28.0 is built against CUDA torch, this machine has torch 2.13.0+cpu), they are
    imported without the package's op registrations, which these transforms never use."""
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed (pip install --no-deps torchvision==0.28.0 for torch 2.13.0)")
    try:
        import torchvision.transforms as tv
    except (OSError, RuntimeError):
        with _package_without_ops("torchvision"):
            import torchvision.transforms as tv
    return tv


@pytest.mark.parametrize("name", SAMPLE_IMAGES)
def test_eval_pipeline_gives_torchvisions_pixels_on_real_images(name):
    tv = torchvision_transforms()
    image = sample_image(name)
    ours = build_transform("imagenet_eval", train=False, image_size=224)
    crop = paddle.vision.transforms.Compose(ours.transforms[:-2])  # before ToCHWFloat + Normalize
    reference_crop = tv.Compose([tv.Resize(256), tv.CenterCrop(224)])
    reference = tv.Compose([reference_crop, tv.ToTensor(), tv.Normalize(IMAGENET_MEAN, IMAGENET_STD)])

    # the same PIL bilinear resize to the same size and the same crop offsets: identical uint8 pixels
    np.testing.assert_array_equal(np.asarray(crop(image)), np.asarray(reference_crop(image)))
    np.testing.assert_allclose(ours(image), reference(image).numpy(), rtol=0, atol=1e-6)


def test_eval_pipeline_scales_the_256_224_ratio_to_other_sizes():
    pipeline = build_transform("imagenet_eval", train=False, image_size=64)
    resize, crop = pipeline.transforms[:2]
    assert resize.size == 73 and crop.size == (64, 64)  # floor(64 / 0.875)
    image = sample_image("grace_hopper.jpg")
    assert resize(image).size == (73, 85)  # shorter side (width 512) to 73, height int(73 * 600 / 512)
    assert pipeline(image).shape == (3, 64, 64)


def test_train_pipeline_random_resized_crop_and_flip():
    pipeline = build_transform("imagenet_train", train=True, image_size=32)
    crop = pipeline.transforms[0]
    assert (crop.size, tuple(crop.scale), crop.interpolation) == ((32, 32), (0.08, 1.0), "bilinear")
    assert crop.ratio == pytest.approx((3 / 4, 4 / 3))
    # a horizontal ramp: first column minus last column of the output gives the crop's width and orientation
    ramp = np.tile(np.linspace(0, 255, 200, dtype=np.float32).astype(np.uint8)[None, :, None], (150, 1, 3))
    picture = Image.fromarray(ramp)
    rng = np.random.default_rng(3)
    outputs = [pipeline(picture, rng)[0] for _ in range(40)]
    left_minus_right = np.array([out[:, 0].mean() - out[:, -1].mean() for out in outputs])
    widths = np.abs(left_minus_right)
    assert all(out.shape == (32, 32) for out in outputs)
    assert (left_minus_right > 0).any() and (left_minus_right < 0).any()  # flipped and not
    assert widths.max() > 2 * widths.min()  # crops of different widths
    np.testing.assert_array_equal(pipeline(picture, np.random.default_rng(3))[0], outputs[0])  # the same crop again


def test_split_presets_default_to_data_transform():
    config = load_config(None)
    assert split_presets(config["data"]) == ("cifar", "cifar")
    config = load_config(None, ["data.transform=imagenet", "data.eval_transform=imagenet_eval"])
    assert split_presets(config["data"]) == ("imagenet", "imagenet_eval")
    config = load_config(None, ["data.train_transform=imagenet_train"])
    assert split_presets(config["data"]) == ("imagenet_train", "cifar")


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "data.train_transform=imagenet_eval",
            "data.train_transform must be null or one of cifar, imagenet, imagenet_train",
        ),
        (
            "data.eval_transform=imagenet_train",
            "data.eval_transform must be null or one of cifar, imagenet, imagenet_eval",
        ),
    ],
)
def test_a_pipeline_for_the_wrong_split_is_a_config_error(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_converted_imagenet_weights_carry_the_papers_eval_pipeline():
    spec = {"name": "resnet50_eca", "num_classes": 1000, "stem": "imagenet", "kwargs": {}}
    state = checkpoint_state(spec)
    assert state["data"] == {"transform": "imagenet_eval", "image_size": 224}
    info = inference_info({"model": spec})  # no data section: the stem's default
    assert (info["transform"], info["image_size"]) == ("imagenet_eval", 224)
    assert checkpoint_state({**spec, "stem": "cifar"})["data"] == {"transform": "cifar", "image_size": 32}


def test_cifar_crop_flip_only_shifts_and_mirrors():
    pipeline = build_transform("cifar_crop_flip", train=True, image_size=32)
    crop = Pipeline(pipeline.transforms[:-2])
    pixels = np.random.RandomState(0).randint(0, 256, (32, 32, 3), dtype=np.uint8)
    padded = np.pad(pixels, ((4, 4), (4, 4), (0, 0)))
    windows = {(top, left, flip) for top in range(9) for left in range(9) for flip in (False, True)}

    def placement(out):
        return next(
            (top, left, flip)
            for top, left, flip in windows
            if np.array_equal(out, padded[top : top + 32, left : left + 32][:, :: -1 if flip else 1])
        )

    rng = np.random.default_rng(0)
    seen = {placement(np.asarray(crop(Image.fromarray(pixels), rng))) for _ in range(30)}
    assert len(seen) > 10 and {flip for _, _, flip in seen} == {False, True}


class Pictures(paddle.io.Dataset):
    """Raw (PIL image, label) pairs: random 32x32 pictures."""

    def __len__(self):
        return 6

    def __getitem__(self, index):
        pixels = np.random.RandomState(index).randint(0, 256, (32, 32, 3), dtype=np.uint8)
        return Image.fromarray(pixels), index


@pytest.mark.parametrize("preset", ["cifar", "imagenet_train", "cifar_crop_flip"])
def test_augmentation_is_a_function_of_seed_epoch_and_index(preset):
    """Whatever was drawn before, in whatever order, whatever Python's, NumPy's and Paddle's global generators hold:
    sample i of epoch e is the same picture; another epoch or seed draws another."""
    samples = AugmentedSamples(Pictures(), build_transform(preset, train=True, image_size=32), "pictures", seed=7)
    forward = [samples[(3, i)][0] for i in range(6)]
    random.seed(1)
    np.random.seed(1)
    paddle.seed(1)
    backward = [samples[(3, i)][0] for i in reversed(range(6))][::-1]
    for a, b in zip(forward, backward, strict=True):
        np.testing.assert_array_equal(a, b)
    other_epoch = [samples[(4, i)][0] for i in range(6)]
    assert sum(not np.array_equal(a, b) for a, b in zip(forward, other_epoch, strict=True)) >= 4
    samples.seed = 8
    assert sum(not np.array_equal(a, samples[(3, i)][0]) for i, a in enumerate(forward)) >= 4


def test_every_random_step_draws_from_the_generator_it_is_given():
    pipeline = build_transform("cifar", train=True, image_size=32)
    picture = Pictures()[0][0]
    first = pipeline(picture, sample_rng(1, 2, 3))
    random.seed(5)
    np.random.seed(5)
    np.testing.assert_array_equal(pipeline(picture, sample_rng(1, 2, 3)), first)
    with pytest.raises(ValueError, match="a random pipeline needs the sample's generator"):
        pipeline(picture)


def test_data_parallel_ranks_key_their_samples_as_one_process_would():
    """Each rank's shard holds the same (epoch, index) keys a single process hands out for those samples, and a
    sample's augmentation is a function of its key: rank 1 of 2 sees sample i as the single process does."""
    from paddle_attn.training.sampler import ResumableBatchSampler

    data = list(range(10))
    single = ResumableBatchSampler(data, batch_size=2, shuffle=True, num_replicas=1, rank=0)
    single.start_epoch(5, seed=42)
    keys = [key for batch in single for key in batch]
    assert sorted(keys) == [(5, i) for i in range(10)]
    shards = []
    for rank in (0, 1):
        shard = ResumableBatchSampler(data, batch_size=2, shuffle=True, num_replicas=2, rank=rank)
        shard.start_epoch(5, seed=42)
        shards.append({key for batch in shard for key in batch})
    assert shards[0] | shards[1] == set(keys) and not shards[0] & shards[1]
