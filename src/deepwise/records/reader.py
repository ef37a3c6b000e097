"""Reading a run directory: the one reader that predict, evaluate, report, runs, tune and transfer learning share.

Each file is read once, when first asked for. A missing, incomplete or damaged run is a :class:`RunError` that says
which file and what to do, never a crash; ``deepwise runs`` lists runs in any state through :func:`scan_run`.

Example:
    >>> files = RunFiles("runs/penguins-20260101-120000")
    >>> files.metrics.verdict.code, files.config.problem.target
    ('simpler_model_suffices', 'species')
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from deepwise.config import Config, load_config
from deepwise.errors import DeepwiseError, RunError
from deepwise.records.files import CONFIG, FINDINGS, HISTORY, MANIFEST, METRICS, MODEL, PREPROCESSING, REQUIRED
from deepwise.records.schema import STATUS_COMPLETE, Manifest, Metrics

_UNSAFE = ContextVar("deepwise_unsafe_models", default=False)


@contextmanager
def unsafe_models() -> Iterator[None]:
    """Inside this block, run models load with Keras ``safe_mode=False``: Python code stored in the file (Lambda
    layers) is run. Only for model files you trust; ``--unsafe`` on the CLI."""
    token = _UNSAFE.set(True)
    try:
        yield
    finally:
        _UNSAFE.reset(token)


def unsafe_default() -> bool:
    """Whether models load unsafely here (inside :func:`unsafe_models`)."""
    return _UNSAFE.get()


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def damaged(path: Path, reason: str) -> RunError:
    return RunError(
        f"The run file '{path}' is damaged or was not written by this deepwise ({reason[:200]}).",
        expected="the files exactly as `deepwise train` wrote them",
        fix="retrain the run (a run copied from elsewhere may be incomplete or changed).",
    )


def read_run_file(path: Path, read: Callable[[Path], Any]) -> Any:
    """Read one file of a run; a damaged or foreign file is a :class:`RunError`, not an internal error."""
    try:
        return read(path)
    except DeepwiseError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as err:
        reason = "not valid JSON" if isinstance(err, json.JSONDecodeError) else f"{type(err).__name__}: {err}"
        raise damaged(path, reason) from None


def read_manifest(path: str | Path, require_complete: bool = True) -> Manifest:
    """The manifest of a run, with a clear error if the folder is no run, or (by default) not a complete one."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.is_dir() or not manifest_path.is_file():
        raise RunError(
            f"'{path}' is not a deepwise run (no {MANIFEST}).",
            expected="a run directory written by `deepwise train`, e.g. runs/penguins-20260101-120000",
            fix="list your runs with `ls runs/` and pass one of them.",
        )
    try:
        raw = read_json(manifest_path)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunError(f"The manifest of '{path}' is damaged: {err}.", fix="retrain the run.") from None
    if not isinstance(raw, dict):
        raise RunError(
            f"The manifest of '{path}' is damaged: it holds a {type(raw).__name__}, not a mapping.",
            expected=f"{MANIFEST} as `deepwise train` wrote it",
            fix="retrain the run.",
        )
    if require_complete and raw.get("status") != STATUS_COMPLETE:
        raise RunError(
            f"The run '{path}' is not complete (status: {raw.get('status', 'unknown')}).",
            expected="a run whose manifest says status: complete",
            fix=f"continue it with `deepwise train --resume {path}`, or use another run.",
        )
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if require_complete and missing:
        raise RunError(
            f"The run '{path}' says it is complete but lacks {', '.join(missing)}.",
            fix="the run was changed by hand or damaged; retrain it.",
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as err:
        raise damaged(manifest_path, _first_error(err)) from None


def read_metrics(path: Path) -> Metrics:
    raw = read_run_file(path, read_json)
    if not isinstance(raw, dict):
        raise RunError(
            f"The run file '{path}' does not hold a run's metrics.",
            expected="metrics.json as `deepwise train` wrote it",
            fix="retrain the run.",
        )
    try:
        return Metrics.model_validate(raw)
    except ValidationError as err:
        raise damaged(path, _first_error(err)) from None


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"'{'.'.join(map(str, first['loc']))}': {first['msg']}"


class RunFiles:
    """The files of one run directory, each read once when first asked for.

    ``require_complete=False`` opens a run that is still running, interrupted or failed (``--resume`` does).
    """

    def __init__(self, path: str | Path, *, require_complete: bool = True):
        self.path = Path(path)
        self.manifest = read_manifest(self.path, require_complete)

    def __repr__(self) -> str:
        return f"RunFiles('{self.path}')"

    @property
    def kind(self) -> str:
        """The kind of data the run was trained on (table, series, images, ...)."""
        if (self.path / METRICS).is_file():
            return self.metrics.kind_name
        return self.manifest.kind_name

    @cached_property
    def metrics(self) -> Metrics:
        return read_metrics(self.path / METRICS)

    @cached_property
    def config(self) -> Config:
        return load_config(self.path / CONFIG)

    @cached_property
    def config_text(self) -> str:
        return (self.path / CONFIG).read_text(encoding="utf-8")

    @cached_property
    def config_dict(self) -> dict[str, Any]:
        """config.yaml as plain data, read leniently (the report shows it even when it no longer validates)."""
        try:
            loaded = yaml.safe_load(self.config_text) or {}
        except yaml.YAMLError:
            return {}
        return loaded if isinstance(loaded, dict) else {}

    @cached_property
    def history(self) -> pd.DataFrame:
        """history.csv: one row per epoch (empty when it is missing or damaged)."""
        try:
            return pd.read_csv(self.path / HISTORY)
        except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
            return pd.DataFrame()

    @cached_property
    def findings(self) -> list[dict[str, Any]]:
        """findings.json, the data checks (empty when absent or damaged)."""
        try:
            findings = read_json(self.path / FINDINGS)
        except (OSError, ValueError):
            return []
        return findings if isinstance(findings, list) else []

    @cached_property
    def preprocessing(self) -> dict[str, Any]:
        """preprocessing.json: the fitted preprocessing's state, as its kind of data wrote it."""
        state = read_run_file(self.path / PREPROCESSING, read_json)
        if not isinstance(state, dict):
            raise damaged(self.path / PREPROCESSING, f"a {type(state).__name__}, not a mapping")
        return state

    def open_model(self, unsafe: bool | None = None):
        """The Keras model, loaded in safe mode (no code from the file runs) unless ``unsafe`` (None: inside
        :func:`unsafe_models`, else safe)."""
        from deepwise.backend import keras_module

        unsafe = unsafe_default() if unsafe is None else unsafe
        path = self.path / MODEL
        try:
            return keras_module().saving.load_model(path, safe_mode=not unsafe, compile=False)
        except Exception as err:  # Keras raises ValueError/TypeError for unsafe or damaged files
            detail = " ".join(str(err).split())[:400]
            if "safe_mode" in detail or "unsafe_deserialization" in detail:
                raise RunError(
                    f"The model file '{path}' contains Python code (a Lambda layer or similar) that would run on "
                    f"loading; deepwise loads models in Keras safe mode and refused it. ({detail})",
                    expected="a model.keras written by deepwise (plain Keras layers, no code)",
                    fix="retrain the run yourself. Only if you trust where this file came from, load it with "
                    "--unsafe (Python: deepwise.load_run(path, unsafe=True)).",
                ) from None
            raise RunError(
                f"The model file '{path}' could not be loaded: {detail}",
                expected="a model.keras written by deepwise (plain Keras layers, no Lambda code)",
                fix="retrain the run; do not load model files from untrusted sources.",
            ) from None


def scan_run(path: Path) -> tuple[Manifest | None, Metrics | None, dict[str, Any], str]:
    """A run directory in whatever state it is: ``(manifest, metrics, config as data, status)``; files that are
    missing or damaged come back as None and the status says so ("missing manifest", "damaged manifest")."""
    files = object.__new__(RunFiles)
    files.path = Path(path)
    manifest_path = files.path / MANIFEST
    if not manifest_path.is_file():
        return None, None, files.config_dict if (files.path / CONFIG).is_file() else {}, "missing manifest"
    try:
        manifest = Manifest.model_validate(read_json(manifest_path))
    except (OSError, ValueError, ValidationError):
        return None, None, {}, "damaged manifest"
    config = files.config_dict if (files.path / CONFIG).is_file() else {}
    metrics = None
    if manifest.status == STATUS_COMPLETE:
        try:
            metrics = read_metrics(files.path / METRICS)
        except RunError:
            metrics = None
    return manifest, metrics, config, manifest.status
