"""Data sets by config: CIFAR-10/100 from CIFAR's python tar.gz, the synthetic quick-start set,
an image folder (one sub-folder per class) and a file list ("path label" lines)."""

import os

import numpy as np
import paddle

from paddle_attn.data.class_names import for_dataset
from paddle_attn.data.download import CIFAR_SOURCES, fetch_cifar
from paddle_attn.data.images import IMAGE_EXTENSIONS, load_image
from paddle_attn.data.samples import AugmentedSamples
from paddle_attn.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASSES
from paddle_attn.data.synthetic import write_synthetic_cifar
from paddle_attn.data.transforms import build_transform, split_presets
from paddle_attn.errors import DataError

DATASETS = ("cifar10", "cifar100", "folder", "filelist", "synthetic")  # what `build_dataset` reads
CLASS_COUNTS = {"cifar10": 10, "cifar100": 100, "synthetic": len(SYNTHETIC_CLASSES)}  # sets whose classes are fixed
CIFAR_FILES = {"cifar10": "cifar-10-python.tar.gz", "cifar100": "cifar-100-python.tar.gz"}
CIFAR_HOME = "https://www.cs.toronto.edu/~kriz/cifar.html"


class LabeledImageFiles(paddle.io.Dataset):
    """(image path, label) pairs read on access, in the layout of every other data set here. An unreadable
    file raises the DataError naming it (`loader.ErrorReportingLoader` reports it with the sample's index)."""

    def __init__(self, samples, class_names, transform=None):
        self.samples, self.class_names, self.transform = samples, list(class_names), transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        image = load_image(path)
        if self.transform is not None:
            image = self.transform(image)
        return image, np.array(label, dtype="int64")

    def file_of(self, index):
        return self.samples[index][0]


def image_folder(root, transform=None, classes=None):
    """root/<class>/<image>: classes in sorted order of their folder names, or in the order of `classes`
    (an evaluation split takes its training split's, so a class missing from it shifts no label)."""
    if not os.path.isdir(root):
        raise DataError(f"image folder {root!r} does not exist")
    found = class_folders(root)
    unknown = sorted(set(found) - set(classes or found))
    if unknown:
        raise DataError(f"image folder {root!r} has class folders the training split lacks: {', '.join(unknown[:5])}")
    classes = classes or found
    samples = [
        (os.path.join(root, name, file), label)
        for label, name in enumerate(classes)
        if name in found
        for file in sorted(os.listdir(os.path.join(root, name)))
        if file.lower().endswith(IMAGE_EXTENSIONS)
    ]
    if not samples:
        raise DataError(f"image folder {root!r} holds no images in class sub-folders ({', '.join(IMAGE_EXTENSIONS)})")
    return LabeledImageFiles(samples, classes, transform)


def class_folders(root):
    return sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))


def folder_split(root, mode):
    """The folder of split `mode` of an image-folder data set: root/train/ for "train"; for "test" (evaluation)
    root/val/ (ImageNet's name) if it exists, else root/test/."""
    names = ("train",) if mode == "train" else ("val", "test")
    if not os.path.isdir(root):
        raise DataError(f"image folder data set {root!r} (data.root) does not exist")
    for name in names:
        if os.path.isdir(os.path.join(root, name)):
            return os.path.join(root, name)
    raise DataError(
        f"image folder data set {root!r} (data.root) has no {' or '.join(n + '/' for n in names)} folder: "
        f"expected {root}/train/<class>/<image> and {root}/val/<class>/<image> (or test/)"
    )


def file_list(list_path, transform=None):
    """A text file of "path label" lines; relative paths are taken from the list's folder."""
    base = os.path.dirname(os.path.abspath(list_path))
    samples = []
    try:
        with open(list_path) as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                path, _, label = line.strip().rpartition(" ")
                if not path or not label.lstrip("-").isdigit() or int(label) < 0:
                    raise DataError(
                        f"{list_path}:{number}: expected 'path label' with a label >= 0, got {line.strip()!r}"
                    )
                samples.append((os.path.join(base, path), int(label)))
    except OSError as err:
        raise DataError(f"cannot read file list {list_path!r}: {err.strerror}") from err
    if not samples:
        raise DataError(f"file list {list_path!r} is empty")
    classes = [str(i) for i in range(max(label for _, label in samples) + 1)]
    return LabeledImageFiles(samples, classes, transform)


def cifar(name, mode, data_file=None, transform=None):
    """Paddle's Cifar10/Cifar100 from a local tar.gz (downloaded there by Paddle's dataset download if
    missing), else Paddle's cache, else Paddle's download."""
    dataset_class = paddle.vision.datasets.Cifar10 if name == "cifar10" else paddle.vision.datasets.Cifar100
    expected = CIFAR_FILES[name]
    if data_file is not None and not os.path.isfile(data_file):
        try:
            fetch_cifar(name, data_file)
        except Exception as err:  # offline, a proxy, a full disk, an MD5 that never matches: all end the same way
            raise DataError(
                f"{name} data file {data_file!r} does not exist and downloading it from {CIFAR_SOURCES[name][0]} "
                f"failed ({type(err).__name__}: {err}). Put CIFAR's python version, {expected} "
                f"(from {CIFAR_HOME}), there, or set data.data_file to where it is."
            ) from err
    try:
        return dataset_class(data_file=data_file, mode=mode, transform=transform, download=data_file is None)
    except Exception as err:  # downloads fail in many ways offline; tar and pickle errors for broken files
        cache = os.path.expanduser(os.path.join("~", ".cache", "paddle", "dataset", "cifar", expected))
        source = f"file {data_file!r}" if data_file else f"Paddle's cache {cache!r} (download failed)"
        raise DataError(
            f"cannot load {name} from {source}: {type(err).__name__}: {err}. Download {expected} from "
            f"{CIFAR_HOME} and set data.data_file to its path (or put it at {cache})."
        ) from err


def build_dataset(data, mode, seed=0):
    """The `mode` ("train" or "test") split of the data set the config's `data` section describes, through its
    pipeline: an `AugmentedSamples` whose augmentation is seeded by (`seed`, epoch, sample index)."""
    train = mode == "train"
    preset = split_presets(data)[0 if train else 1]
    transform = build_transform(preset, train, data["image_size"], data["mean"], data["std"])
    kind = data["dataset"]
    if kind in CIFAR_FILES:
        source, where = cifar(kind, mode, data["data_file"]), data["data_file"]
    elif kind == "synthetic":
        where = data["data_file"] or os.path.join("data", "synthetic-cifar.tar.gz")
        write_synthetic_cifar(where, data["synthetic_train_per_class"], data["synthetic_test_per_class"])
        source = paddle.vision.datasets.Cifar10(data_file=where, mode=mode, download=False)
    elif kind == "folder":
        classes = None if train else class_folders(folder_split(data["root"], "train"))
        where = folder_split(data["root"], mode)
        source = image_folder(where, classes=classes)
    else:
        where = data["train_list" if train else "test_list"]
        source = file_list(where)
    if len(source) == 0:
        raise DataError(f"the {mode} split of {kind} is empty")
    name = f"the {'training' if train else 'test'} split of {kind}" + (f" {where!r}" if where else "")
    return AugmentedSamples(source, transform, name, seed)


def class_names(data, dataset=None):
    """Class names of the configured data set (`dataset`: its built split, for folders), where known."""
    if data["dataset"] == "synthetic":
        return list(SYNTHETIC_CLASSES)
    return for_dataset(data["dataset"]) or getattr(dataset, "class_names", None)
