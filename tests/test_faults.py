"""Faults, tested as they happen: a real `deepwise train` process killed (SIGKILL) at chosen points -- while writing
the checkpoint, the model, the metrics, the final manifest --, a full disk or a read-only folder while saving, two
trainings writing into one runs/ folder at once, and `serve` under concurrent load with malformed requests.

The kill points are failpoints (``DEEPWISE_FAILPOINT=<file>:<n>``, see deepwise.records.failpoint): the process kills
itself with SIGKILL after the new file's bytes are on disk and before they replace the old file, the worst moment.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import deepwise
from deepwise.errors import RunError
from deepwise.training.checkpoint import load_checkpoint

EPOCHS = 6


def _config(tmp_path: Path, csv: Path) -> Path:
    config = tmp_path / "deepwise.yaml"
    config.write_text(
        f"problem: {{target: species}}\ndata: {{path: '{csv}'}}\n"
        f"training: {{epochs: {EPOCHS}, checkpoint_every_s: 0, early_stopping: {{enabled: false}}, report: false}}\n"
    )
    return config


def _deepwise(*args: str | Path, failpoint: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("DEEPWISE_FAILPOINT", None)
    if failpoint:
        env["DEEPWISE_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "deepwise.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory, penguins_csv):
    """A complete run in the same runs/ folder as the crashing ones: it must come out byte for byte untouched."""
    runs = tmp_path_factory.mktemp("runs")
    run = deepwise.train(_config(runs, penguins_csv), runs_dir=runs, verbose=False)
    return runs, run.path, _snapshot(run.path)


@pytest.mark.parametrize(
    ("failpoint", "epochs_kept"),
    [
        # during training: the 3rd epoch's checkpoint is being written
        pytest.param("state.npz:3", 2, marks=pytest.mark.slow),
        # training finished, the model is being written
        pytest.param("model.keras:1", EPOCHS, marks=pytest.mark.slow),
        # the model is written, the metrics are being written
        pytest.param("metrics.json:1", EPOCHS, marks=pytest.mark.slow),
        # everything but the final 'complete' manifest is written
        pytest.param("manifest.json:2", EPOCHS, marks=pytest.mark.slow),
    ],
)
def test_killed_at_any_point_the_run_resumes_and_earlier_runs_are_untouched(earlier_run, cli, failpoint, epochs_kept):
    runs, earlier_path, earlier_files = earlier_run
    run_dir = runs / f"killed-{failpoint.replace(':', '-')}"
    killed = _deepwise("train", runs / "deepwise.yaml", "--run-dir", run_dir, failpoint=failpoint)
    assert killed.returncode == -9, killed.stdout + killed.stderr  # it really died by SIGKILL
    # the killed run is clearly incomplete: loading it is refused, nothing half-written is mistaken for a result
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"
    with pytest.raises(RunError, match="not complete"):
        deepwise.load_run(run_dir)
    meta = load_checkpoint(run_dir)[0]
    assert meta["epochs_done"] == epochs_kept  # at most the epoch in progress is lost
    # --resume finishes it: the remaining epochs (or none) and the run's files (in this process: only the killed
    # training has to be a process of its own)
    resumed = cli("train", "--resume", run_dir)
    assert resumed.exit_code == 0, resumed.output
    run = deepwise.load_run(run_dir)
    assert not [p.name for p in run_dir.rglob(".*") if p.is_file()]  # the killed write's temp file is cleaned up
    assert run.metrics["epochs_trained"] == EPOCHS
    assert [row["epoch"] for row in run.history.to_dict("records")] == list(range(1, EPOCHS + 1))
    uninterrupted = deepwise.load_run(earlier_path).metrics["test"]["accuracy"]  # same config, never killed
    assert abs(run.metrics["test"]["accuracy"] - uninterrupted) <= 0.05
    if epochs_kept == EPOCHS:
        assert "without training" in resumed.output or "Training had finished" in resumed.output
    assert _snapshot(earlier_path) == earlier_files


@pytest.mark.parametrize(
    ("file", "err", "message"),
    [
        ("model.keras", errno.ENOSPC, "No space left on device"),
        ("metrics.json", errno.EACCES, "Permission denied"),
    ],
    ids=["full-disk", "read-only"],
)
def test_a_failed_write_is_a_clear_error_and_resume_finishes_the_run(
    tmp_path, penguins_csv, cli, monkeypatch, earlier_run, file, err, message
):
    import deepwise.records.files as runs_module

    runs, earlier_path, earlier_files = earlier_run
    real_write, real_save = runs_module.atomic_write_bytes, runs_module.save_model

    def failing_write(path, data):
        if Path(path).name == file:
            raise OSError(err, os.strerror(err), str(path))
        return real_write(path, data)

    def failing_save(model, path):
        if Path(path).name == file:
            raise OSError(err, os.strerror(err), str(path))
        return real_save(model, path)

    monkeypatch.setattr(runs_module, "atomic_write_bytes", failing_write)
    monkeypatch.setattr(sys.modules["deepwise.training.finish"], "save_model", failing_save)  # where it is called
    run_dir = runs / f"failed-write-{file}"
    result = cli("train", runs / "deepwise.yaml", "--run-dir", run_dir)
    assert result.exit_code == 2, result.output
    assert message in result.output and file in result.output and "--resume" in result.output
    assert "Traceback" not in result.output
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
    monkeypatch.undo()
    again = cli("train", "--resume", run_dir)
    assert again.exit_code == 0, again.output
    assert deepwise.load_run(run_dir).metrics["epochs_trained"] == EPOCHS
    assert _snapshot(earlier_path) == earlier_files


def test_a_runs_folder_that_cannot_be_created_is_a_clear_error(tmp_path, penguins_csv, cli):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs folder should be")
    result = cli("train", penguins_csv, "--target", "species", "--runs-dir", blocker)
    assert result.exit_code == 2 and "Cannot create the folder" in result.output, result.output
    assert blocker.read_text() == "a file where the runs folder should be"


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_two_trainings_into_one_runs_folder_both_complete(tmp_path, penguins_csv):
    config = _config(tmp_path, penguins_csv)
    runs = tmp_path / "runs"
    env = dict(os.environ)
    env.pop("DEEPWISE_FAILPOINT", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "deepwise.cli", "train", str(config), "--runs-dir", str(runs)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    made = sorted(p for p in runs.iterdir() if p.is_dir())
    assert len(made) == 2  # same name, same second: the second gets its own folder, neither clobbers the other
    for path in made:
        run = deepwise.load_run(path)
        assert run.metrics["epochs_trained"] == EPOCHS
        assert json.loads((path / "manifest.json").read_text())["status"] == "complete"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_serve_keeps_answering_under_concurrent_load_and_malformed_requests(penguins_run, penguins_csv):
    import httpx
    import pandas as pd
    import uvicorn  # noqa: F401  (the server the test starts)

    port = _free_port()
    env = dict(os.environ)
    env.pop("DEEPWISE_FAILPOINT", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "deepwise.cli", "serve", str(penguins_run.path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, "serve did not come up"
            time.sleep(0.2)
        row = pd.read_csv(penguins_csv).drop(columns=["species"]).iloc[0]
        good = {"records": [json.loads(row.to_json())]}
        bad_requests = [
            ("json", {"records": [{"bill_length_mm": "not a number"}]}),
            ("json", {"rows": []}),
            ("content", b"{not json"),
            ("content", b"\x00\xff" * 1000),
            ("json", {"records": [json.loads(row.to_json())] * 100_000}),  # over the batch bound
        ]

        def send(i: int) -> tuple[str, int]:
            with httpx.Client(timeout=60) as client:
                if i % 2 == 0:
                    return "good", client.post(f"{base}/predict", json=good).status_code
                kind, body = bad_requests[i % len(bad_requests)]
                headers = {"content-type": "application/json"}
                response = (
                    client.post(f"{base}/predict", json=body)
                    if kind == "json"
                    else client.post(f"{base}/predict", content=body, headers=headers)
                )
                return "bad", response.status_code

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(send, range(160)))
        good_codes = {code for kind, code in results if kind == "good"}
        bad_codes = {code for kind, code in results if kind == "bad"}
        assert good_codes == {200}, results
        assert bad_codes and all(400 <= code < 500 for code in bad_codes), bad_codes
        assert server.poll() is None  # still up
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_a_run_being_trained_cannot_be_resumed_by_a_second_process(tmp_path, penguins_csv, cli):
    config = tmp_path / "long.yaml"
    config.write_text(
        f"problem: {{target: species}}\ndata: {{path: '{penguins_csv}'}}\n"
        "training: {epochs: 5000, checkpoint_every_s: 0, early_stopping: {enabled: false}, report: false}\n"
    )
    run_dir = tmp_path / "run"
    env = dict(os.environ)
    env.pop("DEEPWISE_FAILPOINT", None)
    first = subprocess.Popen(
        [sys.executable, "-m", "deepwise.cli", "train", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.time() + 120
        while not (run_dir / "checkpoints" / "state.npz").exists():
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.1)
        second = cli("train", "--resume", run_dir)
        assert second.exit_code == 2 and "being trained by another process" in second.output, second.output
        assert first.poll() is None  # the first one carries on, undisturbed
    finally:
        first.kill()
        first.wait(timeout=30)
    # once the first process is dead (kill -9), the lock is gone with it: the run can be taken (and resumed)
    from deepwise.records import hold_run_lock, release_run_lock

    release_run_lock(hold_run_lock(run_dir))
    assert load_checkpoint(run_dir)[0]["epochs_done"] >= 1


@pytest.fixture(scope="module")
def digits_base(tmp_path_factory) -> tuple[Path, Path]:
    """scikit-learn's digits as arrays and a CNN trained on them for 5 epochs: the base the fine-tuning kills transfer
    from (one for the three tests; the base run is only read)."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = tmp_path_factory.mktemp("digits")
    np.save(folder / "images.npy", (digits.images * 255 / 16).astype(np.uint8))
    np.save(folder / "labels.npy", digits.target)
    base = deepwise.train(
        {"problem": {"target": "label"}, "data": {"path": str(folder)}, "training": {"epochs": 5, "report": False}},
        runs_dir=tmp_path_factory.mktemp("runs"),
        verbose=False,
    )
    return folder, base.path


