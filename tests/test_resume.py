"""Interrupt a real `deepwise train` process (SIGINT = Ctrl-C, SIGKILL = a killed laptop) and resume it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import deepwise
from deepwise.training.checkpoint import load_checkpoint

#: Long enough that the signal (sent once epoch 10 is checkpointed) lands mid-training: 110 epochs left, over 3 s
#: even on an idle fast machine, where the test reacts within 50 ms; the resumed part is what the test pays for.
EPOCHS = 120


def _start(tmp_path: Path, csv: Path, run_dir: Path) -> subprocess.Popen:
    config = tmp_path / "deepwise.yaml"
    config.write_text(
        f"problem: {{target: target}}\ndata: {{path: {csv}}}\n"
        # a wide network at batch 8: 300 epochs take over 10 s (30+ ms an epoch), so the signal (sent at epoch 10)
        # lands mid-training however fast the machine (Keras now runs 16 steps per call: 300 small epochs took 3 s)
        "model: {hidden_units: [512, 512]}\n"
        f"training: {{epochs: {EPOCHS}, batch_size: 8, checkpoint_every_s: 0, early_stopping: {{enabled: false}}}}\n"
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "deepwise.cli", "train", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        # a test suite started in the background (`cmd &` in a script) inherits SIGINT *ignored*, and so would the
        # child: give it the default, as a terminal's Ctrl-C finds it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_epochs(proc: subprocess.Popen, run_dir: Path, epochs: int, timeout: float = 120) -> int:
    deadline = time.time() + timeout
    state = run_dir / "checkpoints" / "state.npz"
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        if state.exists():
            try:
                done = load_checkpoint(run_dir)[0]["epochs_done"]
            except Exception:  # being replaced right now; try again
                done = 0
            if done >= epochs:
                return done
        time.sleep(0.05)
    raise AssertionError("training did not reach the expected epoch in time")


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_run_resumes_without_losing_epochs(tmp_path, breast_cancer_csv, cli, sig):
    run_dir = tmp_path / "run"
    proc = _start(tmp_path, breast_cancer_csv, run_dir)
    done_before = _wait_for_epochs(proc, run_dir, 10)
    proc.send_signal(sig)
    output = proc.communicate(timeout=60)[0].decode()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    if sig == signal.SIGINT:
        assert proc.returncode == 130, output
        assert manifest["status"] == "interrupted"
        assert "--resume" in output
    else:
        assert proc.returncode == -signal.SIGKILL
        assert manifest["status"] == "running"  # clearly not complete
    assert not (run_dir / "metrics.json").exists()
    with pytest.raises(deepwise.DeepwiseError, match="not complete"):
        deepwise.load_run(run_dir)

    saved_epochs = load_checkpoint(run_dir)[0]["epochs_done"]
    assert saved_epochs >= done_before  # at most the current epoch is lost

    res = cli("train", "--resume", run_dir)
    assert res.exit_code == 0, res.output
    assert f"after epoch {saved_epochs}" in res.output
    run = deepwise.load_run(run_dir)
    history = run.history
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))  # no epoch lost or repeated
    assert run.metrics["test"]["accuracy"] >= 0.93
    assert np.isfinite(history["val_loss"]).all()


def test_resume_of_a_complete_run_is_refused(cli, penguins_run):
    res = cli("train", "--resume", penguins_run.path)
    assert res.exit_code == 2 and "already complete" in res.output
