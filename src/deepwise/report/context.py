"""What the report reads from a run directory: its files, parsed once, and (on demand) the test-split predictions.

Example:
    >>> ctx = ReportContext.load("runs/penguins-20260101-120000")
    >>> ctx.task, ctx.metrics["test"]["accuracy"]
    ('multiclass', 0.98...)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from deepwise.errors import DeepwiseError
from deepwise.runs import CONFIG, FINDINGS, HISTORY, METRICS, PREPROCESSING, check_run_dir, read_json


@dataclass
class TestPredictions:
    """The model's raw output on the run's held-out test split, rebuilt from the data (nothing is re-trained)."""

    y_true: np.ndarray
    output: np.ndarray
    classes: list | None


@dataclass
class ReportContext:
    """A complete run, read for reporting: every file parsed leniently, nothing about the model recomputed."""

    path: Path
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    config_text: str
    config: dict[str, Any]
    history: pd.DataFrame
    findings: list[dict[str, Any]]
    preprocessing: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, run_path: str | Path) -> ReportContext:
        """Read a complete run (a clear :class:`~deepwise.errors.RunError` if it is not one)."""
        path = Path(run_path)
        manifest = check_run_dir(path)
        config_text = (path / CONFIG).read_text(encoding="utf-8")
        try:
            config = yaml.safe_load(config_text) or {}
        except yaml.YAMLError:
            config = {}
        findings_path = path / FINDINGS
        findings = read_json(findings_path) if findings_path.is_file() else []
        prep_path = path / PREPROCESSING
        try:
            preprocessing = read_json(prep_path) if prep_path.is_file() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            preprocessing = None
        try:
            history = pd.read_csv(path / HISTORY)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            history = pd.DataFrame()
        return cls(
            path=path,
            manifest=manifest,
            metrics=read_json(path / METRICS),
            config_text=config_text,
            config=config if isinstance(config, dict) else {},
            history=history,
            findings=findings if isinstance(findings, list) else [],
            preprocessing=preprocessing,
        )

    # ------------------------------------------------------------------------------------------------ shortcuts
    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def task(self) -> str:
        return str(self.metrics.get("task") or self.manifest.get("task") or "unknown")

    @property
    def output(self) -> str:
        """What the model outputs: binary, multiclass or regression (a forecasting run says it in "output")."""
        return str(self.metrics.get("output") or self.task)

    @property
    def target(self) -> str:
        return str((self.config.get("problem") or {}).get("target", "?"))

    @property
    def main_metric(self) -> str | None:
        return self.metrics.get("main_metric")

    @property
    def versions(self) -> dict[str, Any]:
        return self.manifest.get("versions") or {}

    @property
    def data(self) -> dict[str, Any]:
        return self.manifest.get("data") or {}

    @property
    def classes(self) -> list | None:
        prep = self.preprocessing or {}
        for state in (prep, prep.get("tabular") if isinstance(prep.get("tabular"), dict) else {}):
            if state.get("classes") is not None:  # tables and images; series keep theirs in "tabular"
                return list(state["classes"])
        matrix = (self.metrics.get("test") or {}).get("confusion_matrix")
        return list(matrix["labels"]) if matrix else None

    @property
    def duration_s(self) -> float | None:
        return run_duration_s(self.manifest)

    @property
    def modality(self) -> str:
        """table | forecasting | images (what the rows of the run are)."""
        if self.task == "forecasting":
            return "forecasting"
        if self.task == "image_classification" or (self.preprocessing or {}).get("format", "").startswith(
            "deepwise.images"
        ):
            return "images"
        return "table"

    # ---------------------------------------------------------------------------------------------- predictions
    @cached_property
    def prepared(self) -> tuple[Any, Any] | str:
        """``(run, data)``: the saved run and its rebuilt split (:class:`deepwise.train.PreparedData`), or a
        sentence saying why the data cannot be rebuilt. Built once and shared by every per-row section."""
        from deepwise.predict import load_run

        try:
            run = load_run(self.path)
            data = run._prepared()  # the same split and preprocessing as training (rebuilt from the data file)
        except DeepwiseError as err:
            return f"Per-row plots are not available: {err.problem}"
        return run, data

    @cached_property
    def test_predictions(self) -> TestPredictions | str:
        """The test split's labels and model output, or a sentence saying why they cannot be rebuilt.

        The report only plots them; the test metrics themselves come from metrics.json.
        """
        prepared = self.prepared
        if isinstance(prepared, str):
            return prepared
        run, data = prepared
        try:
            output = data.predict(run.model, "test")  # arrays, or image batches streamed from disk
        except DeepwiseError as err:
            return f"Per-row plots are not available: {err.problem}"
        return TestPredictions(y_true=np.asarray(data.y["test"]), output=np.asarray(output), classes=self.classes)


def run_duration_s(manifest: dict[str, Any]) -> float | None:
    """Seconds from ``created`` to ``finished`` in a manifest (None when either is missing)."""
    try:
        start = datetime.fromisoformat(str(manifest["created"]))
        end = datetime.fromisoformat(str(manifest["finished"]))
    except (KeyError, ValueError, TypeError):
        return None
    return max((end - start).total_seconds(), 0.0)
