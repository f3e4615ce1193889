"""The CPU: what it can do (vendor, AVX-512 BF16 / AMX) and the process-wide settings that make Paddle fast on it.

Nothing here runs on import. The settings change the whole process, so only entry points apply them
(`tools/*.py` through `apply_cpu_settings`, driven by the `cpu.threads`, `cpu.fast_blas` and
`cpu.keep_freed_memory` config keys); library calls leave them alone.
Each setting's gain, measured alone by `benchmarks/cpu_settings.py`, is in its docstring.
"""

import ctypes
import ctypes.util
import os
import platform

import paddle

# Paddle runs its CPU kernels on one thread unless told otherwise; it has no getter, so the value set here is kept
_threads = {"count": 1}
_malloc = {"applied": False}


def cpu_info():
    """`(vendor, flags)` of the first CPU in /proc/cpuinfo; ("", set()) where it cannot be read."""
    vendor, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return vendor, flags


def bf16_supported():
    """True where the CPU computes bf16 natively (AVX-512 BF16 or AMX) and Paddle says so too."""
    native = bool(cpu_info()[1] & {"avx512_bf16", "amx_bf16"})
    try:
        paddle_says = bool(paddle.base.core.supports_bfloat16())
    except AttributeError:
        paddle_says = native
    return native and paddle_says


def available_cores():
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def set_cpu_threads(num_threads=None):
    """Let Paddle's CPU kernels use `num_threads` threads (default: every core this process may use).

    Paddle runs its CPU kernels on one thread unless told otherwise. Measured (benchmarks/cpu_settings.py,
    resnet18_nam, 32 px, batch 32, 2 AVX2 cores): alone 0.98x (MKL's generic path does not scale), on top
    of `use_fast_blas` 1.60x (15.4 -> 24.6 images/s). Returns the number set.
    """
    num_threads = available_cores() if num_threads is None else int(num_threads)
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    paddle.base.core.set_num_threads(num_threads)
    _threads["count"] = num_threads
    return num_threads


def cpu_threads():
    """The thread count last set through `set_cpu_threads` (Paddle's default, 1, if never)."""
    return _threads["count"]


def use_fast_blas():
    """On AMD CPUs with AVX2, set MKL_DEBUG_CPU_TYPE=5 unless the user set it. Returns True if it is 5 now.

    Paddle's CPU convolution is im2col + MKL's sgemm, and this MKL takes its generic SSE path on AMD
    CPUs; 5 selects its AVX2 path. Measured alone (benchmarks/cpu_settings.py, resnet18_nam, 32 px, batch
    32, 2 AVX2 cores): 2.67x (5.8 -> 15.4 images/s per training step). MKL reads the variable at its first
    call, so an entry point sets it before the first conv; on Intel CPUs it would cap MKL at AVX2: not set.
    """
    if "MKL_DEBUG_CPU_TYPE" in os.environ:
        return os.environ["MKL_DEBUG_CPU_TYPE"] == "5"
    vendor, flags = cpu_info()
    if vendor != "AuthenticAMD" or "avx2" not in flags:
        return False
    os.environ["MKL_DEBUG_CPU_TYPE"] = "5"
    return True


def keep_freed_memory():
    """Make glibc keep freed memory for reuse instead of unmapping it; returns True if applied (Linux/glibc).

    Paddle's CPU allocator returns every large tensor to glibc, which unmaps it, so each new activation
    page-faults in anew (an out-of-place ReLU on 16 MiB: 12.7 ms; with this: 3.2 ms). Measured on top of
    the other two (benchmarks/cpu_settings.py): resnet50_nam, batch 64: 1.40x and 1.67x in two runs (7.1 -> 9.9,
    3.5 -> 5.9 images/s, machine shared); resnet18_nam, batch 32: 1.04x, within noise. Sets
    `mallopt(M_MMAP_MAX, 0)` and `M_TRIM_THRESHOLD` to 2 GiB - 1; it cannot be undone, and resident
    memory stays at the process's peak.
    """
    if _malloc["applied"]:
        return True
    if platform.system() != "Linux":
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    _malloc["applied"] = mallopt(m_mmap_max, 0) == 1 and mallopt(m_trim_threshold, 2**31 - 1) == 1
    return _malloc["applied"]


def release_freed_memory():
    """Hand glibc's free heap pages back to the system now (`malloc_trim(0)`); returns True if it could (Linux/glibc).

    Under `keep_freed_memory` glibc never does, so memory that a short-lived large object (an evaluation's
    predictor, ~100 MB) freed between live blocks stays resident and the heap grows in steps around it.
    """
    if platform.system() != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def apply_cpu_settings(threads=None, fast_blas=True, keep_freed=True):
    """The process-wide CPU settings an entry point asks for, before any conv runs; returns what was applied.

    `threads`: None for every core of this process divided among the ranks on this machine
    (PADDLE_LOCAL_SIZE under paddle.distributed.launch). E.g. {"threads": 2, "fast_blas": True, "keep_freed_memory": True}.
    """
    if threads is None:
        threads = max(1, available_cores() // int(os.environ.get("PADDLE_LOCAL_SIZE", 1)))
    return {
        "threads": set_cpu_threads(threads),
        "fast_blas": use_fast_blas() if fast_blas else False,
        "keep_freed_memory": keep_freed_memory() if keep_freed else False,
    }
