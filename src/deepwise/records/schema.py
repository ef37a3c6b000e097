"""The typed records of a run directory: ``manifest.json`` and ``metrics.json``, the only place their keys are spelled.

Both are pydantic models. Writers build them (``Metrics(kind=..., task=..., test=...)``); readers validate the JSON
into them, so a damaged file is caught once, here. For the Python API and for older code they read like the JSON they
are written as (``run.metrics["test"]["accuracy"]``, ``"guard" in run.metrics``). Keys a kind of data adds for
itself (``forecast`` for a series) are kept as extra fields.

``format_version`` 2 added ``kind`` (what the rows are: table, series, images, ...). Runs written before it (version
1, no such key) are read the same way: their kind is derived from ``task`` (:func:`kind_of_task`).
``python -m deepwise.records`` prints the JSON Schema of both files (``docs/run-directory.schema.json``).

Example:
    >>> metrics = Metrics(kind="table", task="multiclass", main_metric="accuracy", test={"accuracy": 0.98},
    ...                   validation={"accuracy": 0.97}, best_epoch=12, epochs_trained=32)
    >>> metrics["test"]["accuracy"], metrics.kind
    (0.98, 'table')
"""

from __future__ import annotations

import math
import os
import platform
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deepwise.version import __version__

FORMAT_VERSION = 2

STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"
Status = Literal["running", "complete", "interrupted", "failed"]

#: format 1 runs had no ``kind``: the kind their ``task`` implies
_KIND_OF_TASK = {"forecasting": "series", "image_classification": "images"}


def kind_of_task(task: str) -> str:
    """The kind of data of a format-1 run, from its ``task`` (binary, multiclass, regression: a table)."""
    return _KIND_OF_TASK.get(task, "table")


def finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities (not valid JSON) replaced by None, in nested dicts and lists too."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


