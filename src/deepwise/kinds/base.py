"""The interface every kind of data implements: a table, a time series, images, ... (see ARCHITECTURE.md).

Keras picks one data adapter per input type and its training loop never asks which one it holds; deepwise does the
same one level up. A :class:`DataKind` is chosen once per config (:func:`deepwise.kinds.kind_for_config`) or per
saved run (:func:`deepwise.kinds.kind_named`), and owns everything that depends on what one row is:

- steps 1-3: :meth:`DataKind.formulate` (task and inputs, with the reasons) and :meth:`DataKind.prepare` (read, split,
  fit the preprocessing on the training split: a :class:`Prepared`);
- steps 4-6, through the :class:`Prepared` it returns: data checks, the default network, feeding ``model.fit``,
  baselines and their metrics, permutation importance, the out-of-distribution guard;
- step 8, through a :class:`Predictor` per saved run: ``predict`` and ``evaluate`` on new data;
- sharing: report sections, the HTTP routes of ``deepwise serve``, sample inputs for ``deepwise export``.

Example (a new kind registers itself in :mod:`deepwise.kinds`):
    >>> class AudioKind(DataKind):
    ...     name, title, unit = "audio", "audio clips", "clips"
    ...     def claims(self, config): return Path(config.data.path).suffix == ".wav"
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from deepwise.config import Config, dump_config
from deepwise.evaluation import class_probabilities, conformal, fit_baselines, score, verdict
from deepwise.formula import evaluate_formula, find_formula
from deepwise.guard import GuardReport
from deepwise.records import atomic_write_text
from deepwise.render.card import RANDOM_SPLIT_SCOPE, rows_guard_limit, rows_inputs, rows_usage
from deepwise.render.common import rows_guard_text
from deepwise.tasks import TASKS, TaskSpec

if TYPE_CHECKING:
    from deepwise.guard import OODGuard
    from deepwise.inspection import Findings
    from deepwise.records import Manifest, Metrics
    from deepwise.render.blocks import Section
    from deepwise.render.context import ReportContext


# ------------------------------------------------------------------------------------------------ steps 1-2


@dataclass
class Problem:
    """A resolved problem: the config with every choice made, and the reasons behind each inferred choice."""

    config: Config
    frame: pd.DataFrame | None  # the rows (tables and series) or one row per example (its label)
    task_reason: str
    columns: list[Any] = field(default_factory=list)  # data.schema.ColumnChoice for each column considered
    notes: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        """What the network outputs: binary, multiclass or regression."""
        return self.config.problem.task

    @property
    def inputs(self) -> list[str]:
        return list(self.config.data.inputs or [])

    @property
    def dropped(self) -> list[Any]:
        return [c for c in self.columns if not c.used]

    def explain(self) -> list[str]:
        """Plain-language lines on what was chosen and why."""
        task = TASKS[self.output]
        lines = [f"Task: {self.config.problem.task}. {self.task_reason}", *self.describe_inputs()]
        lines.append(f"Output layer: {task.why_output}.")
        lines.append(f"Loss: {task.why_loss}.")
        lines.append(f"Metrics: {task.why_metrics}.")
        return lines + self.notes

    def describe_inputs(self) -> list[str]:
        n_cat = len(self.config.data.categorical or [])
        lines = [f"Inputs: {len(self.inputs)} column(s), {len(self.inputs) - n_cat} numeric and {n_cat} categorical."]
        lines.extend(f"Not used: '{c.name}': {c.reason}." for c in self.dropped)
        return lines

    def write(self, path: str | Path) -> Path:
        """Write the config as commented YAML (relative data path when the data sits under the config's folder)."""
        path = Path(path)
        config = self.config.model_copy(deep=True)
        data_path = Path(config.data.path)
        try:
            config.data.path = str(data_path.resolve().relative_to(path.resolve().parent))
        except ValueError:
            config.data.path = str(data_path.resolve())
        notes = {
            "problem.task": self.task_reason,
            "data.inputs": "\n".join(f"'{c.name}' is not used: {c.reason}" for c in self.dropped),
        }
        header = (
            "deepwise config written by `deepwise init`. Every option is spelled out with its default;\n"
            f"edit what you need and run `deepwise train {path.name}`."
        )
        atomic_write_text(path, dump_config(config, notes=notes, header=header))
        return path


# ------------------------------------------------------------------------------------------------ steps 3-6


@dataclass
class Prepared:
    """One split and one fitted preprocessing, shared by the network, the baselines and the evaluation.

    Subclasses feed Keras (:meth:`fit`, :meth:`predict`, :meth:`probe_batch`) and supply what the verdict compares
    (:meth:`baseline_inputs`); the defaults here serve every kind whose network outputs classes or a number.
    """

    problem: Problem
    task: TaskSpec
    prep: Any  # the fitted preprocessing: to_json(), classes_, input_specs()
    splits: dict[str, Any]  # positions of each split's examples
    y: dict[str, np.ndarray]
    fingerprint: str

    # ------------------------------------------------------------------------------------------ shape of the data
    @property
    def config(self) -> Config:
        return self.problem.config

    @property
    def n_classes(self) -> int:
        return len(self.prep.classes_) if self.task.is_classification else 1

    @property
    def n_rows(self) -> int:
        """Examples in the data (rows, time steps, images, documents)."""
        return len(self.problem.frame)

    @property
    def streamed(self) -> bool:
        """True when the training data is read from disk batch by batch instead of held in memory."""
        return False

    def split_sizes(self) -> dict[str, int]:
        return {name: int(len(index)) for name, index in self.splits.items()}

    def steps_per_epoch(self, batch_size: int) -> int:
        """Training steps in one epoch (one pass over the training examples; patch sampling kinds say their own)."""
        return math.ceil(len(self.y["train"]) / batch_size)

    # --------------------------------------------------------------------------------------------- feeding Keras
    @abstractmethod
    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        """``model.fit`` on the training split, validated on the validation split."""

    @abstractmethod
    def predict(self, model, split: str) -> np.ndarray:
        """The model's raw output for every example of a split."""

    @abstractmethod
    def probe_batch(self, batch_size: int) -> tuple[Any, np.ndarray]:
        """One batch ``(x, y)`` of training data to time a few training steps on."""

    # ----------------------------------------------------------------------------------------------- the network
    def loss(self) -> Any:
        """The loss the network is compiled with (the task's, e.g. cross-entropy; None when the model adds its own)."""
        return self.task.loss

    def constant_loss(self) -> float | None:
        """The validation loss of the best constant prediction (:meth:`TaskSpec.constant_loss`), the scale of early
        stopping's automatic ``min_delta``; None (the default): the kind has no such reference, and ``min_delta``
        is 0. Tables say it; a forecast's constant prediction is no reference (a trend or a season puts the later
        validation steps far from the training mean: CO2's ``min_delta`` stopped its network at R² 0.90, against
        0.97 without)."""
        return None

    def keras_metrics(self) -> list:
        """The metrics Keras reports per epoch (history.csv)."""
        return list(self.task.keras_metrics)

    @abstractmethod
    def build_network(self):
        """The uncompiled Keras network of the config's model type for this data."""

    @abstractmethod
    def describe_network(self, model) -> str:
        """One line on the network (layers, units) for the console."""

    # --------------------------------------------------------------------------------------------- data checks
    @abstractmethod
    def inspect(self) -> Findings:
        """The data checks of step 3 on this data."""

    # ------------------------------------------------------------------------------------------ after training
    def score(self, split: str, output: np.ndarray) -> dict[str, Any]:
        """Every metric deepwise reports, for the network's (or a baseline's) output on a split."""
        return score(self.task.name, self.y[split], output, self.prep.classes_)

    @abstractmethod
    def baseline_inputs(self) -> tuple[Any, np.ndarray, Any]:
        """``(x_train, y_train, x_test)`` for the scikit-learn baselines (flat float matrices)."""

    def naive_outputs(self, split: str) -> dict[str, np.ndarray]:
        """Extra baselines that need no fitting (a series' persistence), in the model's output format."""
        return {}

    def start_baselines(self) -> None:
        """Start fitting the baselines on a second thread, to run while the network trains, where this kind's need
        only the data (``baselines_while_training``); :meth:`compare_with_baselines` takes their result. (The formula
        search stays after training: its wall-clock budget beside training would make what it finds depend on the
        machine's load.)

        JAX's training step of a small network keeps one core busy and leaves the other idle; the baselines' trees
        and solvers run mostly outside the GIL. Measured on penguins (2 cores): the baselines phase after training
        0.30 s -> 0.05 s, the fit beside it unchanged."""
        if not self.baselines_while_training or getattr(self, "_baselines_job", None) is not None:
            return
        import threading
        from concurrent.futures import Future

        job: Future = Future()

        def fit() -> None:
            if job.set_running_or_notify_cancel():
                try:
                    job.set_result(self._fit_baselines())
                except BaseException as err:  # raised again where compare_with_baselines takes the result
                    job.set_exception(err)

        # a daemon: a run stopped with Ctrl-C does not wait for the baselines of a big table to finish
        threading.Thread(target=fit, name="deepwise-baselines", daemon=True).start()
        self._baselines_job = job

    def _fit_baselines(self) -> dict[str, dict[str, Any]]:
        from threadpoolctl import threadpool_limits

        # one thread: scikit-learn's OpenMP/BLAS threads fighting JAX's for 2 cores made this 100x slower (measured)
        with threadpool_limits(1):
            return fit_baselines(
                self.task.name, *self.baseline_inputs(), self.n_classes, self.config.seed, images=self.images_baselines
            )

    def compare_with_baselines(self, test_output: np.ndarray, history: list[dict], best_epoch: int) -> dict:
        """The baselines fitted on the same training rows and scored on the same test rows, and the verdict."""
        task = self.task.name
        job = self.__dict__.pop("_baselines_job", None)  # started by start_baselines while the network trained
        fitted = job.result() if job is not None else self._fit_baselines()
        for name, output in self.naive_outputs("test").items():
            fitted[name] = {"output": output, "fit_seconds": 0.0, "model": name}
        baselines = {
            name: {**self.score("test", res["output"]), "model": res["model"], "fit_seconds": res["fit_seconds"]}
            for name, res in fitted.items()
        }
        min_class = None
        if self.task.is_classification:
            min_class = int(np.bincount(self.y["train"].astype(int), minlength=self.n_classes).min())
        found = verdict(
            task,
            self.y["test"],
            test_output,
            {name: res["output"] for name, res in fitted.items()},
            n_train=len(self.splits["train"]),
            min_class_train_rows=min_class,
            generalization_gap=self.generalization_gap(history, best_epoch),
            seed=self.config.seed,
            formula=self.formula(),
        )
        return {"baselines": baselines, "verdict": found}

    def formula_rows(self, split: str) -> pd.DataFrame | None:
        """The raw rows (inputs and target) of a split to look for a formula in; None: this kind's target is not
        a formula of its inputs' values (pixels, a series' future)."""
        return None

    def formula(self) -> dict[str, Any] | None:
        """A closed formula of the inputs that computes the target, searched on the training rows only (and then
        measured on the test rows), or None when there is none (:mod:`deepwise.formula`)."""
        train = self.formula_rows("train")
        if train is None:
            return None
        target = self.config.problem.target
        result = find_formula(train, target, self.task.name, inputs=self.prep.columns, seed=self.config.seed)
        if not result.found:
            return None
        test = self.formula_rows("test")
        computed = evaluate_formula(result.spec, test)
        truth = test[target].to_numpy()
        if self.task.name == "regression":
            residual = float(np.nanmean((truth.astype(float) - computed.astype(float)) ** 2))
            test_score = 1.0 - residual / float(np.var(truth.astype(float)))
        else:
            test_score = float(np.mean(np.asarray(computed, dtype=object) == np.asarray(truth, dtype=object)))
        return {**result.to_dict(), "test_score": test_score}

    #: True for pixels: the baselines leave out gradient boosting (slow on pixels, and no better)
    images_baselines: ClassVar[bool] = False
    #: True where the baselines need only rows in memory: they are fitted while the network trains (start_baselines)
    baselines_while_training: ClassVar[bool] = False
    #: training.batch_size when the config leaves it automatic
    default_batch_size: ClassVar[int] = 32
    #: what early stopping watches, and whether lower or higher is better
    early_stopping_monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")

    def generalization_gap(self, history: list[dict], best_epoch: int) -> dict[str, Any] | None:
        """Training vs validation score at the best epoch (the verdict's overfitting evidence)."""
        if not history or not 0 < best_epoch <= len(history) or self.config.data.split.train_on_validation:
            return None
        row = history[best_epoch - 1]
        key = "accuracy" if self.task.is_classification else "root_mean_squared_error"
        if row.get(key) is None or row.get(f"val_{key}") is None:
            return None
        return {"metric": key, "train": float(row[key]), "validation": float(row[f"val_{key}"])}

    def uncertainty(self, validation_output: np.ndarray, test_output: np.ndarray) -> dict[str, Any] | None:
        """Split-conformal intervals or sets calibrated on the validation split, their coverage measured on the test
        split (:mod:`deepwise.evaluation.conformal`); None when the validation rows were trained on (a refit)."""
        coverage = self.config.uncertainty.coverage
        if coverage is None or self.config.data.split.train_on_validation:
            return None
        calibration = conformal.calibrate(self.task.name, validation_output, self.y["validation"], 1 - coverage)
        return conformal.measure(self.task.name, calibration, test_output, self.y["test"])

    def importance(self, model) -> dict[str, Any] | None:
        """Permutation importance of the inputs on the test split (None where it means nothing, e.g. pixels)."""
        return None

    @abstractmethod
    def fit_guard(self, model, validation_output: np.ndarray, test_output: np.ndarray) -> tuple[OODGuard, float]:
        """The out-of-distribution guard fitted on the training split and calibrated on validation; returns it and
        the share of test examples it flags."""

    def metrics_extra(self) -> dict[str, Any]:
        """Keys of metrics.json that only this kind writes (a series' ``forecast``)."""
        return {}

    def inspected_columns(self) -> list[str]:
        return list(dict.fromkeys([*self.prep.columns, self.config.problem.target]))


# --------------------------------------------------------------------------------------------------- step 8


class SavedRun(Protocol):
    """What a predictor reads from a saved run (:class:`deepwise.run.Run` is one)."""

    path: Path
    unsafe: bool

    @property
    def config(self) -> Config: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def manifest(self) -> Manifest: ...
    @property
    def model(self) -> Any: ...
    @property
    def preprocessor(self) -> Any: ...
    @property
    def guard(self) -> OODGuard | None: ...
    @property
    def output(self) -> str: ...


@dataclass
class Generated:
    """What :meth:`Predictor.generate` made: the new examples (a table, or images as an array), and the files
    written (with the images' grid, when there is one)."""

    data: Any
    files: list[Path] = field(default_factory=list)
    grid: Path | None = None


class Predictor(ABC):
    """Predictions of a saved run on new data of its kind (created once per run, so its caches last)."""

    def __init__(self, run: SavedRun):
        self.run = run

    @abstractmethod
    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        """Predictions for new data, with ``ood`` / ``ood_score`` columns unless ``guard=False``."""

    @abstractmethod
    def evaluate(self, data: Any) -> dict[str, Any]:
        """Every metric on new labelled data."""

    def generate(self, n: int, output: str | Path | None = None, *, seed: int = 0, method: str = "vae") -> Generated:
        """``n`` new examples from a generative run (``deepwise generate``); other runs predict and cannot."""
        from deepwise.errors import ConfigError

        raise ConfigError(
            f"This run predicts from {self.run.metrics.kind_name} data; it does not generate new data.",
            expected="a generative run: trained with problem.task: generate (CLI: deepwise train DATA --task generate)",
            fix="train a generative run on the data first, then `deepwise generate RUN -n N`.",
        )

    def predict_to_csv(self, data: Any, output: Path, *, chunked: bool | None, guard: bool) -> GuardReport:
        """Predictions written to a CSV file (appears complete or not at all); the guard's findings."""
        result = self.predict(data, guard=guard)
        atomic_write_text(output, result.to_csv(index=False))
        return GuardReport.of_predictions(result) or GuardReport(np.zeros(0, dtype=bool), np.zeros(0))

    def format(self, output: np.ndarray, index: Any, leading: dict[str, Any] | None = None) -> pd.DataFrame:
        """``leading`` columns, then ``prediction`` (and ``proba_<class>``): built at once, not column by column."""
        columns: dict[str, Any] = dict(leading or {})
        task = self.run.output
        calibration = self.run.metrics.get("conformal")
        if task == "regression":
            columns["prediction"] = output.reshape(-1)
            if calibration:  # the split-conformal interval: prediction ± the validation errors' quantile
                pct = round(100 * (1 - calibration["alpha"]))
                columns[f"lower_{pct}"] = columns["prediction"] - calibration["quantile"]
                columns[f"upper_{pct}"] = columns["prediction"] + calibration["quantile"]
        else:
            classes = self.run.preprocessor.classes_
            proba = class_probabilities(task, output)
            # the classes as a pandas array (str, int64, bool... as a list of them would be): taking from it is
            # ten times faster than building the column from Python objects
            columns["prediction"] = pd.Index(classes).array.take(proba.argmax(axis=1))
            columns.update({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
            if calibration:  # the split-conformal set: every class at least as probable as the threshold
                pct = round(100 * (1 - calibration["alpha"]))
                sets = conformal.prediction_sets(task, output, calibration["quantile"])
                columns[f"set_{pct}"] = set_labels(sets, classes)
        return pd.DataFrame(columns, index=index)


def set_labels(sets: np.ndarray, classes: list) -> np.ndarray:
    """Each row's set of classes as text ("Adelie|Chinstrap"), built once per distinct set, not once per row."""
    if sets.shape[1] <= 62:  # each set as one integer (a bit per class): unique on numbers, not a row sort (10x)
        codes = sets.astype(np.int64) @ (np.int64(1) << np.arange(sets.shape[1], dtype=np.int64))
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        patterns = sets[first]
    else:
        patterns, inverse = np.unique(sets, axis=0, return_inverse=True)
    names = np.array(["|".join(str(c) for c, inside in zip(classes, row, strict=True) if inside) for row in patterns],
                     dtype=object)  # fmt: skip
    return names[inverse.reshape(-1)]


# -------------------------------------------------------------------------------------------------- the kind


class DataKind(ABC):
    """One kind of data, chosen once; stateless (one instance is registered in :mod:`deepwise.kinds`)."""

    #: the kind's name in the run directory (metrics.json and manifest.json "kind")
    name: ClassVar[str]
    #: what the data is, in words ("a table", "images")
    title: ClassVar[str]
    #: what one example is called in sentences ("rows", "images", "samples")
    unit: ClassVar[str] = "rows"
    #: what the data's size counts (manifest data.rows)
    total_unit: ClassVar[str] = "rows"
    #: what new data for this model is ("rows", "series", "images")
    data_noun: ClassVar[str] = "rows"
    #: what a request to ``deepwise serve`` carries ("records", "images")
    request_items: ClassVar[str] = "records"
    #: why permutation importance means nothing for this kind (None: it is measured)
    no_importance_note: ClassVar[str | None] = None
    #: the model types (config model.type) of this kind; the first is the default
    model_types: ClassVar[tuple[str, ...]]

    def __repr__(self) -> str:
        return f"<kind {self.name}>"

    # ------------------------------------------------------------------------------------------------ steps 1-3
    @abstractmethod
    def claims(self, config: Config) -> bool:
        """True when the config's data (or ``problem.task``) is of this kind."""

    @abstractmethod
    def formulate(self, config: Config) -> Problem:
        """Steps 1-2: the task and inputs for the config's data (explicit choices in the config win)."""

    @abstractmethod
    def prepare(self, config: Config) -> Prepared:
        """Step 3: read, formulate, split and fit the preprocessing on the training split."""

    def metrics_task(self, prepared: Prepared) -> dict[str, str]:
        """metrics.json's ``task`` (and ``output`` where task names the kind), as runs have always written them."""
        return {"task": prepared.task.name}

    # ------------------------------------------------------------------------------------------------- step 8
    def custom_objects(self) -> dict[str, Any]:
        """The Keras classes a saved network of this kind needs, registered with Keras when this is called (the run
        calls it before loading its model); none for networks of Keras' own layers."""
        return {}

    @abstractmethod
    def load_preprocessor(self, state: dict[str, Any]) -> Any:
        """The fitted preprocessing from its JSON state (preprocessing.json)."""

    @abstractmethod
    def predictor(self, run: SavedRun) -> Predictor:
        """The object that predicts with a saved run of this kind."""

    # ---------------------------------------------------------------------------------------------- sharing it
    @abstractmethod
    def report_sections(self, ctx: ReportContext) -> list[Section]:
        """The report's sections that depend on the kind (placed after the learning curves)."""

    def task_label(self, ctx: ReportContext) -> str:
        """The task in words for the report's summary ("multiclass", "forecasting (regression)")."""
        return ctx.task

    def guard_text(self, guard: dict[str, Any]) -> str:
        """What this kind's guard does and what a flag means, for the report."""
        return rows_guard_text(guard)

    def card_source(self, ctx: ReportContext, n_inputs: int) -> str:
        """The model card's "predicts X from <source>"."""
        return f"{n_inputs or 'its'} input column(s) of one table row"

    def card_inputs(self, ctx: ReportContext) -> list[list[str]]:
        """The model card's table of inputs: name, kind, training range."""
        return rows_inputs(ctx.preprocessing or {})

    def card_usage(self, ctx: ReportContext, columns: str, proba_note: str) -> tuple[list[str], str, str]:
        """The model card's command lines, Python example and note on the inputs."""
        return rows_usage(ctx, columns, proba_note)

    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str:
        return rows_guard_limit(guard, rate, observed)

    def card_scope_limit(self) -> str:
        """What the test split's metrics do not say, for the model card's limits."""
        return RANDOM_SPLIT_SCOPE

    @abstractmethod
    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        """``POST /predict`` and ``GET /schema`` of ``deepwise serve`` for a run of this kind (and the app's
        description)."""

    @abstractmethod
    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        """The network's input for ``n`` synthetic examples (to check an exported model)."""

    def export_input_text(self, inputs: str) -> str:
        """The exported README's line on what the network takes."""
        return ROWS_INPUT.format(inputs=inputs)

    def inspect_data(self, config: Config, target: str | None, time_column: str | None) -> Findings:
        """``deepwise inspect`` on a folder of this kind: the checks of its prepared data (``target`` and
        ``time_column`` as the user gave them; tables and classified images check their files without preparing)."""
        return self.prepare(config).inspect()

    def explain_views(self, run: SavedRun, folder: Path) -> dict[str, Any] | None:
        """``deepwise explain``'s views of this kind's inputs (images: feature maps and saliency), or None."""
        return None

    def keras_script(self, run: SavedRun) -> str:
        """``export --format script``: a standalone plain-Keras script that retrains the run (its source)."""
        from deepwise.kinds.script import unsupported

        raise unsupported(run, f"a run on {self.title} ({run.metrics.get('task', '?')})")


ROWS_INPUT = """It takes *preprocessed* arrays: {inputs}.
- `preprocessing.json`: how raw rows become those arrays (column order, medians, means and standard deviations,
  category vocabularies). Apply it with `deepwise.prepare.tabular.TabularPreprocessor.load("preprocessing.json")
  .transform(rows)`, or reimplement it from the JSON."""
