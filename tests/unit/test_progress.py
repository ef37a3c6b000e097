"""Training progress: a live rich bar in a terminal and in Jupyter with ipywidgets; in Jupyter without ipywidgets
(rich would only warn and show nothing) a line every few epochs instead."""

from __future__ import annotations

import importlib.util

from rich.console import Console

from deepwise.training import callbacks
from deepwise.training.callbacks import callback_classes, live_progress_possible


def _recorder(console: Console, epochs: int):
    _, recorder_class = callback_classes()
    return recorder_class(run_dir=None, epochs=epochs, every_s=1e9, history=[], console=console, stopper=None)


def test_jupyter_without_ipywidgets_prints_plain_lines(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        callbacks.importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name, *a)
    )
    console = Console(force_jupyter=True, record=True, width=120)
    assert not live_progress_possible(console)
    recorder = _recorder(console, epochs=30)
    recorder.on_train_begin()
    for epoch in range(30):
        recorder.on_epoch_begin(epoch)
        recorder.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0 / (epoch + 1)})
    recorder.on_train_end()
    text = console.export_text()
    assert "pip install 'deepwise[notebook]'" in text
    lines = [line for line in text.splitlines() if line.strip().startswith("epoch ")]
    assert [line.split()[1] for line in lines] == [f"{k}/30" for k in range(3, 31, 3)]  # 10 lines, the last at 30
    assert "loss 0.03333 val_loss 0.06667" in lines[-1]


def test_a_terminal_and_jupyter_with_ipywidgets_get_the_live_bar(monkeypatch):
    assert live_progress_possible(Console(force_terminal=True))
    monkeypatch.setattr(callbacks.importlib.util, "find_spec", lambda name, *a: object())
    assert live_progress_possible(Console(force_jupyter=True))
