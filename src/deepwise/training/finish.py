"""After training: measure the network once on the test split, compare it with the baselines on the same rows, fit
the out-of-distribution guard, and write the run (its manifest says ``complete`` last).

Example:
    >>> metrics = finish_run(run_dir, data, kind, fitted, manifest, timer, console)
    >>> metrics.verdict.code
    'simpler_model_suffices'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.monitor import log_final
from deepwise.records import (
    FORMAT_VERSION,
    GUARD,
    HISTORY,
    MANIFEST,
    METRICS,
    MODEL,
    STATUS_COMPLETE,
    Manifest,
    Metrics,
    Timer,
    atomic_write_text,
    save_model,
    utc_now,
    write_record,
)
from deepwise.training.loop import Fitted
from deepwise.training.model import build_model


def measure(data, kind, fitted: Fitted, timer: Timer) -> tuple[Metrics, Any]:
    """Every number metrics.json holds: test and validation scores, baselines and verdict, importance, the guard's
    calibration. Returns the metrics and the fitted guard (None when the guard is off)."""
    cfg = data.config
    model = fitted.model
    with timer("evaluate"):
        validation_output = data.predict(model, "validation")
        test_output = data.predict(model, "test")
        validation = data.score("validation", validation_output)
        test = data.score("test", test_output)
        uncertainty = data.uncertainty(validation_output, test_output)
    with timer("baselines"):
        compared = data.compare_with_baselines(test_output, fitted.history, fitted.best_epoch)
    with timer("importance"):
        importance = data.importance(model)
    guard, guard_summary = None, None
    if cfg.guard.enabled:
        with timer("guard"):
            guard, test_flag_rate = data.fit_guard(model, validation_output, test_output)
            guard_summary = {**guard.calibration_, "test_flag_rate": test_flag_rate}
    metrics = Metrics(
        format_version=FORMAT_VERSION,
        kind=kind.name,
        **kind.metrics_task(data),
        **data.metrics_extra(),
        main_metric=data.task.main_metric,
        test=test,
        validation=validation,
        validation_held_out=not cfg.data.split.train_on_validation,
        best_epoch=fitted.best_epoch,
        epochs_trained=len(fitted.history),
        fine_tune_from=fitted.fine_tune_from,
        baselines=compared["baselines"],
        verdict=compared["verdict"],
        feature_importance=importance,
        guard=guard_summary,
        conformal=uncertainty,
    )
    return metrics, guard


def finish_run(path: Path, data, kind, fitted: Fitted, manifest: Manifest, timer: Timer, out) -> Metrics:
    """Measure, then write the guard, model, history and metrics; the manifest says ``complete`` last."""
    cfg = data.config
    if cfg.training.distribution == "data_parallel":  # predict cannot read arrays spread over processes: a copy
        from deepwise import distributed

        fitted.model = distributed.local_copy(fitted.model, lambda: build_model(data))
    if out:
        _print_training(out, fitted, cfg, getattr(data, "early_stopping_monitor", ("val_loss", "min"))[0])
    metrics, guard = measure(data, kind, fitted, timer)
    with timer("save"):
        if guard is not None:
            guard.save(path / GUARD)
        save_model(fitted.model, path / MODEL)
        atomic_write_text(path / HISTORY, pd.DataFrame(fitted.history).to_csv(index=False))
        write_record(path / METRICS, metrics)
    if cfg.training.mlflow:
        with timer("mlflow"):
            log_final(path, metrics.to_json())
    model = fitted.model
    manifest.status = STATUS_COMPLETE
    manifest.finished = utc_now()
    manifest.timings = timer.timings
    manifest.parameters = int(model.count_params())
    manifest.trainable_parameters = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    write_record(path / MANIFEST, manifest)
    return metrics


def _print_training(out, fitted: Fitted, cfg, monitor: str = "val_loss") -> None:
    stopped = len(fitted.history) < cfg.training.epochs
    out.print(
        f"  Trained {len(fitted.history)} epoch(s)"
        + (
            f" (early stopping: {'validation loss' if monitor == 'val_loss' else monitor} stopped improving)"
            if stopped
            else ""
        )
        + f"; best epoch {fitted.best_epoch}, whose weights are kept."
    )
    if cfg.data.split.train_on_validation:
        out.print(
            "  Final refit: the validation rows were trained on, so validation scores are not held out; "
            "the test rows were not touched."
        )