@pytest.mark.slow
def test_killed_while_fine_tuning_resumes_the_fine_tuning(tmp_path, digits_base, cli):
    """Transfer learning has two phases; a kill in the second must resume the second (same layers unfrozen, the
    fine-tuning optimizer's state), not start the head phase's settings over -- that used to be an internal error."""
    folder, base_path = digits_base
    config = tmp_path / "transfer.yaml"
    config.write_text(
        f"problem: {{target: label}}\ndata: {{path: '{folder}'}}\n"
        f"model: {{from_run: '{base_path}', fine_tune_layers: 2, fine_tune_epochs: 3, fine_tune_learning_rate: 1e-4}}\n"
        "training: {epochs: 3, checkpoint_every_s: 0, early_stopping: {enabled: false}, report: false}\n"
    )
    killed_dir, whole_dir = tmp_path / "killed", tmp_path / "whole"
    killed = _deepwise("train", config, "--run-dir", killed_dir, failpoint="state.npz:5")  # 2nd fine-tuning epoch
    assert killed.returncode == -9, killed.stdout + killed.stderr
    meta = load_checkpoint(killed_dir)[0]
    assert meta["epochs_done"] == 4 and meta["fine_tune_from"] == 3
    # the resume and the uninterrupted reference run in this process: only the killed training needs its own
    resumed = cli("train", "--resume", killed_dir)
    assert resumed.exit_code == 0, resumed.output
    assert "Continuing the fine-tuning phase" in resumed.output
    reference = deepwise.train(config, run_dir=whole_dir, verbose=False)
    run = deepwise.load_run(killed_dir)
    assert run.metrics["epochs_trained"] == reference.metrics["epochs_trained"] == 6
    assert run.manifest["trainable_parameters"] == reference.manifest["trainable_parameters"]  # layers unfrozen
    assert abs(run.metrics["test"]["accuracy"] - reference.metrics["test"]["accuracy"]) <= 0.05


