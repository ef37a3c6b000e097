"""Step 8: load a run and predict on new rows (and re-measure it on labelled data).

Example:
    >>> run = load_run("runs/penguins-20260101-120000")
    >>> run.predict(new_rows)[["prediction", "proba_Adelie"]]
"""

from __future__ import annotations

import html
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.backend import keras_module
from deepwise.config import Config, load_config
from deepwise.data.images import ImageSet, _bad_files_error, _check_files, open_images
from deepwise.data.series import order_by_time
from deepwise.data.tables import fingerprint, read_table
from deepwise.errors import DataError, RunError
from deepwise.evaluate import class_probabilities, headline, score
from deepwise.guard import GuardReport, OODGuard
from deepwise.models.cnn import confidence, embedding_model
from deepwise.models.inference import predict_rows
from deepwise.prepare.series import SeriesPreprocessor, load_preprocessor
from deepwise.prepare.tabular import TabularPreprocessor
from deepwise.runs import CONFIG, GUARD, HISTORY, METRICS, MODEL, PREPROCESSING, check_run_dir, read_json

_UNSAFE = ContextVar("deepwise_unsafe_models", default=False)


@contextmanager
def unsafe_models() -> Iterator[None]:
    """Inside this block, runs opened by :func:`load_run` load their model with Keras ``safe_mode=False``: Python
    code stored in the file (Lambda layers) is run. Only for model files you trust; ``--unsafe`` on the CLI."""
    token = _UNSAFE.set(True)
    try:
        yield
    finally:
        _UNSAFE.reset(token)


