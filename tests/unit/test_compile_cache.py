"""backend.py keeps JAX's compiled programs on disk between runs, per kind of CPU, unless told not to."""

from __future__ import annotations

import os
import subprocess
import sys

from deepwise import backend


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPWISE_CACHE_DIR", str(tmp_path))
    folder = backend.compile_cache_dir()
    assert folder is not None and folder.parent == tmp_path / "deepwise" and folder.is_dir()
    assert folder.name == f"jax-{backend.machine_tag()}" and backend.machine_tag() == backend.machine_tag()
    monkeypatch.setenv("DEEPWISE_COMPILE_CACHE", "0")
    assert backend.compile_cache_dir() is None


def test_a_second_run_loads_the_programs_the_first_compiled(tmp_path, penguins_csv):
    """Two processes train the same network: the first writes compiled programs to the cache, the second finds
    them (JAX counts its cache hits)."""
    script = (
        "import deepwise, jax\n"
        "hits = []\n"
        "jax.monitoring.register_event_listener(\n"
        "    lambda name, **kw: hits.append(name) if name.endswith('/cache_hits') else None)\n"
        f"deepwise.train({str(penguins_csv)!r}, target='species', runs_dir={str(tmp_path / 'runs')!r}, verbose=False,"
        " overrides={'training.epochs': 3, 'training.report': False})\n"
        "print('hits', len(hits))\n"
    )
    env = {**os.environ, "DEEPWISE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
            for _ in range(2)]  # fmt: skip
    for done in runs:
        assert done.returncode == 0, done.stderr[-2000:]
    first, second = (int(done.stdout.split("hits")[-1]) for done in runs)
    # the first run may hit programs it wrote itself (the same small program compiled for two callers)
    assert second > max(first, 5), (first, second)
    assert any((tmp_path / "cache" / "deepwise").glob("jax-*/*"))
