"""The XLA flag deepwise sets for the CPU: LLVM -O1 (faster compilation, same training speed), never over the
user's own choice, only under JAX."""

from __future__ import annotations

from deepwise import backend


def test_lighter_codegen_is_added_to_the_users_flags(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: None)
    backend.lighter_cpu_codegen()
    assert backend.XLA_CPU_OPTIMIZATION in backend.os.environ["XLA_FLAGS"].split()
    assert "--xla_cpu_enable_fast_math=false" in backend.os.environ["XLA_FLAGS"].split()


def test_the_users_level_a_gpu_or_another_backend_is_left_alone(monkeypatch):
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=3")
    backend.lighter_cpu_codegen()
    assert backend.os.environ["XLA_FLAGS"] == "--xla_backend_optimization_level=3"
    monkeypatch.delenv("XLA_FLAGS")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    backend.lighter_cpu_codegen()
    assert "XLA_FLAGS" not in backend.os.environ
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: object() if "cuda" in name else None)
    backend.lighter_cpu_codegen()
    assert "XLA_FLAGS" not in backend.os.environ


def test_this_process_compiles_with_it():
    """The test process imported deepwise before JAX made its CPU client: the flag is in effect here (unless this
    machine has a GPU plugin, or the flags set a level of their own)."""
    import importlib.util
    import os

    flags = os.environ.get("XLA_FLAGS", "").split()
    gpu = any(importlib.util.find_spec(name) is not None for name in backend.GPU_PLUGINS)
    own = any("xla_backend_optimization_level" in f and f != backend.XLA_CPU_OPTIMIZATION for f in flags)
    assert (backend.XLA_CPU_OPTIMIZATION in flags) is not (gpu or own)