class Record(BaseModel):
    """A JSON file of the run as a typed record that also reads like the JSON mapping it is written as."""

    model_config = ConfigDict(extra="allow")

    def _present(self) -> dict[str, Any]:
        fields = {**self.__dict__, **(self.__pydantic_extra__ or {})}
        return {k: v for k, v in fields.items() if v is not None}

    def __getitem__(self, key: str) -> Any:
        present = self._present()
        if key not in present:
            raise KeyError(key)
        return present[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._present().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._present()

    def keys(self) -> list[str]:
        return list(self._present())

    def to_json(self) -> dict[str, Any]:
        """The plain value written to disk (None fields left out, NaN written as null; NumPy scalars are converted
        when it is written, by :func:`deepwise.records.files.write_json`)."""
        return finite(self.model_dump(exclude_none=True))


class DataInfo(Record):
    path: str = Field(description="the data the run was trained on (file or folder), absolute")
    fingerprint: str = Field(description="sha256:<hex> of the data, to notice when it changed")
    rows: int = Field(description="rows of the table, time steps of the series, images, documents, ...")
    streamed: bool | None = Field(None, description="true when the table was streamed from disk, not loaded")
    split: dict[str, int] = Field(description="rows (or samples) in train / validation / test")


class Manifest(Record):
    """``manifest.json``: what was run, on what, where, and whether it finished (``status``)."""

    format_version: int = Field(1, description="2 since the records module; 1 (absent) before")
    status: Status = Field(description="running | complete | interrupted | failed; complete only when all is written")
    created: str = Field(description="UTC time the run started, ISO 8601")
    finished: str | None = Field(None, description="UTC time the run was complete")
    seed: int
    kind: str | None = Field(None, description="the kind of data (table, series, images, ...); absent in format 1")
    task: str = Field(description="as metrics.json's task")
    data: DataInfo
    versions: dict[str, Any] = Field(default_factory=dict, description="main package versions and the Keras backend")
    packages: dict[str, str] | None = Field(
        None, description="every installed distribution and its version (absent in runs before it was recorded)"
    )
    hardware: dict[str, Any] = Field(default_factory=dict)
    command: str = ""
    timings: dict[str, float] | None = Field(None, description="seconds per step (prepare, fit, evaluate, ...)")
    parameters: int | None = None
    trainable_parameters: int | None = None
    resumed: list[str] | None = Field(None, description="UTC times of each --resume")

    @property
    def kind_name(self) -> str:
        return self.kind or kind_of_task(self.task)

    @property
    def duration_s(self) -> float | None:
        """Seconds from ``created`` to ``finished`` (None until the run is complete, or if either is unreadable)."""
        try:
            start = datetime.fromisoformat(self.created)
            end = datetime.fromisoformat(str(self.finished))
        except (ValueError, TypeError):
            return None
        return max((end - start).total_seconds(), 0.0)


class Verdict(Record):
    code: str = Field(description="deep_learning_helps | simpler_model_suffices | looks_like_a_computation | ...")
    message: str = Field(description="the verdict in plain words, with the numbers behind it")
    evidence: dict[str, Any] = Field(default_factory=dict, description="scores, bootstrap intervals, sizes")


class Metrics(Record):
    """``metrics.json``: the network's scores on the held-out splits, the baselines' on the same test rows, the
    verdict, and what else was measured after training."""

    format_version: int = Field(1, description="2 since the records module; 1 (absent) before")
    kind: str | None = Field(None, description="the kind of data; absent in format 1 (see kind_of_task)")
    task: str = Field(
        description="binary | multiclass | regression for a table; forecasting, image_classification, ... otherwise"
    )
    output: str | None = Field(None, description="what the network outputs, when task names the kind of data")
    main_metric: str = Field(description="the key of test that ranks models")
    test: dict[str, Any] = Field(description="scores on the test split, measured once")
    validation: dict[str, Any]
    validation_held_out: bool = Field(True, description="false after a final refit that trained on validation rows")
    best_epoch: int
    epochs_trained: int
    fine_tune_from: int | None = Field(None, description="epochs of the first phase, when fine-tuning followed")
    baselines: dict[str, dict[str, Any]] = Field(default_factory=dict, description="the same scores per baseline")
    verdict: Verdict | None = None
    feature_importance: dict[str, Any] | None = None
    guard: dict[str, Any] | None = Field(None, description="the out-of-distribution guard's calibration")
    conformal: dict[str, Any] | None = Field(
        None, description="split-conformal intervals or sets: the quantile, nominal and measured test coverage"
    )

    @property
    def kind_name(self) -> str:
        return self.kind or kind_of_task(self.task)

    @property
    def output_task(self) -> str:
        """binary | multiclass | regression (or what the kind outputs): ``output`` if given, else ``task``."""
        return self.output or self.task


# ------------------------------------------------------------------------------------------------- manifest values


def environment() -> dict[str, Any]:
    """Versions, hardware and command line, for the manifest."""
    import numpy
    import pandas
    import sklearn

    from deepwise.backend import keras_module

    keras = keras_module()
    versions = {
        "deepwise": __version__,
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
    }
    if versions["backend"] == "jax":
        import jax

        versions["jax"] = jax.__version__
    return {
        "versions": versions,
        "packages": installed_packages(),
        "hardware": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "memory_gb": _memory_gb(),
        },
        "command": " ".join(sys.argv),
    }


def installed_packages() -> dict[str, str]:
    """Every installed distribution and its version (``deepwise doctor --compare RUN`` holds them against today's)."""
    from importlib.metadata import distributions

    found = {}
    for dist in distributions():
        # NAME-VERSION.dist-info names both without opening the metadata file (0.13 s for 213 packages -> 2 ms)
        path = getattr(dist, "_path", None)
        folder = re.fullmatch(r"(.+?)-([^-]+)\.dist-info", path.name) if path is not None else None
        if folder:
            found[folder[1].lower().replace("_", "-")] = folder[2]
            continue
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name:
            found[name] = dist.version
    return dict(sorted(found.items()))


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        return None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Timer:
    """Collects named wall-clock timings for the manifest.

    Example:
        >>> timer = Timer()
        >>> with timer("fit"):
        ...     pass
        >>> list(timer.timings)
        ['fit']
    """

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                timer.timings[name] = round(timer.timings.get(name, 0.0) + time.perf_counter() - self.start, 3)

        return _Span()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of manifest.json and metrics.json (documented in docs/run-directory.schema.json)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "deepwise run directory",
        "description": "manifest.json and metrics.json of a run; generated by `python -m deepwise.records`.",
        "properties": {"manifest.json": Manifest.model_json_schema(), "metrics.json": Metrics.model_json_schema()},
    }
