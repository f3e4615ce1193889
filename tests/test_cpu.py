"""The CPU settings: what each applies, that entry points apply them, and that importing paddle_attn applies none."""

import os
import subprocess
import sys
import warnings

from paddle_attn import cpu
from tests.helpers import ROOT


def test_apply_cpu_settings_reports_what_it_applied(monkeypatch):
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE", raising=False)
    applied = cpu.apply_cpu_settings(threads=2)
    assert applied["threads"] == 2 == cpu.cpu_threads()
    assert applied["keep_freed_memory"] is (os.uname().sysname == "Linux")
    vendor, flags = cpu.cpu_info()
    amd_avx2 = vendor == "AuthenticAMD" and "avx2" in flags
    assert applied["fast_blas"] is amd_avx2 and (os.environ.get("MKL_DEBUG_CPU_TYPE") == "5") is amd_avx2
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE", raising=False)
    assert cpu.apply_cpu_settings(threads=1, fast_blas=False)["fast_blas"] is False
    assert "MKL_DEBUG_CPU_TYPE" not in os.environ


def test_fast_blas_leaves_intel_and_user_settings_alone(monkeypatch):
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE", raising=False)
    monkeypatch.setattr(cpu, "cpu_info", lambda: ("GenuineIntel", {"avx2", "avx512f"}))
    assert cpu.use_fast_blas() is False and "MKL_DEBUG_CPU_TYPE" not in os.environ
    monkeypatch.setattr(cpu, "cpu_info", lambda: ("AuthenticAMD", {"avx2"}))
    monkeypatch.setenv("MKL_DEBUG_CPU_TYPE", "4")
    assert cpu.use_fast_blas() is False and os.environ["MKL_DEBUG_CPU_TYPE"] == "4"
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE")
    assert cpu.use_fast_blas() is True and os.environ["MKL_DEBUG_CPU_TYPE"] == "5"


def test_threads_default_to_the_cores_shared_by_the_ranks_on_this_machine(monkeypatch):
    monkeypatch.setattr(cpu, "available_cores", lambda: 8)
    monkeypatch.setenv("PADDLE_LOCAL_SIZE", "4")
    assert cpu.apply_cpu_settings(fast_blas=False, keep_freed=False)["threads"] == 2
    cpu.set_cpu_threads(2)


IMPORT_CHANGES_NOTHING = """
import os, warnings
env, filters = dict(os.environ), list(warnings.filters)
import paddle_attn, paddle_attn.training, paddle_attn.inference.predict, paddle_attn.convert, paddle_attn.cli
assert dict(os.environ) == env, set(os.environ.items()) ^ set(env.items())
assert warnings.filters == filters, [f for f in warnings.filters if f not in filters]
"""


def test_importing_paddle_attn_changes_neither_environment_nor_warnings_filters():
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_CHANGES_NOTHING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"},
    )
    assert run.returncode == 0, run.stderr


def test_training_leaves_warnings_filters_as_found(tmp_path):
    from paddle_attn.training import train
    from tests.helpers import tiny_config

    filters = list(warnings.filters)
    train(tiny_config(tmp_path, "visualdl.enabled=false", epochs=1))
    assert warnings.filters == filters
