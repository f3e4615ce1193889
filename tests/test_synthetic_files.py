"""The generated shapes set as a notebook uses it: config overrides that train on it, PNG files of its images."""

import numpy as np
from PIL import Image

from paddle_attn.config import load_config, synthetic_data_overrides
from paddle_attn.data.datasets import build_dataset
from paddle_attn.data.synthetic import CLASS_NAMES, make_images, write_image_files


def test_overrides_train_and_evaluate_on_the_generated_set_of_that_size(tmp_path):
    data_file = tmp_path / "shapes.tar.gz"
    config = load_config("configs/resnet50_cbam_cifar100.yaml", synthetic_data_overrides(data_file, 3, 2))
    assert config["data"]["dataset"] == "synthetic"
    assert config["data"]["num_workers"] == 0
    assert config["model"]["num_classes"] == len(CLASS_NAMES)
    assert len(build_dataset(config["data"], "train")) == 3 * len(CLASS_NAMES)
    assert len(build_dataset(config["data"], "test")) == 2 * len(CLASS_NAMES)
    assert data_file.is_file()


def test_image_files_hold_the_generated_images_named_by_class(tmp_path):
    (tmp_path / "old.png").write_bytes(b"from an earlier run")
    paths, labels = write_image_files(str(tmp_path), 1, seed=1)
    images, expected_labels = make_images(1, seed=1)
    assert list(labels) == list(expected_labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.split("/")[-1] for p in paths)  # old.png is gone
    for path, image, label in zip(paths, images, labels, strict=True):
        assert path.endswith(f"_{CLASS_NAMES[label]}.png")
        assert np.array_equal(np.asarray(Image.open(path)), image)