@pytest.mark.slow
@pytest.mark.parametrize(
    ("failpoint", "when"),
    [("state.npz:4", "in the first fine-tuning epoch"), ("model.keras:1", "after training, writing the run")],
)
def test_killed_around_fine_tuning_with_early_stopping_resumes(tmp_path, digits_base, cli, failpoint, when):
    """With early stopping on (the default): a resume that has no epoch left to fit in the current phase used to
    read early stopping's state before Keras had set it (AttributeError 'best_epoch'), both when the head phase was
    complete and fine-tuning had not checkpointed yet, and when only writing the run was left."""
    folder, base_path = digits_base
    config = tmp_path / "transfer.yaml"
    config.write_text(
        f"problem: {{target: label}}\ndata: {{path: '{folder}'}}\n"
        f"model: {{from_run: '{base_path}', fine_tune_layers: 2, fine_tune_epochs: 3, fine_tune_learning_rate: 1e-4}}\n"
        "training: {epochs: 3, checkpoint_every_s: 0, report: false}\n"
    )
    run_dir = tmp_path / "killed"
    killed = _deepwise("train", config, "--run-dir", run_dir, failpoint=failpoint)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    resumed = cli("train", "--resume", run_dir)
    assert resumed.exit_code == 0, f"killed {when}: " + resumed.output
    metrics = deepwise.load_run(run_dir).metrics
    assert metrics["epochs_trained"] == 6 and metrics["fine_tune_from"] == 3
    assert 1 <= metrics["best_epoch"] <= 6
