"""A missing CIFAR file is fetched through Paddle's download; offline, the message names the file and the URL."""

import contextlib
import hashlib

import httpx
import paddle
import pytest

from paddle_attn.data import download
from paddle_attn.data.datasets import DataError, build_dataset
from paddle_attn.data.synthetic import write_synthetic_cifar
from tests.helpers import tiny_config

URL = "https://dataset.bj.bcebos.com/cifar/cifar-10-python.tar.gz"


@pytest.fixture
def paddle_cache(tmp_path, monkeypatch):
    """Paddle's dataset cache in a temporary folder, so no cached copy short-cuts the download."""
    monkeypatch.setattr(paddle.dataset.common, "DATA_HOME", str(tmp_path / "paddle-cache"))
    return tmp_path / "paddle-cache"


def refuse(method, url, **kwargs):
    raise httpx.ConnectError(f"connection to {url} refused (test)")


def test_refused_download_names_the_file_and_the_url(tmp_path, monkeypatch, paddle_cache):
    monkeypatch.setattr(httpx, "stream", refuse)
    target = tmp_path / "data" / "cifar-10-python.tar.gz"
    config = tiny_config(tmp_path, "data.dataset=cifar10", f"data.data_file={target}")
    with pytest.raises(DataError) as error:
        build_dataset(config["data"], "train")
    message = str(error.value)
    assert f"cifar10 data file '{target}' does not exist and downloading it from {URL} failed" in message
    assert f"RuntimeError: Cannot download {URL} within retry limit 3" in message  # Paddle's own download gave up
    assert (
        "Put CIFAR's python version, cifar-10-python.tar.gz (from https://www.cs.toronto.edu/~kriz/cifar.html)"
        in message
    )
    assert not target.exists() and not (tmp_path / "data" / "cifar-10-python.tar.gz.part").exists()


def test_missing_file_is_downloaded_md5_checked_into_the_configured_path(tmp_path, monkeypatch, paddle_cache, capsys):
    payload = open(write_synthetic_cifar(str(tmp_path / "served.tar.gz"), 2, 1), "rb").read()
    monkeypatch.setitem(download.CIFAR_SOURCES, "cifar10", (URL, hashlib.md5(payload).hexdigest()))
    requested = []

    @contextlib.contextmanager
    def serve(method, url, **kwargs):
        requested.append(url)
        yield type(
            "Response",
            (),
            {
                "headers": {"content-length": str(len(payload))},
                "iter_bytes": lambda self, chunk_size: (
                    payload[i : i + chunk_size] for i in range(0, len(payload), chunk_size)
                ),
            },
        )()

    monkeypatch.setattr(httpx, "stream", serve)
    target = tmp_path / "data" / "cifar-10-python.tar.gz"
    config = tiny_config(tmp_path, "data.dataset=cifar10", f"data.data_file={target}")
    dataset = build_dataset(config["data"], "train")
    assert requested == [URL] and len(dataset) == 20
    assert target.read_bytes() == payload == (paddle_cache / "cifar" / "cifar-10-python.tar.gz").read_bytes()
    assert f"{target} does not exist: downloading {URL}" in capsys.readouterr().out
    build_dataset(config["data"], "test")
    assert requested == [URL]  # the file is there now


def test_a_corrupt_download_is_fetched_again_until_paddles_retry_limit(tmp_path, monkeypatch, paddle_cache):
    served = []

    @contextlib.contextmanager
    def corrupt(method, url, **kwargs):
        served.append(url)
        yield type(
            "Response", (), {"headers": {"content-length": "4"}, "iter_bytes": lambda self, chunk_size: [b"junk"]}
        )()

    monkeypatch.setattr(httpx, "stream", corrupt)
    target = tmp_path / "cifar-10-python.tar.gz"
    config = tiny_config(tmp_path, "data.dataset=cifar10", f"data.data_file={target}")
    with pytest.raises(DataError, match=f"downloading it from {URL} failed"):
        build_dataset(config["data"], "train")
    assert len(served) == 3 and not target.exists()  # the MD5 never matched
