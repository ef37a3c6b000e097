"""Choose the Keras backend before Keras is imported anywhere.

deepwise runs on JAX unless the user's ``KERAS_BACKEND`` says otherwise (JAX trains small models ~3x faster than
TensorFlow on CPU, see FACTS.md). Every module that needs Keras imports it through :func:`keras_module`. Under JAX,
compiled programs are kept on disk between runs (:func:`use_compile_cache`; ``DEEPWISE_COMPILE_CACHE=0`` turns it
off).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DEFAULT_BACKEND = "jax"

os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMPILE_CACHE_MB = 512
COMPILE_CACHE_MIN_SECONDS = "0.05"  # JAX's default (1 s) would keep none of a small network's programs


def machine_tag() -> str:
    """A short hash of this CPU (architecture, model and instruction-set flags): compiled programs use the CPU's
    instructions, so a home folder shared by different machines (a cluster) keeps one cache per kind of CPU."""
    import hashlib
    import platform

    text = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            text += "".join(sorted({line for line in info if line.startswith(("model name", "flags"))}))
    except OSError:
        pass
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def compile_cache_dir() -> Path | None:
    """Where JAX keeps compiled programs between processes (None: off). ``DEEPWISE_COMPILE_CACHE=0`` turns it off,
    ``DEEPWISE_CACHE_DIR`` moves it (default ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``deepwise/jax-<CPU>``); a
    ``JAX_COMPILATION_CACHE_DIR`` of the user's own wins."""
    if os.environ.get("DEEPWISE_COMPILE_CACHE", "1").strip().lower() in ("0", "false", "no", "off", ""):
        return None
    try:
        root = Path(os.environ.get("DEEPWISE_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        folder = root / "deepwise" / f"jax-{machine_tag()}"
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # no home folder, or not writable: run without the cache
        return None
    return folder if os.access(folder, os.W_OK) else None


def use_compile_cache() -> None:
    """Keep JAX's compiled programs on disk, so that the next run of the same network shapes loads them instead of
    compiling again (penguins: 1.5 s of XLA compilation in a 10 s run). Must run before JAX is imported."""
    if os.environ.get("KERAS_BACKEND") != "jax" or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    folder = compile_cache_dir()
    if folder is None:
        return
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", COMPILE_CACHE_MIN_SECONDS)
    if importlib.util.find_spec("filelock") is not None:  # JAX needs it to evict the least recently used programs
        os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(COMPILE_CACHE_MB * 2**20))


XLA_CPU_OPTIMIZATION = "--xla_backend_optimization_level=1"
GPU_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin", "jax_rocm7_plugin")


def lighter_cpu_codegen() -> None:
    """Compile with LLVM's ``-O1`` instead of XLA's default on the CPU: 20-30 % less time compiling each program,
    and no slower training (matrix products and convolutions run in libraries, not in generated code). Measured on
    2 cores: diabetes MLP 1.45-1.56 s of compilation -> 1.19-1.22 s, same weights to the last bit; 2 epochs of a
    256-unit MLP on 200,000 rows 2.45-2.65 s -> 2.41-2.72 s, of an MNIST CNN 7.42-8.13 s -> 6.96-7.22 s, of a GRU
    4.77-5.39 s -> 4.77-4.89 s (bench/README.md, issue 24). ``-O0`` compiled faster still but trained the large MLP
    3x slower. Left alone when ``XLA_FLAGS`` already sets the level, off JAX, and where a GPU plugin is installed
    (untested there). Must run before JAX creates its CPU client."""
    flags = os.environ.get("XLA_FLAGS", "")
    if os.environ.get("KERAS_BACKEND") != "jax" or "xla_backend_optimization_level" in flags:
        return
    if any(importlib.util.find_spec(name) is not None for name in GPU_PLUGINS):
        return
    os.environ["XLA_FLAGS"] = f"{flags} {XLA_CPU_OPTIMIZATION}".strip()


use_compile_cache()
lighter_cpu_codegen()


def keras_module():
    """Return the ``keras`` module, imported with the chosen backend."""
    first = "keras" not in sys.modules
    import keras

    if first:  # inside a train call, its objects (and JAX's) join the ones the collector skips
        from deepwise.collector import set_aside_imported

        set_aside_imported()
    return keras


def backend_name() -> str:
    return os.environ["KERAS_BACKEND"]
