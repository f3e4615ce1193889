"""What both benchmarks share: the PyTorch reference networks, a peak-memory sampler, the machine's description."""

import contextlib
import ctypes
import importlib.util
import multiprocessing
import os
import platform
import sys
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _checkout_package(name):
    """The checkout's package `name` (torch_reference/: the tests' references, not installed), loaded by its path."""
    if name not in sys.modules:
        folder = os.path.join(ROOT, name)
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
        )
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def training_split_images(run_dir, count, seed=0):
    """`count` images (float32 N x 3 x H x W) drawn at random from the training split of the run in `run_dir`,
    through its evaluation preprocessing: int8 calibration and hold-out images from the data the network saw."""
    import numpy as np

    from paddle_attn.config import load_config
    from paddle_attn.data.datasets import build_dataset
    from paddle_attn.data.transforms import build_transform

    data = load_config(os.path.join(run_dir, "config.yaml"), saved_run=True)["data"]
    train_set = build_dataset(data, "train")
    train_set.transform = build_transform(data["transform"], False, data["image_size"], data["mean"], data["std"])
    chosen = np.random.default_rng(seed).permutation(len(train_set))[:count]
    return np.stack([train_set[int(i)][0] for i in chosen]).astype(np.float32)


def torch_reference(name, num_classes, stem="cifar"):
    """The PyTorch network of the same layout as paddle_attn's `name` with a `stem` stem, or None.

    Built from `torch_reference/` (the references tests/test_convert.py checks against
    paddle_attn's networks); the ECA, CBAM and NAM tutorials' networks have the CIFAR stem only.
    """
    reference = _checkout_package("torch_reference")  # imports torch only, not Paddle
    BUILDERS, build = reference.BUILDERS, reference.build
    if name not in BUILDERS:
        return None
    if name.split("_")[-1] in ("eca", "cbam", "nam"):
        return build(name, num_classes=num_classes) if stem == "cifar" else None
    return build(name, num_classes=num_classes, stem=stem)


class PeakMemory:
    """Peak bytes in use by malloc (heap + mmapped blocks) while inside `with`, sampled every `interval` s.

    Not for timed code: its thread wakes every 2 ms and stalls parallel kernels (benchmarks sample apart).
    Counts every allocation of the process, Paddle's and PyTorch's alike, from the level at entry:
    the extra memory one training step or one inference batch needs. glibc only (None elsewhere).
    """

    def __init__(self, interval=0.002):
        self.interval, self.peak, self._stop = interval, None, None
        try:

            class MallInfo2(ctypes.Structure):
                _fields_ = [
                    (n, ctypes.c_size_t)
                    for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
                ]

            libc = ctypes.CDLL("libc.so.6")
            libc.mallinfo2.restype = MallInfo2
            self._info = libc.mallinfo2
        except (OSError, AttributeError):
            self._info = None

    def in_use(self):
        info = self._info()
        return info.uordblks + info.hblkhd

    def __enter__(self):
        if self._info is None:
            return self
        self._base = self._peak = self.in_use()
        self._stop = threading.Event()

        def sample():
            while not self._stop.wait(self.interval):
                self._peak = max(self._peak, self.in_use())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._info is None:
            return False
        self._stop.set()
        self._thread.join()
        self.peak = max(self._peak, self.in_use()) - self._base
        return False


# paddle_attn.cpu.keep_freed_memory's mallopt settings, as glibc reads them at a process's start:
# the PyTorch runners get the same allocator as paddle_attn's without importing Paddle
KEEP_FREED_MEMORY = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"


@contextlib.contextmanager
def glibc_tunables(value):
    """GLIBC_TUNABLES=value for the processes started inside (None: unchanged)."""
    saved = os.environ.get("GLIBC_TUNABLES")
    if value is not None:
        os.environ["GLIBC_TUNABLES"] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = saved


class Isolated:
    """A runner object built by `factory(*args)` in a process of its own; `isolated.call("method", *args)`.

    Why: PyTorch and Paddle in one process slow each other down: importing torch into a Paddle process
    made Paddle's ReLU on a 64 MiB tensor 4-10x slower here (26 ms -> 116-320 ms; two OpenMP runtimes
    and allocators). One process per runner, driven in turns from here, keeps the runs interleaved in
    time without that. `factory` must be importable by name (a module-level function).
    """

    def __init__(self, factory, *args):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, factory, args), daemon=True)
        self.process.start()
        child.close()  # else this process holds the child's end open and recv() never sees EOF when it dies
        self._reply()

    def call(self, method, *args):
        self.conn.send((method, args))
        return self._reply()

    def _reply(self):
        try:
            status, value = self.conn.recv()
        except EOFError:
            self.process.join(timeout=5)
            raise RuntimeError(f"the runner process died (exit code {self.process.exitcode})") from None
        if status == "error":
            raise RuntimeError(f"in the runner process:\n{value}")
        return value

    def close(self):
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()


def _serve(conn, factory, args):
    try:
        runner = factory(*args)
        conn.send(("ok", None))
        while (message := conn.recv()) is not None:
            method, method_args = message
            conn.send(("ok", getattr(runner, method)(*method_args)))
    except (EOFError, BrokenPipeError):  # the driving process is gone: so is the work
        return
    except Exception:  # noqa: BLE001  (reported to the driving process, which raises it)
        conn.send(("error", traceback.format_exc()))


def machine():
    """One line about the CPU, its ISA extensions that matter here, and the load on it now."""
    from paddle_attn.cpu import cpu_info

    vendor, flags = cpu_info()
    model = ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model or vendor or platform.processor()}, {cores} cores, {'/'.join(isa) or 'no AVX2'}, load {load()}"


def load():
    with contextlib.suppress(OSError):
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    return "?"


def versions():
    import paddle

    parts = [f"Python {platform.python_version()}", f"Paddle {paddle.__version__}"]
    with contextlib.suppress(ImportError):
        import torch

        parts.append(f"PyTorch {torch.__version__}")
    return ", ".join(parts)


def timed(fn, steps):
    """Seconds for `steps` calls of fn()."""
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return time.perf_counter() - start


def mib(nbytes):
    return "-" if nbytes is None else f"{nbytes / 2**20:.0f}"
