"""``deepwise doctor``: versions, backend, devices, memory, and whether the install is healthy.

Example:
    >>> report = doctor()
    >>> report["healthy"]
    True
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any

from deepwise.backend import backend_name, keras_module
from deepwise.records import RunFiles
from deepwise.records.schema import environment

REQUIRED = ("keras", "numpy", "pandas", "pyarrow", "sklearn", "typer", "rich", "pydantic", "yaml", "h5py")


def doctor() -> dict[str, Any]:
    """Check the installation; returns a report with ``healthy`` and a list of ``problems``."""
    problems: list[str] = []
    versions: dict[str, str] = {}
    for name in REQUIRED:
        try:
            module = importlib.import_module(name)
            versions[name] = getattr(module, "__version__", None) or _dist_version(name)
        except Exception as err:  # an install problem is what doctor reports, whatever it is
            problems.append(f"cannot import {name}: {err}")
    devices: list[str] = []
    backend = backend_name()
    try:
        keras = keras_module()
        if keras.backend.backend() != backend:
            problems.append(f"Keras runs on {keras.backend.backend()} but KERAS_BACKEND says {backend}")
        if backend == "jax":
            import jax

            versions["jax"] = jax.__version__
            devices = [str(d) for d in jax.devices()]
        start = time.perf_counter()
        import numpy as np

        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.ones((8, 4), "float32"), np.ones((8, 3), "float32"), epochs=1, verbose=0)
        smoke_s = time.perf_counter() - start
    except Exception as err:  # report, do not crash: this is the diagnostic command
        problems.append(f"Keras smoke test failed: {err}")
        smoke_s = None
    gpu_problem = gpu_check(backend, devices)
    if gpu_problem:
        problems.append(gpu_problem)
    memory_gb = None
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "healthy": not problems,
        "problems": problems,
        "backend": backend,
        "devices": devices,
        "cpu_count": os.cpu_count(),
        "memory_gb": memory_gb,
        "versions": versions,
        "smoke_test_s": None if smoke_s is None else round(smoke_s, 2),
    }


def nvidia_gpus() -> list[str]:
    """The NVIDIA GPUs the driver lists (``nvidia-smi -L``); empty without a driver."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listed.stdout.splitlines() if line.startswith("GPU ")]


def gpu_check(backend: str, devices: list[str], gpus: list[str] | None = None) -> str | None:
    """A problem when the machine has an NVIDIA GPU that JAX does not use (the CUDA build is not installed)."""
    gpus = nvidia_gpus() if gpus is None else gpus
    if not gpus or backend != "jax" or any("cuda" in d.lower() or "gpu" in d.lower() for d in devices):
        return None
    return (
        f"this machine has {len(gpus)} NVIDIA GPU(s) ({gpus[0]}) but JAX runs on the CPU only: install JAX's CUDA "
        'build with `pip install -U "jax[cuda12]"` in deepwise\'s environment (see the README, "Using a GPU")'
    )


def _dist_version(module_name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version({"sklearn": "scikit-learn", "yaml": "pyyaml"}.get(module_name, module_name))
    except PackageNotFoundError:
        return "?"


def compare(run_path: str | Path) -> dict[str, Any]:
    """What differs between this environment and the one a run was trained in (its manifest.json).

    Returns ``{"run", "same", "changed": {name: [then, now]}, "missing": {name: then}, "added": {name: now},
    "python": [then, now], "backend": [then, now]}``; packages are compared where the run recorded them (every
    installed distribution since manifests record them; the main ones before).

    Example:
        >>> compare("runs/penguins-20260101-120000")["changed"]
        {'numpy': ['2.4.6', '2.5.0']}
    """
    manifest = RunFiles(run_path, require_complete=False).manifest
    now = environment()
    then_packages = manifest.packages or {_distribution(k): v for k, v in manifest.versions.items()}
    now_packages = now["packages"]
    compared = {k: v for k, v in then_packages.items() if k not in ("python", "backend")}
    changed = {k: [v, now_packages[k]] for k, v in compared.items() if k in now_packages and now_packages[k] != v}
    missing = {k: v for k, v in compared.items() if k not in now_packages}
    added = {k: v for k, v in now_packages.items() if manifest.packages is not None and k not in compared}
    python = [manifest.versions.get("python"), now["versions"]["python"]]
    backend = [manifest.versions.get("backend"), now["versions"]["backend"]]
    same = not (changed or missing or added) and python[0] == python[1] and backend[0] == backend[1]
    return {"run": str(run_path), "same": same, "changed": changed, "missing": missing, "added": added,
            "python": python, "backend": backend}  # fmt: skip


def _distribution(module_name: str) -> str:
    return {"sklearn": "scikit-learn", "yaml": "pyyaml"}.get(module_name, module_name).lower()
