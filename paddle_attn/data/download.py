"""CIFAR's python tar.gz fetched through Paddle's own dataset download (its mirror, MD5 check and progress bar)."""

import os
import shutil

import paddle.dataset.common
from paddle.vision.datasets import cifar as paddle_cifar

# the URL and MD5 Paddle's Cifar10 / Cifar100 download from and check against
CIFAR_SOURCES = {
    "cifar10": (paddle_cifar.CIFAR10_URL, paddle_cifar.CIFAR10_MD5),
    "cifar100": (paddle_cifar.CIFAR100_URL, paddle_cifar.CIFAR100_MD5),
}


def fetch_cifar(name, path):
    """Download CIFAR `name` ("cifar10" or "cifar100") to `path`: through `paddle.dataset.common.download`
    into Paddle's cache (~/.cache/paddle/dataset/cifar, kept for other runs; a cached copy with the right
    MD5 is used as is), then copied to `path`, which appears only once complete. Returns `path`."""
    url, md5 = CIFAR_SOURCES[name]
    print(f"{path} does not exist: downloading {url} (Paddle's dataset download, MD5 {md5})", flush=True)
    cached = paddle.dataset.common.download(url, "cifar", md5)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.part"
    shutil.copyfile(cached, partial)
    os.replace(partial, path)
    return path
