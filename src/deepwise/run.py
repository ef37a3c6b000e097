"""Step 8: a saved run, loaded to predict on new data and to re-measure it (``deepwise predict``, ``evaluate``).

:func:`deepwise.train` returns a :class:`Run`; :func:`load_run` opens one from its directory. Its files are read
through :class:`deepwise.records.RunFiles`; what depends on the kind of data (reading new inputs, the guard's flags,
the output's columns) is the kind's :class:`~deepwise.kinds.base.Predictor`.

Example:
    >>> run = load_run("runs/penguins-20260101-120000")
    >>> run.predict(new_rows)[["prediction", "proba_Adelie", "ood"]]
"""

from __future__ import annotations

import html
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from deepwise.config import Config
from deepwise.data.tables import fingerprint
from deepwise.errors import ConfigError, DataError
from deepwise.evaluation import headline
from deepwise.guard import GuardReport, OODGuard
from deepwise.kinds import DataKind, Predictor, Prepared, kind_named
from deepwise.kinds.base import Generated
from deepwise.records import (
    GUARD,
    Manifest,
    Metrics,
    RunFiles,
    read_run_file,
    unsafe_default,
    unsafe_models,
)

__all__ = ["Run", "generate", "load_run", "predict", "unsafe_models"]


class Run:
    """A complete run directory: its config, metrics and history, and the model to predict with.

    The model is loaded in Keras safe mode (a model file with code in it is refused); ``unsafe=True`` (or the
    :func:`unsafe_models` block) turns that off for a model file you trust.
    """

    def __init__(self, path: str | Path, unsafe: bool | None = None):
        self.files = RunFiles(path)
        self.path = self.files.path
        self.unsafe = unsafe_default() if unsafe is None else bool(unsafe)

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    def adopt_model(self, model) -> None:
        """Use ``model``, the network training has just saved into this run, instead of reading the model file back
        (which costs seconds: deserializing and compiling its prediction again, for the report and the first
        ``predict``)."""
        self.__dict__["model"] = model

    def _repr_html_(self) -> str:
        """How a run shows in Jupyter: the verdict, the network next to its baselines on the test split, the other
        test metrics and the learning curves (the full report: ``deepwise report RUN``)."""
        esc = html.escape
        metrics = self.metrics
        test = metrics.get("test", {})
        main = metrics.get("main_metric")
        verdict = metrics.get("verdict") or {}
        parts = [
            f"<b>deepwise run</b> <code>{esc(str(self.path))}</code> · {esc(self.kind.title)} · task "
            f"{esc(self.task)}"
        ]
        if verdict:
            parts.append(f"<p><b>Verdict: {esc(str(verdict.get('code')))}</b> — {esc(str(verdict.get('message')))}</p>")
        baselines = metrics.get("baselines") or {}
        scored = [(name, b.get(main)) for name, b in baselines.items() if isinstance(b, dict)]
        if main and isinstance(test.get(main), float) and scored:
            rows = "".join(
                f"<tr><td>{esc(name)}</td><td>{value:.4g}</td></tr>"
                for name, value in [("the network", test[main]), *scored]
                if isinstance(value, (int, float))
            )
            parts.append(f"<table><tr><th>on the test split</th><th>{esc(main)}</th></tr>{rows}</table>")
        others = "".join(
            f"<tr><td>{esc(k)}</td><td>{v:.4g}</td></tr>" for k, v in test.items() if isinstance(v, float) and k != main
        )
        if others:
            parts.append(f"<table><tr><th>other test metrics</th><th>value</th></tr>{others}</table>")
        try:
            history = self.history
        except (OSError, ValueError):
            history = None
        if history is not None and {"loss", "val_loss"} <= set(history.columns) and len(history):
            from deepwise.render.charts import line_chart

            uri = line_chart(
                {"train": history["loss"], "validation": history["val_loss"]},
                title="loss per epoch",
                x=history["epoch"] if "epoch" in history else None,
                marker_x=metrics.get("best_epoch"),
            )
            parts.append(f'<img src="{uri}" alt="learning curves" style="max-width:480px">')
        parts.append(f"<p>The full report: <code>deepwise report {esc(str(self.path))}</code></p>")
        return "\n".join(parts)

    # ------------------------------------------------------------------------------------------------ its files
    @property
    def manifest(self) -> Manifest:
        return self.files.manifest

    @property
    def metrics(self) -> Metrics:
        """metrics.json as a typed record (it also reads as the JSON mapping: ``run.metrics["test"]``)."""
        return self.files.metrics

    @property
    def config(self) -> Config:
        return self.files.config

    @property
    def history(self) -> pd.DataFrame:
        return self.files.history

    @cached_property
    def kind(self) -> DataKind:
        """The kind of data this run was trained on (table, series, images, ...)."""
        return kind_named(self.files.kind)

    @property
    def task(self) -> str:
        return self.metrics.task

    @property
    def output(self) -> str:
        """What the model outputs: binary, multiclass or regression."""
        return self.metrics.output_task

    @cached_property
    def preprocessor(self) -> Any:
        """The fitted preprocessing (preprocessing.json), as its kind of data reads it."""
        state = self.files.preprocessing
        return read_run_file(self.files.path / "preprocessing.json", lambda _: self.kind.load_preprocessor(state))

    @cached_property
    def model(self):
        """The Keras model, loaded in safe mode (no arbitrary code from the file) unless ``unsafe``."""
        self.kind.custom_objects()  # the kind's own Keras classes (a VAE's, a text network's) registered first
        return self.files.open_model(self.unsafe)

    @cached_property
    def guard(self) -> OODGuard | None:
        """The out-of-distribution guard fitted at train time (None if the run was trained without one)."""
        path = self.path / GUARD
        return read_run_file(path, OODGuard.load) if path.is_file() else None

    @cached_property
    def predictor(self) -> Predictor:
        """The kind's predictor for this run (it keeps what it compiles between calls)."""
        return self.kind.predictor(self)

    # ---------------------------------------------------------------------------------------------- predicting
    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        """Predictions for new data of the run's kind, in the same order (tables: the same index) as the input.

        Tables: ``prediction`` (the class, or the number) and ``proba_<class>`` per class; then ``ood`` (True =
        unlike the training data; the prediction is still given) and ``ood_score`` (distance to the training data
        relative to the alarm threshold; > 1 is flagged). Series: the forecast after the last row. Images: a row
        per image, with its name. ``guard=False`` skips the check (for bulk scoring of data you know).
        """
        return self.predictor.predict(data, guard=guard)

    def predict_to_csv(
        self,
        data: str | Path,
        output: str | Path,
        *,
        chunked: bool | None = None,
        guard: bool = True,
        overlays: bool = False,
    ) -> GuardReport:
        """Predict into a CSV file that appears complete or not at all; a table too big for memory goes a chunk at
        a time (``chunked=None``: decided as for training). Returns the guard's findings over all rows.

        Example:
            >>> report = run.predict_to_csv("big.csv", "predictions.csv")
            >>> report.n_flagged

        Segmentation writes a mask PNG per image into ``output`` (a folder) and ``predictions.csv`` there;
        ``overlays=True`` adds each image with its mask drawn over it.
        """
        if overlays:
            if not getattr(self.predictor, "writes_overlays", False):
                raise ConfigError(
                    f"--overlays draws masks over images; this run predicts {self.kind.data_noun}.",
                    expected="a segmentation run",
                    fix="drop --overlays.",
                )
            return self.predictor.predict_to_csv(data, Path(output), chunked=chunked, guard=guard, overlays=True)
        return self.predictor.predict_to_csv(data, Path(output), chunked=chunked, guard=guard)

    def generate(
        self, n: int, output: str | Path | None = None, *, seed: int = 0, method: str = "vae"
    ) -> Generated:
        """``n`` new examples from a generative run (``problem.task: generate``), marked as generated: a table's
        rows with a ``deepwise_generated`` column (written as CSV to ``output``), or images (PNG files with a
        ``deepwise:generated`` metadata record and ``grid.png`` in the folder ``output``). Other runs refuse.

        Example:
            >>> deepwise.load_run("runs/penguins-...").generate(1000, "synthetic.csv").data.shape
            (1000, 9)
        """
        return self.predictor.generate(n, output, seed=seed, method=method)

    def evaluate(self, data: pd.DataFrame | str | Path | None = None) -> dict[str, Any]:
        """Metrics on labelled data, or (no data) on this run's held-out test split, re-measured."""
        if data is None:
            prepared = self.prepared()
            return prepared.score("test", prepared.predict(self.model, "test"))
        return self.predictor.evaluate(data)

    def prepared(self) -> Prepared:
        """The run's split and preprocessing rebuilt from its data (the same as in training), or a DataError when the
        data is missing or changed."""
        cfg = self.config
        path = Path(cfg.data.path)
        expected = self.manifest.data.fingerprint
        problem = DataError(
            f"The training data '{path}' is missing or changed since this run, so its test split cannot be rebuilt.",
            expected=f"the original data (fingerprint {expected[:19]}...)",
            fix="pass labelled data explicitly: `deepwise evaluate RUN labelled.csv` (or a folder of images).",
        )
        if not path.exists() or (path.is_file() and f"sha256:{fingerprint(path)}" != expected):
            raise problem
        data = self.kind.prepare(cfg)
        if f"sha256:{data.fingerprint}" != expected:
            raise problem
        return data

    def headline(self) -> str:
        return headline(self.output, self.metrics["test"])


def load_run(path: str | Path, *, unsafe: bool | None = None) -> Run:
    """Open a complete run directory. Its model is loaded in Keras safe mode: a model file that carries code
    (a Lambda layer) is refused with a :class:`RunError`. ``unsafe=True`` loads it anyway; only for files you
    trust (None: inside :func:`unsafe_models`, else safe).

    Example:
        >>> run = deepwise.load_run("runs/penguins-20260101-120000")
    """
    return Run(path, unsafe=unsafe)


def generate(
    run: str | Path | Run, n: int, output: str | Path | None = None, *, seed: int = 0, method: str = "vae"
) -> Generated:
    """Shortcut for ``load_run(run).generate(n, output, seed=seed, method=method)`` (``deepwise generate``)."""
    return (run if isinstance(run, Run) else Run(run)).generate(n, output, seed=seed, method=method)


def predict(run: str | Path | Run, data: Any, *, guard: bool = True) -> pd.DataFrame:
    """Shortcut for ``load_run(run).predict(data, guard=guard)``."""
    return (run if isinstance(run, Run) else Run(run)).predict(data, guard=guard)
