"""The package is the product: the wheel of this checkout, installed into a fresh virtualenv, trains the quick start
from another folder by its built-in config name, summarizes a network and builds the oneDNN operator from its own
installed C++ source. One virtualenv for the module; Paddle and the rest come from the running environment
(--system-site-packages, --no-deps: offline)."""

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv

import pytest

from paddle_attn import create_model
from paddle_attn.config import builtin_configs
from tests.doc_commands import setup_commands
from tests.helpers import ROOT

WHEEL_SOURCES = ("setup.py", "README.md", "pyproject.toml", "paddle_attn")  # what setup.py reads to build


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder of a virtualenv holding the wheel, environment for its commands, a folder outside the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a copy: the build writes build/ and *.egg-info beside setup.py, not in the checkout
    source.mkdir()
    for name in WHEEL_SOURCES:
        if os.path.isdir(os.path.join(ROOT, name)):
            shutil.copytree(os.path.join(ROOT, name), source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(os.path.join(ROOT, name), source / name)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # no checkout on the path
    env["PIP_NO_INDEX"] = "1"  # offline
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)]
    subprocess.run(build, env=env, check=True, capture_output=True)
    (wheel,) = (root / "dist").glob("paddle_attn-*.whl")
    venv.create(root / "venv", system_site_packages=True, with_pip=False)  # pip: the running environment's
    python = str(root / "venv" / "bin" / "python")
    # inside a virtualenv (CI) "system" is the base Python: the running environment's packages come after the venv's own
    own = sysconfig.get_path("purelib", vars={"base": str(root / "venv"), "platbase": str(root / "venv")})
    with open(os.path.join(own, "running_environment.pth"), "w") as pth:
        pth.writelines(f"import site; site.addsitedir({folder!r})\n" for folder in site.getsitepackages())
    # --ignore-installed: never "already satisfied" by the editable install in the system site (the first test checks)
    install = [python, "-m", "pip", "-q", "install", "--no-deps", "--ignore-installed", str(wheel)]
    subprocess.run(install, env=env, check=True, capture_output=True)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return root / "venv" / "bin", env, elsewhere


def run(installed, command, *args, **env):
    bin_dir, base_env, cwd = installed
    done = subprocess.run(
        [str(bin_dir / command), *args], cwd=cwd, env={**base_env, **env}, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_wheel_is_imported_from_the_virtualenv_with_its_configs_and_commands(installed):
    bin_dir, _, _ = installed
    where = run(installed, "python", "-c", "import paddle_attn; print(paddle_attn.__file__)")
    assert where.strip().startswith(str(bin_dir.parent)), where  # not the checkout, not the editable install
    assert sorted(path.name for path in bin_dir.glob("paddle-attn-*")) == sorted(setup_commands())
    assert run(installed, "paddle-attn-train", "--list-configs").split() == builtin_configs()


def test_the_installed_command_trains_the_quick_start_by_name_from_another_folder(installed):
    tiny = [  # the quick start's recipe on 40 images, one epoch; its data_file and output_dir as shipped
        "train.epochs=1",
        "data.synthetic_train_per_class=4",
        "data.synthetic_test_per_class=3",
        "data.num_workers=0",
        "train.batch_size=8",
        "train.verbose=0",
        "cpu.kernels=paddle",  # the operator's build is the last test's
        "cpu.threads=2",
    ]
    out = run(installed, "paddle-attn-train", "-c", "quickstart", *[arg for o in tiny for arg in ("-o", o)])
    _, _, elsewhere = installed
    assert out.splitlines()[-1].startswith("done: best eval top-1 ")
    assert out.splitlines()[-1].endswith(f"checkpoints in {os.path.join('output', 'quickstart', 'checkpoints')}")
    # the config's relative paths are the working folder's
    assert (elsewhere / "data" / "synthetic-cifar.tar.gz").is_file()
    assert list((elsewhere / "output" / "quickstart" / "checkpoints").iterdir())


def test_the_installed_summary_counts_the_network(installed):
    out = run(installed, "paddle-attn-summary", "--model", "resnet50_ca", "--num-classes", "100", "--stem", "cifar")
    trainable = sum(
        p.size for p in create_model("resnet50_ca", num_classes=100, stem="cifar").parameters() if not p.stop_gradient
    )
    assert out.splitlines()[-1].startswith("resnet50_ca (100 classes, cifar stem, input 1x3x32x32)")
    assert f"trainable params {trainable:,}" in out


def test_the_onednn_operator_builds_from_the_installed_source(installed, tmp_path):
    if not any(map(shutil.which, ("c++", "g++"))):
        pytest.skip("no C++ compiler on PATH: the oneDNN operator cannot be built")
    bin_dir, _, _ = installed
    code = (
        "from paddle_attn.kernels.onednn import build; build.load_ops(); "
        "print(build.cache_directory()); print(*build._source_paths(build._SOURCES + build._HEADERS))"
    )
    cache, sources = run(installed, "python", "-c", code, PADDLE_ATTN_KERNEL_CACHE=str(tmp_path)).splitlines()[-2:]
    paths = sources.split()
    assert all(path.startswith(str(bin_dir.parent)) for path in paths)  # the wheel's own sources (and header)
    assert {os.path.basename(path) for path in paths} >= {"onednn_ops.cc", "conv2d.cc", "eltwise.cc", "batch_norm.cc"}
    assert os.path.dirname(cache) == str(tmp_path)
    assert list((tmp_path / os.path.basename(cache)).glob("**/paddle_attn_onednn*.so"))
