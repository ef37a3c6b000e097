"""Data-parallel training on CPU: two real local processes (jax.distributed, gloo collectives) train the penguins MLP,
each on its shard, and match a single-process run of the same model and epochs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepwise import distributed
from deepwise.errors import ConfigError

pytestmark = pytest.mark.slow  # real subprocesses, PostgreSQL and several trainings: CI runs them

WORKER = Path(__file__).parent / "helpers" / "dp_worker.py"
EPOCHS = 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(out: Path, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPWISE_")}
    env.update(env_extra, KERAS_BACKEND="jax", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(out), str(EPOCHS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )


def test_shard_gives_every_process_the_same_number_of_rows():
    x = np.arange(11)
    shards = [distributed.shard(x, process_id=i, n_processes=3) for i in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]
    assert sorted(np.concatenate(shards)) == [0, 1, 2, 3, 4, 5, 6, 7, 8]  # disjoint; 11 % 3 rows left out
    xs, ys = distributed.shard({"a": x, "b": x * 2}, x, process_id=1, n_processes=2)
    assert list(xs["a"]) == [1, 3, 5, 7, 9] and list(xs["b"]) == [2, 6, 10, 14, 18] and list(ys) == [1, 3, 5, 7, 9]
    assert distributed.per_process_batch(32, 2) == 16


def test_single_process_needs_no_coordinator(monkeypatch):
    for name in (distributed.ENV_COORDINATOR, distributed.ENV_NUM_PROCESSES, distributed.ENV_PROCESS_ID):
        monkeypatch.delenv(name, raising=False)
    info = distributed.initialize()
    assert info.num_processes == 1 and info.is_main and distributed.is_main_process()


def test_missing_process_id_is_a_config_error(monkeypatch):
    monkeypatch.setitem(distributed._state, "initialized", False)
    monkeypatch.setenv(distributed.ENV_NUM_PROCESSES, "2")
    monkeypatch.setenv(distributed.ENV_COORDINATOR, "127.0.0.1:1")
    monkeypatch.delenv(distributed.ENV_PROCESS_ID, raising=False)
    with pytest.raises(ConfigError, match="DEEPWISE_PROCESS_ID"):
        distributed.initialize()


def test_two_processes_train_data_parallel_like_one(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    single.mkdir()
    multi.mkdir()
    port = _free_port()
    coordinator = {"DEEPWISE_COORDINATOR": f"127.0.0.1:{port}", "DEEPWISE_NUM_PROCESSES": "2"}
    procs = [_start(multi, {**coordinator, "DEEPWISE_PROCESS_ID": str(i)}) for i in range(2)]
    baseline = _start(single, {})
    outputs = []
    try:
        for proc in [*procs, baseline]:
            outputs.append(proc.communicate(timeout=240)[0].decode(errors="replace"))
    finally:
        for proc in [*procs, baseline]:
            if proc.poll() is None:
                proc.kill()
    for proc, output in zip([*procs, baseline], outputs, strict=True):
        assert proc.returncode == 0, output[-3000:]

    one = json.loads((single / "result.json").read_text())
    two = json.loads((multi / "result.json").read_text())
    assert one["processes"] == 1 and two["processes"] == 2
    assert two["local_rows"] == two["train_rows"] // 2  # each process trained on its half
    # the replicas stay identical: same weights in both processes after training
    assert (multi / "weights-0.sha256").read_text() == (multi / "weights-1.sha256").read_text()
    # only process 0 writes results
    assert sorted(p.name for p in multi.iterdir()) == ["result.json", "weights-0.sha256", "weights-1.sha256"]
    # same quality as one process within noise (69 test rows: one error is 0.014)
    assert two["accuracy"] >= 0.95 and one["accuracy"] >= 0.95, (one, two)
    assert abs(two["accuracy"] - one["accuracy"]) <= 0.03, (one, two)


def test_deepwise_train_data_parallel_over_two_processes(tmp_path, penguins_csv):
    """`training.distribution: data_parallel`: the same `deepwise train` command in two processes; process 0
    writes the run."""
    config = tmp_path / "dp.yaml"
    config.write_text(
        f"problem: {{target: species}}\ndata: {{path: {penguins_csv}}}\nmodel: {{type: mlp}}\n"
        "training: {epochs: 60, distribution: data_parallel, report: false}\n"  # no test here reads a report
    )
    run_dir = tmp_path / "run"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPWISE_")}
    env.update(KERAS_BACKEND="jax", DEEPWISE_COORDINATOR=f"127.0.0.1:{port}", DEEPWISE_NUM_PROCESSES="2")
    command = [sys.executable, "-m", "deepwise.cli", "train", str(config), "--run-dir", str(run_dir), "-q"]
    procs = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**env, "DEEPWISE_PROCESS_ID": str(i)}
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=240)[0].decode(errors="replace") for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, output in zip(procs, outputs, strict=True):
        assert p.returncode == 0, output[-3000:]
    import deepwise

    run = deepwise.load_run(run_dir)
    assert run.metrics["test"]["accuracy"] >= 0.95
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dp.yaml", "run"]  # process 1 wrote no run here
