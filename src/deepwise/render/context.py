"""What the report reads from a run: its files (through :class:`deepwise.records.RunFiles`), the words of its kind
of data, and (on demand) the test split's predictions.

Example:
    >>> ctx = ReportContext(RunFiles("runs/penguins-20260101-120000"), kind=TableKind())
    >>> ctx.task, ctx.metrics["test"]["accuracy"]
    ('multiclass', 0.98...)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from deepwise.errors import DeepwiseError
from deepwise.records import Manifest, Metrics, RunFiles


class KindWords(Protocol):
    """What the report asks of the run's kind of data (:class:`deepwise.kinds.base.DataKind` is one): its words,
    and its own sections and model-card lines."""

    unit: str
    total_unit: str
    data_noun: str
    no_importance_note: str | None

    def task_label(self, ctx: ReportContext) -> str: ...
    def guard_text(self, guard: dict[str, Any]) -> str: ...
    def report_sections(self, ctx: ReportContext) -> list: ...
    def card_source(self, ctx: ReportContext, n_inputs: int) -> str: ...
    def card_inputs(self, ctx: ReportContext) -> list[list[str]]: ...
    def card_usage(self, ctx: ReportContext, columns: str, proba_note: str) -> tuple[list[str], str, str]: ...
    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str: ...
    def card_scope_limit(self) -> str: ...


@dataclass
class TestPredictions:
    """The model's raw output on the run's held-out test split, rebuilt from the data (nothing is re-trained)."""

    __test__ = False  # not a pytest test class

    y_true: np.ndarray
    output: np.ndarray
    classes: list | None


class ReportContext:
    """A complete run, read for reporting: nothing about the model is recomputed; the per-example plots use the
    test split rebuilt by ``open_prepared() -> (run, prepared data)`` (given by the caller, once)."""

    def __init__(
        self,
        files: RunFiles,
        kind: KindWords,
        open_prepared: Callable[[], tuple[Any, Any]] | None = None,
    ):
        self.files = files
        self.kind = kind
        self._open_prepared = open_prepared
        self.notes: list[str] = []

    # ------------------------------------------------------------------------------------------------ the files
    @property
    def path(self) -> Path:
        return self.files.path

    @property
    def manifest(self) -> Manifest:
        return self.files.manifest

    @property
    def metrics(self) -> Metrics:
        return self.files.metrics

    @property
    def config_text(self) -> str:
        return self.files.config_text

    @property
    def config(self) -> dict[str, Any]:
        """config.yaml as plain data (read leniently)."""
        return self.files.config_dict

    @property
    def history(self) -> pd.DataFrame:
        return self.files.history

    @property
    def findings(self) -> list[dict[str, Any]]:
        return self.files.findings

    @cached_property
    def preprocessing(self) -> dict[str, Any] | None:
        try:
            return self.files.preprocessing
        except DeepwiseError:
            return None

    # ------------------------------------------------------------------------------------------------ shortcuts
    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def task(self) -> str:
        return str(self.metrics.get("task") or self.manifest.get("task") or "unknown")

    @property
    def output(self) -> str:
        """What the model outputs: binary, multiclass or regression (when task names the kind: "output")."""
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
        return self.manifest.data.model_dump(exclude_none=True)

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
        return self.manifest.duration_s

    # ------------------------------------------------------------------------------------ the kind's own words
    @property
    def unit(self) -> str:
        """What one test example is called: rows, samples, images, ..."""
        return self.kind.unit

    @property
    def total_unit(self) -> str:
        """What the data's size counts (manifest data.rows): rows, images, documents, ..."""
        return self.kind.total_unit

    @property
    def task_label(self) -> str:
        """The task in words, as in "A multiclass run ..."."""
        return self.kind.task_label(self)

    @property
    def no_importance_note(self) -> str | None:
        """Why permutation importance means nothing for this kind of data (None: it does)."""
        return self.kind.no_importance_note

    def guard_text(self, guard: dict[str, Any]) -> str:
        return self.kind.guard_text(guard)

    # ---------------------------------------------------------------------------------------------- predictions
    @cached_property
    def prepared(self) -> tuple[Any, Any] | str:
        """``(run, data)``: the saved run and its rebuilt split, or a sentence saying why the data cannot be rebuilt.
        Built once and shared by every per-example section."""
        if self._open_prepared is None:
            return "Per-row plots are not available: the report was built without the run's data."
        try:
            return self._open_prepared()
        except DeepwiseError as err:
            return f"Per-row plots are not available: {err.problem}"

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
            output = data.predict(run.model, "test")  # arrays, or batches streamed from disk
        except DeepwiseError as err:
            return f"Per-row plots are not available: {err.problem}"
        return TestPredictions(y_true=np.asarray(data.y["test"]), output=np.asarray(output), classes=self.classes)
