"""Image-folder data sets: train/ with val/ or test/, labels kept from the training split."""

import os
import shutil

import pytest

from paddle_attn.config import load_config
from paddle_attn.data.datasets import DataError, build_dataset
from tests.helpers import write_image_folder


def folder_data(root, *overrides):
    return load_config(None, ["data.dataset=folder", f"data.root={root}", "model.num_classes=3", *overrides])["data"]


@pytest.mark.parametrize(
    "splits, evaluated",
    [
        (("train", "val"), "val"),
        (("train", "test"), "test"),
        (("train", "val", "test"), "val"),
    ],
)
def test_evaluation_split_is_val_else_test(tmp_path, splits, evaluated):
    root = write_image_folder(tmp_path / "images", splits, per_class=1)
    data = folder_data(root)
    test_set, train_set = build_dataset(data, "test"), build_dataset(data, "train")
    assert {os.path.basename(os.path.dirname(os.path.dirname(p))) for p, _ in test_set.source.samples} == {evaluated}
    assert {os.path.basename(os.path.dirname(os.path.dirname(p))) for p, _ in train_set.source.samples} == {"train"}
    assert test_set.class_names == train_set.class_names == ["a", "b", "c"]


def test_no_evaluation_split_names_the_layout(tmp_path):
    root = write_image_folder(tmp_path / "images", ("train",), per_class=1)
    with pytest.raises(
        DataError,
        match=f"image folder data set '{root}' \\(data.root\\) has no val/ or test/ folder: "
        f"expected {root}/train/<class>/<image> and {root}/val/<class>/<image>",
    ):
        build_dataset(folder_data(root), "test")
    with pytest.raises(DataError, match="'.*nowhere' \\(data.root\\) does not exist"):
        build_dataset(folder_data(tmp_path / "nowhere"), "train")


def test_a_class_missing_from_val_keeps_the_training_labels(tmp_path):
    root = write_image_folder(tmp_path / "images", per_class=1)
    shutil.rmtree(os.path.join(root, "val", "b"))
    test_set = build_dataset(folder_data(root), "test")
    assert [(os.path.basename(os.path.dirname(p)), label) for p, label in test_set.source.samples] == [
        ("a", 0),
        ("c", 2),
    ]
    os.makedirs(os.path.join(root, "val", "zebra"))
    with pytest.raises(DataError, match="has class folders the training split lacks: zebra"):
        build_dataset(folder_data(root), "test")