def _run_file(path: Path, read: Callable[[Path], Any]) -> Any:
    """Read one file of a run; a damaged or foreign file is a :class:`RunError`, not an internal error."""
    try:
        return read(path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as err:
        reason = "not valid JSON" if isinstance(err, json.JSONDecodeError) else f"{type(err).__name__}: {err}"
        raise RunError(
            f"The run file '{path}' is damaged or was not written by this deepwise ({reason[:200]}).",
            expected="the files exactly as `deepwise train` wrote them",
            fix="retrain the run (a run copied from elsewhere may be incomplete or changed).",
        ) from None


class Run:
    """A complete run directory: its config, metrics and history, and the model to predict with.

    The model is loaded in Keras safe mode (a model file with code in it is refused); ``unsafe=True`` (or the
    :func:`unsafe_models` block) turns that off for a model file you trust.
    """

    def __init__(self, path: str | Path, unsafe: bool | None = None):
        self.path = Path(path)
        self.manifest = check_run_dir(self.path)
        self.unsafe = _UNSAFE.get() if unsafe is None else bool(unsafe)

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    def _repr_html_(self) -> str:
        test = self.metrics.get("test", {})
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>" for k, v in test.items() if isinstance(v, float)
        )
        return (
            f"<b>deepwise run</b> <code>{html.escape(str(self.path))}</code> · task {html.escape(self.task)}"
            f"<table><tr><th>test metric</th><th>value</th></tr>{rows}</table>"
        )

    @cached_property
    def config(self) -> Config:
        return load_config(self.path / CONFIG)

    @cached_property
    def metrics(self) -> dict[str, Any]:
        metrics = _run_file(self.path / METRICS, read_json)
        if not isinstance(metrics, dict):
            raise RunError(
                f"The run file '{self.path / METRICS}' does not hold a run's metrics.",
                expected="metrics.json as `deepwise train` wrote it",
                fix="retrain the run.",
            )
        return metrics

    @cached_property
    def history(self) -> pd.DataFrame:
        return pd.read_csv(self.path / HISTORY)

    @cached_property
    def preprocessor(self) -> TabularPreprocessor | SeriesPreprocessor:
        return _run_file(self.path / PREPROCESSING, load_preprocessor)

    @property
    def forecasting(self) -> bool:
        return self.task == "forecasting"

    @property
    def images(self) -> bool:
        return self.task == "image_classification"

    def _open_images(self, data: Any, labelled: bool) -> ImageSet:
        """Images to predict on: a folder, a list of files, a CSV of paths, an images.npy, or an array of pixels."""
        cfg = self.config.data
        if isinstance(data, np.ndarray) and not labelled:  # decoded pixels, e.g. from ImagePreprocessor.decode
            if data.ndim not in (3, 4):
                raise DataError(
                    f"predict() received an array of shape {data.shape}.",
                    expected="images as an array [n, height, width] or [n, height, width, channels]",
                    fix="stack the images into one array, or pass their file paths.",
                )
            return ImageSet(paths=None, array=data, labels=None, source="array")
        if isinstance(data, (list, tuple)):
            paths = [Path(p) for p in data]
            bad = _check_files([p for p in paths if p.is_file()]) + [str(p) for p in paths if not p.is_file()]
            if bad:
                raise _bad_files_error(sorted(set(bad)), "the list")
            return ImageSet(paths=[str(p) for p in paths], array=None, labels=None, source="list")
        target = self.config.problem.target if labelled else None
        return open_images(
            data,
            image_column=cfg.image_column,
            label_column=target,
            labelled=labelled,
            allow_outside=cfg.allow_outside_paths,  # links out of the folder: as the run's config allowed
        )

    def _image_outputs(self, images: ImageSet, guard: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Model outputs and (for the guard) penultimate-layer embeddings, decoded batch by batch."""
        prep = self.preprocessor
        both = self._embedding_model if guard else None
        outputs, embeddings = [], []
        chunk = self.image_chunk
        for start in range(0, len(images), chunk):
            batch = prep.load(images, np.arange(start, min(start + chunk, len(images))))
            if both is None:
                outputs.append(predict_rows(self.model, batch, largest=chunk))
            else:  # one forward pass gives the output and the embedding the guard measures
                output, embedding = predict_rows(both, batch, largest=chunk)
                outputs.append(np.asarray(output))
                embeddings.append(np.asarray(embedding))
        return np.concatenate(outputs), (np.concatenate(embeddings) if both is not None else None)

    @property
    def image_chunk(self) -> int:
        """Images decoded and fed to the network at once: 512 for small images (up to 4,096 values each, e.g.
        MNIST's 28x28), else 256. Measured with the MNIST CNN on 2 cores, 1,000 images: chunks of 128 31.7 ms,
        256 29.9 ms, 512 27.8 ms, 1,024 47 ms (larger chunks fall out of the CPU's caches)."""
        h, w = self.preprocessor.image_size
        return 512 if h * w * self.preprocessor.channels <= 4096 else 256

    @cached_property
    def _embedding_model(self):
        """``[output, penultimate layer]`` in one model, built once (a new one would be compiled again)."""
        return embedding_model(self.model, with_output=True) if self.guard is not None else None

    def predict_images(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        images = self._open_images(data, labelled=False)
        if len(images) == 0:
            raise DataError("There are no images to predict.", expected="at least one image", fix="check the input.")
        output, embeddings = self._image_outputs(images, guard)
        result = self._format(output, pd.RangeIndex(len(images)), leading={"image": images.names()})
        if embeddings is not None:
            score_ = self.guard.score_arrays(embeddings, confidence(output, self.output))
            result["ood"] = score_ > 1.0
            result["ood_score"] = score_
            result.attrs["guard"] = {
                "rows": len(result),
                "flagged": int(result["ood"].sum()),
                "out_of_range": {},
                "unseen_categories": {},
            }
        return result

    @property
    def output(self) -> str:
        """What the model outputs: binary, multiclass or regression."""
        return self.metrics.get("output", self.task)

    @property
    def _row_preprocessor(self) -> TabularPreprocessor:
        return self.preprocessor.tabular if self.forecasting else self.preprocessor

    @cached_property
    def guard(self) -> OODGuard | None:
        """The out-of-distribution guard fitted at train time (None if the run was trained without one)."""
        path = self.path / GUARD
        return _run_file(path, OODGuard.load) if path.is_file() else None

    def check(
        self, df: pd.DataFrame, arrays: dict | None = None, numeric_values: np.ndarray | None = None
    ) -> GuardReport | None:
        """Which rows are unlike the training data, and which columns hold unseen values."""
        if self.images:
            raise DataError(
                "check() takes table rows; for images the guard's flags come with predict().",
                fix="use run.predict(images) and read its 'ood' column.",
            )
        return None if self.guard is None else self.guard.check(self._row_preprocessor, df, arrays, numeric_values)

    @property
    def task(self) -> str:
        return self.metrics["task"]

    @cached_property
    def model(self):
        """The Keras model, loaded in safe mode (no arbitrary code from the file) unless ``unsafe``."""
        keras = keras_module()
        try:
            return keras.saving.load_model(self.path / MODEL, safe_mode=not self.unsafe, compile=False)
        except Exception as err:  # Keras raises ValueError/TypeError for unsafe or damaged files
            detail = " ".join(str(err).split())[:400]
            if "safe_mode" in detail or "unsafe_deserialization" in detail:
                raise RunError(
                    f"The model file '{self.path / MODEL}' contains Python code (a Lambda layer or similar) that "
                    f"would run on loading; deepwise loads models in Keras safe mode and refused it. ({detail})",
                    expected="a model.keras written by deepwise (plain Keras layers, no code)",
                    fix="retrain the run yourself. Only if you trust where this file came from, load it with "
                    "--unsafe (Python: deepwise.load_run(path, unsafe=True)).",
                ) from None
            raise RunError(
                f"The model file '{self.path / MODEL}' could not be loaded: {detail}",
                expected="a model.keras written by deepwise (plain Keras layers, no Lambda code)",
                fix="retrain the run; do not load model files from untrusted sources.",
            ) from None

    # -------------------------------------------------------------------------------------------- predicting
    def _raw_output(self, df: pd.DataFrame, arrays: dict | None = None) -> np.ndarray:
        """Model output for every row of a table (tables only; series go through :meth:`_series`)."""
        arrays = self.preprocessor.transform(df) if arrays is None else arrays
        from deepwise.train import model_input

        return predict_rows(self.model, model_input(arrays))

    def _series(self, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        """Rows of a series, sorted by time, with the time axis."""
        self._row_preprocessor.check_columns(df)
        return order_by_time(df, self.preprocessor.time_column)[:2]

    def _format(self, output: np.ndarray, index: Any, leading: dict[str, Any] | None = None) -> pd.DataFrame:
        """``leading`` columns, then ``prediction`` (and ``proba_<class>``): built at once, not column by column."""
        columns: dict[str, Any] = dict(leading or {})
        if self.output == "regression":
            columns["prediction"] = output.reshape(-1)
        else:
            classes = self.preprocessor.classes_
            proba = class_probabilities(self.output, output)
            # the classes as a pandas array (str, int64, bool... as a list of them would be): taking from it is
            # ten times faster than building the column from Python objects
            columns["prediction"] = pd.Index(classes).array.take(proba.argmax(axis=1))
            columns.update({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
        return pd.DataFrame(columns, index=index)

    def forecast(self, df: pd.DataFrame, *, guard: bool = True) -> pd.DataFrame:
        """The forecast after the last row of a series: one row, for ``horizon`` steps after its last time."""
        rows, time = self._series(df)
        prep = self.preprocessor
        if len(rows) < prep.window:
            raise DataError(
                f"{len(rows)} row(s) are fewer than the model's window of {prep.window} time steps.",
                expected=f"at least the last {prep.window} rows of the series",
                fix="pass more of the series' recent rows.",
            )
        recent = slice(len(rows) - prep.window, None)  # features are per row: only the last window's rows matter
        recent_rows = rows.iloc[recent]
        values = prep.tabular.numeric_values(recent_rows)  # once, for the model and for the guard
        arrays = prep.tabular.transform(recent_rows, values)
        window = prep.windows(prep.row_features(recent_rows, time.iloc[recent], arrays))[-1:]
        result = self._format(np.asarray(self.model.predict_on_batch(window)), index=[0])
        step = time.diff().median() if len(time) > 1 else None
        last = time.iloc[-1]
        result.insert(0, "forecast_for", last + prep.horizon * step if step is not None else None)
        result.insert(1, "last_time", last)
        report = self.check(recent_rows, arrays, values) if guard else None
        if report is not None:
            result["ood"] = bool(report.ood.any())
            result["ood_score"] = float(report.score.max())
            result.attrs["guard"] = report.to_dict()
        return result

    def predict(self, data: pd.DataFrame | str | Path, *, guard: bool = True) -> pd.DataFrame:
        """Predictions for raw rows, in the same order (and with the same index) as the input.

        Forecasting runs: the forecast after the last row of the series (see :meth:`forecast`).
        Classification: ``prediction`` (the class) and ``proba_<class>`` per class; regression: ``prediction``.
        Then ``ood`` (True = unlike the training data; the prediction is still given) and ``ood_score``
        (distance to the training data relative to the alarm threshold; > 1 is flagged). ``guard=False`` skips
        that check (for bulk scoring of data you know; it is most of the time of a large batch of table rows).
        """
        if self.images:
            return self.predict_images(data, guard=guard)
        df = read_table(data, self.config.data.na_values) if isinstance(data, (str, Path)) else data
        if not isinstance(df, pd.DataFrame):
            raise DataError(
                f"predict() received {type(df).__name__}.",
                expected="a pandas DataFrame or the path of a CSV/TSV/Parquet file",
                fix="pass pd.DataFrame(rows) or a file path.",
            )
        if len(df) == 0:
            raise DataError("There are no rows to predict.", expected="at least one row", fix="check the input.")
        if self.forecasting:
            return self.forecast(df, guard=guard)
        values = self.preprocessor.numeric_values(df)  # once, for the model and the guard
        arrays = self.preprocessor.transform(df, values)
        result = self._format(self._raw_output(df, arrays), df.index)
        report = self.check(df, arrays, values) if guard else None
        if report is not None:
            result["ood"] = report.ood
            result["ood_score"] = report.score
            result.attrs["guard"] = report.to_dict()
        return result

    def predict_to_csv(
        self, data: str | Path, output: str | Path, *, chunked: bool | None = None, guard: bool = True
    ) -> GuardReport:
        """Predict every row of a table file into a CSV file, a chunk at a time when the table is too big for
        memory (``chunked=None``: decided as for training). The output appears complete or not at all. Returns the
        guard's findings over all rows (``ood`` and ``ood_score`` columns are in the file; none with
        ``guard=False``).

        Example:
            >>> report = run.predict_to_csv("big.csv", "predictions.csv")
            >>> report.n_flagged
        """
        from deepwise.data.stream import TableSource, is_streamable, may_be_too_big
        from deepwise.runs import atomic_write_text

        output = Path(output)
        small = chunked is None and is_streamable(data) and not may_be_too_big(data)
        if self.images or self.forecasting or not is_streamable(data) or small:
            result = self.predict(data, guard=guard)
            atomic_write_text(output, result.to_csv(index=False))
            return _guard_report(result, [result.attrs.get("guard")])
        source = TableSource.open(data, self.config.data.na_values)
        if not (chunked if chunked is not None else source.too_big_for_memory()):
            result = self.predict(data, guard=guard)
            atomic_write_text(output, result.to_csv(index=False))
            return _guard_report(result, [result.attrs.get("guard")])
        tmp = output.with_name(f".tmp-{os.getpid()}-{output.name}")
        ood, scores, guards = [], [], []
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                first = True
                for chunk in source.chunks():
                    result = self.predict(chunk, guard=guard)
                    result.to_csv(fh, index=False, header=first)
                    first = False
                    if "ood" in result:
                        ood.append(result["ood"].to_numpy())
                        scores.append(result["ood_score"].to_numpy())
                    guards.append(result.attrs.get("guard"))
                if first:
                    raise DataError(
                        "There are no rows to predict.", expected="at least one row", fix="check the input."
                    )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
        merged = pd.DataFrame({"ood": np.concatenate(ood), "ood_score": np.concatenate(scores)}) if ood else None
        return _guard_report(merged, guards)

    def evaluate(self, data: pd.DataFrame | str | Path | None = None) -> dict[str, Any]:
        """Metrics on labelled data, or (no data) on this run's held-out test split, re-measured."""
        target = self.config.problem.target
        if data is None:
            return self._evaluate_test_split()
        if self.images:
            images = self._open_images(data, labelled=True)
            output, _ = self._image_outputs(images, guard=False)  # no embeddings: metrics only
            y = self.preprocessor.transform_target(images.labels)
            return score(self.output, y, output, self.preprocessor.classes_)
        else:
            df = read_table(data, self.config.data.na_values) if isinstance(data, (str, Path)) else data
            if target not in df.columns:
                raise DataError(
                    f"The labelled data has no target column '{target}'.",
                    expected=f"the inputs and the target column '{target}'",
                    fix=f"add '{target}', or use `deepwise predict` for unlabelled rows.",
                )
            df = df[df[target].notna()]
        if self.forecasting:
            rows, time = self._series(df)
            x, y, _ = self.preprocessor.samples(rows, time)
            return score(self.output, y, predict_rows(self.model, x), self.preprocessor.classes_)
        y = self.preprocessor.transform_target(df[target])
        return score(self.task, y, self._raw_output(df), self.preprocessor.classes_)

    def _evaluate_test_split(self) -> dict[str, Any]:
        data = self._prepared()
        return score(self.output, data.y["test"], data.predict(self.model, "test"), self.preprocessor.classes_)

    def _test_split(self) -> pd.DataFrame:
        """The raw rows of the held-out test split (for series: the test period)."""
        return self._prepared().frame("test")

    def _prepared(self):
        from deepwise.train import prepare

        cfg = self.config
        path = Path(cfg.data.path)
        expected = self.manifest["data"]["fingerprint"]
        problem = DataError(
            f"The training data '{path}' is missing or changed since this run, so its test split cannot be rebuilt.",
            expected=f"the original data (fingerprint {expected[:19]}...)",
            fix="pass labelled data explicitly: `deepwise evaluate RUN labelled.csv` (or a folder of images).",
        )
        if not path.exists() or (path.is_file() and f"sha256:{fingerprint(path)}" != expected):
            raise problem
        data = prepare(cfg)
        if f"sha256:{data.fingerprint}" != expected:
            raise problem
        return data

    def headline(self) -> str:
        return headline(self.output, self.metrics["test"])


def _guard_report(result: pd.DataFrame | None, parts: list[dict | None]) -> GuardReport:
    """One GuardReport from the ood columns of ``result`` and the guard dicts of each chunk."""
    if result is None or "ood" not in result:
        return GuardReport(np.zeros(0, dtype=bool), np.zeros(0))
    out_of_range: dict[str, int] = {}
    unseen: dict[str, dict[str, Any]] = {}
    for part in parts:
        for col, n in (part or {}).get("out_of_range", {}).items():
            out_of_range[col] = out_of_range.get(col, 0) + int(n)
        for col, info in (part or {}).get("unseen_categories", {}).items():
            seen = unseen.setdefault(col, {"count": 0, "examples": []})
            seen["count"] += int(info["count"])
            seen["examples"] = (seen["examples"] + [e for e in info["examples"] if e not in seen["examples"]])[:5]
    return GuardReport(result["ood"].to_numpy(), result["ood_score"].to_numpy(), out_of_range, unseen)


def load_run(path: str | Path, *, unsafe: bool | None = None) -> Run:
    """Open a complete run directory. Its model is loaded in Keras safe mode: a model file that carries code
    (a Lambda layer) is refused with a :class:`RunError`. ``unsafe=True`` loads it anyway; only for files you
    trust (None: inside :func:`unsafe_models`, else safe).

    Example:
        >>> run = deepwise.load_run("runs/penguins-20260101-120000")
    """
    return Run(path, unsafe=unsafe)


def predict(run: str | Path | Run, data: pd.DataFrame | str | Path, *, guard: bool = True) -> pd.DataFrame:
    """Shortcut for ``load_run(run).predict(data, guard=guard)``."""
    return (run if isinstance(run, Run) else Run(run)).predict(data, guard=guard)
