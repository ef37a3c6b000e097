"""Steps 3-6: prepare the data, build and train the network, evaluate it once on the test split, save the run.

Example:
    >>> run = train("examples/penguins/penguins.csv", target="species")
    >>> run.metrics["test"]["accuracy"]
    0.98...
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from deepwise.backend import keras_module
from deepwise.config import Config, DataConfig, ProblemConfig, config_from_dict, dump_config, load_config
from deepwise.data.images import ImageSet, fingerprint_source, is_image_source
from deepwise.data.inspect import inspect, inspect_images
from deepwise.data.series import season_length
from deepwise.data.stream import TableSource, is_streamable, may_be_too_big, parquet_folder_files
from deepwise.data.tables import fingerprint, is_table_path
from deepwise.errors import ConfigError, DataError, RunError
from deepwise.evaluate import fit_baselines, grouped_permutation_importance, permutation_importance, score, verdict
from deepwise.formulate import Problem, formulate
from deepwise.guard import OODGuard
from deepwise.models.cnn import (
    build_cnn,
    build_from_run,
    build_pretrained,
    confidence,
    describe_image_model,
    embedding_model,
    unfreeze_top,
)
from deepwise.models.inference import predict_rows
from deepwise.models.init import host_initializers
from deepwise.models.mlp import build_mlp, describe_model
from deepwise.models.sequence import build_sequence_model
from deepwise.monitor import end_run, log_final, monitoring_callbacks, require_packages
from deepwise.prepare.images import ImagePreprocessor, image_batches_class
from deepwise.prepare.series import SeriesPreprocessor
from deepwise.prepare.split import split_indices
from deepwise.prepare.stream import FlatRows, StreamedTable, disk_batches_class, stream_table
from deepwise.prepare.tabular import FEATURES, TabularPreprocessor
from deepwise.runs import (
    CHECKPOINTS,
    CONFIG,
    FINDINGS,
    GUARD,
    HISTORY,
    MANIFEST,
    METRICS,
    MODEL,
    PREPROCESSING,
    STATUS_COMPLETE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    Timer,
    atomic_write_bytes,
    atomic_write_text,
    create_run_dir,
    environment,
    hold_run_lock,
    read_json,
    release_run_lock,
    remove_stale_temp_files,
    save_model,
    utc_now,
    write_json,
)
from deepwise.tasks import TASKS, TaskSpec

CHECKPOINT_FILE = "state.npz"


# --------------------------------------------------------------------------------------------------- data for a run


@dataclass
class PreparedData:
    """Everything the network, the baselines and the evaluation share: one split, one fitted preprocessing."""

    problem: Problem
    task: TaskSpec
    prep: TabularPreprocessor | SeriesPreprocessor
    splits: dict[str, np.ndarray]  # row positions (tables) or sample positions (series) of each split
    x: dict[str, dict[str, np.ndarray]]
    y: dict[str, np.ndarray]
    fingerprint: str
    rows: dict[str, np.ndarray] | None = None  # series: the rows (time steps) of each period
    target_rows: np.ndarray | None = None  # series: the row whose target each sample forecasts
    images: ImageSet | None = None  # images: where the pixels come from (streamed when x is None)
    stream: StreamedTable | None = None  # tables too big for memory: arrays on disk and a sample of raw rows

    @property
    def kind(self) -> str:
        """table | forecasting | image_classification"""
        if self.images is not None:
            return "image_classification"
        return "forecasting" if self.forecasting else "table"

    @property
    def streaming(self) -> bool:
        return self.images is not None and self.x["train"] is None

    def _batches(self, split: str, batch_size: int, labels: bool, shuffle: bool = False):
        cls = image_batches_class()
        y = self.y[split] if labels else None
        return cls(self.images, self.splits[split], self.prep, batch_size, y, shuffle=shuffle, seed=self.config.seed)

    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        """model.fit on the training split, validated on the validation split (arrays or streamed batches)."""
        batch_size = self.config.training.batch_size
        common = dict(epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=0)
        if self.stream is not None:  # a table on disk: shuffled batches read a few windows at a time
            batches = disk_batches_class()
            model.fit(
                batches(self.x["train"], self.y["train"], batch_size, shuffle=True, seed=self.config.seed),
                validation_data=batches(self.x["validation"], self.y["validation"], 1024),
                shuffle=False,  # the batches shuffle themselves; Keras' random batch order would defeat the read-ahead
                **common,
            )
            return
        if self.streaming:
            model.fit(
                self._batches("train", batch_size, labels=True, shuffle=True),
                validation_data=self._batches("validation", 256, labels=True),
                **common,
            )
            return
        x, y = model_input(self.x["train"]), self.y["train"]
        if self.config.training.distribution == "data_parallel":
            from deepwise import distributed

            x, y = distributed.shard(x, y)  # this process's rows; equal steps in every process
            batch_size = distributed.per_process_batch(batch_size)
        model.fit(
            x,
            y,
            validation_data=(model_input(self.x["validation"]), self.y["validation"]),
            batch_size=batch_size,
            shuffle=True,
            **common,
        )

    def predict(self, model, split: str) -> np.ndarray:
        if self.stream is not None:
            return np.asarray(model.predict(disk_batches_class()(self.x[split], None, 1024), verbose=0))
        if self.streaming:
            return np.asarray(model.predict(self._batches(split, 256, labels=False), verbose=0))
        return predict_rows(model, model_input(self.x[split]))

    def probe_batch(self, batch_size: int):
        if self.streaming:
            return self._batches("train", batch_size, labels=True)[0]
        x = self.x["train"]
        return (x[FEATURES] if list(x) == [FEATURES] else x), self.y["train"]

    @property
    def config(self) -> Config:
        return self.problem.config

    @property
    def forecasting(self) -> bool:
        return self.rows is not None

    @property
    def n_classes(self) -> int:
        return len(self.prep.classes_) if self.task.is_classification else 1

    @property
    def tabular(self) -> TabularPreprocessor:
        """The per-row preprocessing (the whole of it for tables)."""
        return self.prep.tabular if self.forecasting else self.prep

    @property
    def n_rows(self) -> int:
        """Rows of the data file (tables and series) or images."""
        return self.stream.n_rows if self.stream is not None else len(self.problem.frame)

    def frame(self, split: str) -> pd.DataFrame:
        """Raw rows of a split (for series: the rows of its period; for a streamed table: its rows in the sample)."""
        if self.stream is not None:
            return self.stream.rows(split)
        positions = self.rows[split] if self.forecasting else self.splits[split]
        return self.problem.frame.iloc[positions]

    def flat(self, split: str) -> np.ndarray:
        """One float matrix per sample, the input of the scikit-learn baselines."""
        if self.images is not None:  # downsampled grayscale pixels
            side = min(16, *self.prep.image_size)
            return self.images.load(self.splits[split], (side, side), 1).reshape(len(self.splits[split]), -1) / 255.0
        if self.forecasting:
            x = self.x[split][FEATURES]
            return x.reshape(len(x), -1)
        if self.stream is not None:  # every row of the split, read from disk a slice at a time by its user
            return FlatRows(self.prep, self.x[split])
        return self.prep.transform_flat(self.frame(split))

    def sample_xy(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(flat inputs, targets)`` the baselines fit on: the whole split, or for a streamed table the split's
        rows in the uniform sample (scikit-learn's models need their rows in memory)."""
        if self.stream is None:
            return self.flat(split), self.y[split]
        rows = self.frame(split)
        return self.prep.transform_flat(rows), self.prep.transform_target(rows[self.config.problem.target])

    def importance_rows(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Raw test rows and their targets for permutation importance (a streamed table: its sampled test rows)."""
        if self.stream is None:
            return self.frame("test"), self.y["test"]
        rows = self.frame("test")
        return rows, self.prep.transform_target(rows[self.config.problem.target])

    def naive_outputs(self, split: str) -> dict[str, np.ndarray]:
        """Series only: persistence and seasonal persistence forecasts, in the model's output format."""
        if not self.forecasting:
            return {}
        cfg = self.config
        y_rows = self.prep.transform_target(self.problem.frame[cfg.problem.target])
        target_rows = self.target_rows[self.splits[split]]
        last = target_rows - cfg.problem.horizon
        outputs = {"persistence": self._as_output(y_rows[last])}
        season = self.season_length
        if season:
            rows = np.where(target_rows - season >= 0, target_rows - season, last)
            outputs["seasonal_persistence"] = self._as_output(y_rows[rows])
        return outputs

    @property
    def season_length(self) -> int | None:
        cfg = self.config
        if cfg.data.season_length:
            return cfg.data.season_length
        y_train = self.problem.frame[cfg.problem.target].iloc[self.rows["train"]]
        values = y_train.to_numpy(dtype=float) if self.task.name == "regression" else self.y["train"]
        return season_length(self.problem.time.iloc[self.rows["train"]], values)

    def _as_output(self, values: np.ndarray) -> np.ndarray:
        if self.task.name == "regression":
            return values.astype(np.float64)
        if self.task.name == "binary":
            return values.astype(np.float64)
        return np.eye(self.n_classes)[values.astype(int)]


def model_input(arrays: dict[str, np.ndarray]):
    """Keras input for the arrays of :meth:`TabularPreprocessor.transform` (a bare array when there is one)."""
    return arrays[FEATURES] if list(arrays) == [FEATURES] else arrays


def resolve_config(config: str | Path | Config | dict, target: str | None = None) -> Config:
    """A Config from a YAML path, a data path (with ``target``), a dict, or a Config."""
    if isinstance(config, Config):
        return config.model_copy(deep=True)
    if isinstance(config, dict):
        return config_from_dict(config, "(dict)")
    path = Path(config)
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    if target and is_yaml:
        raise ConfigError(
            "--target is only for data files; a config names its target in problem.target.",
            fix="drop --target, or edit problem.target in the config.",
        )
    if (path.is_dir() and is_image_source(path)) or path.suffix.lower() == ".npy":
        return Config(problem=ProblemConfig(target=target or "label"), data=DataConfig(path=str(path.resolve())))
    if target or is_table_path(path) or parquet_folder_files(path):
        if not target:
            raise ConfigError(
                f"'{path}' is a data file, so the target column is needed.",
                expected="deepwise train DATA --target COLUMN, or deepwise train CONFIG.yaml",
                fix=f"add --target COLUMN, or write a config with `deepwise init {path} --target COLUMN`.",
            )
        return Config(problem=ProblemConfig(target=target), data=DataConfig(path=str(path.resolve())))
    return load_config(path)


def prepare(config: Config) -> PreparedData:
    """Read, resolve, split and preprocess (fitted on the training split only).

    A table too big for memory (or any table with ``data.in_memory: false``) is streamed: see
    :mod:`deepwise.prepare.stream`.
    """
    source = _streamed_source(config)
    if source is not None:
        data = _prepare_streamed(config, source)
    else:
        problem = formulate(config)
        if problem.forecasting:
            data = _prepare_series(problem)
        elif problem.images is not None:
            data = _prepare_images(problem)
        else:
            data = _prepare_table(problem)
    resolve_training(data.config.training, len(data.y["train"]), images=data.images is not None)
    return data


#: early stopping's automatic patience: the epochs that make about this many training steps (within 5-20 epochs).
#: Measured (MNIST 5k CNN): the best epoch came 10-27 epochs in; waiting 20 more epochs at 100-200 steps each cost
#: a third of the training time and changed nothing, while tiny sets (5-10 steps an epoch) need the 20.
PATIENCE_STEPS = 1000
#: images train at batch 16 by default: on a CPU the CNN's step costs less per image at 16 than at 32 and far less
#: than at 64 (MNIST CNN: 5,850 / 5,260 / 3,180 images/s; bench/cnn_batch_size.py).
IMAGE_BATCH_SIZE = 16


def resolve_training(training, n_train: int, images: bool) -> None:
    """Fill in the automatic training settings (``batch_size``, ``early_stopping.patience``) in place."""
    if training.batch_size is None:
        training.batch_size = IMAGE_BATCH_SIZE if images else 32
    if training.early_stopping.patience is None:
        steps = max(1, math.ceil(n_train / training.batch_size))
        training.early_stopping.patience = int(min(20, max(5, round(PATIENCE_STEPS / steps))))


def _prepare_table(problem: Problem) -> PreparedData:
    cfg = problem.config
    cfg.data.in_memory = True  # resolved: a resume or re-evaluation rebuilds this split, not a streamed one
    task = TASKS[cfg.problem.task]
    df = problem.frame
    target = df[cfg.problem.target]
    splits = _merged(
        split_indices(
            target, task.name, cfg.data.split.validation, cfg.data.split.test, cfg.seed, cfg.data.split.stratify
        ),
        cfg,
    )
    inputs = cfg.data.inputs or []
    categorical = cfg.data.categorical or []
    prep = TabularPreprocessor(
        numeric=[c for c in inputs if c not in categorical],
        categorical=categorical,
        target=cfg.problem.target,
        task=task.name,
        encoding=cfg.model.categorical_encoding,
    ).fit(df.iloc[splits["train"]])
    x = {name: prep.transform(df.iloc[idx]) for name, idx in splits.items()}
    y = {name: prep.transform_target(target.iloc[idx]) for name, idx in splits.items()}
    return PreparedData(problem, task, prep, splits, x, y, fingerprint(cfg.data.path))


def _streamed_source(config: Config) -> TableSource | None:
    """The table to stream, or None to load it whole: ``data.in_memory`` decides (null: stream when the whole
    table would take more than about 768 MB or a quarter of the free memory: see deepwise.data.stream)."""
    cfg = config
    if cfg.data.in_memory is True or cfg.problem.task == "forecasting" or cfg.data.image_column is not None:
        return None
    path = Path(cfg.data.path)
    if not is_streamable(path) or (cfg.data.in_memory is None and not may_be_too_big(path)):
        return None
    source = TableSource.open(path, cfg.data.na_values)
    if cfg.data.in_memory is False or source.too_big_for_memory():
        return source
    return None


def _prepare_streamed(config: Config, source: TableSource) -> PreparedData:
    from deepwise.formulate import check_activation, resolve

    cfg = config.model_copy(deep=True)
    check_activation(cfg)
    problem, prep, streamed = stream_table(cfg, source, resolve)
    problem.config.data.in_memory = False  # resolved: a resume or re-evaluation streams (and splits) the same way
    task = TASKS[problem.config.problem.task]
    splits = {name: range(len(streamed.y[name])) for name in streamed.y}
    return PreparedData(problem, task, prep, splits, streamed.x, streamed.y, fingerprint(source.path), stream=streamed)


def _merged(splits: dict[str, np.ndarray], cfg: Config) -> dict[str, np.ndarray]:
    """With ``data.split.train_on_validation`` (a final refit) the training rows include the validation rows."""
    if cfg.data.split.train_on_validation:
        splits = dict(splits, train=np.sort(np.concatenate([splits["train"], splits["validation"]])))
    return splits


def _prepare_images(problem: Problem) -> PreparedData:
    """Stratified split of the images; pixels decoded into memory when they fit, else streamed per batch."""
    cfg = problem.config
    task = TASKS[cfg.problem.task]
    images = problem.images
    labels = pd.Series([str(v) for v in images.labels], name=cfg.problem.target)
    splits = _merged(
        split_indices(
            labels, task.name, cfg.data.split.validation, cfg.data.split.test, cfg.seed, cfg.data.split.stratify
        ),
        cfg,
    )
    prep = ImagePreprocessor(cfg.data.image_size, cfg.data.channels, task.name, cfg.problem.target)
    prep.fit([images.labels[i] for i in splits["train"]])
    y = {name: prep.transform_target([images.labels[i] for i in idx]) for name, idx in splits.items()}
    in_memory = cfg.data.in_memory if cfg.data.in_memory is not None else prep.fits_in_memory(len(images))
    if in_memory:
        x = {name: {FEATURES: prep.load(images, idx)} for name, idx in splits.items()}
    else:
        x = {name: None for name in splits}
    return PreparedData(problem, task, prep, splits, x, y, fingerprint_source(images), images=images)


def _prepare_series(problem: Problem) -> PreparedData:
    """Chronological split by rows; preprocessing fitted on the training period; windows as views."""
    cfg = problem.config
    p = cfg.problem
    task = TASKS[p.output]
    df, time = problem.frame, problem.time
    n = len(df)
    n_test = int(np.ceil(cfg.data.split.test * n))
    n_val = int(np.ceil(cfg.data.split.validation * n))
    n_train = n - n_val - n_test
    needed = p.window + p.horizon + 10
    if n_train < needed or min(n_val, n_test) < 2:
        raise DataError(
            f"The series has {n} time steps: too few for a window of {p.window}, a horizon of {p.horizon} and a "
            f"chronological split (training would get {n_train} steps).",
            expected=f"at least {needed} training steps plus validation and test periods (far more to learn well)",
            fix="use a longer series, or a shorter problem.window / problem.horizon.",
        )
    fit_rows = n_train + n_val if cfg.data.split.train_on_validation else n_train
    rows = {
        "train": np.arange(0, fit_rows),
        "validation": np.arange(n_train, n_train + n_val),
        "test": np.arange(n_train + n_val, n),
    }
    inputs = cfg.data.inputs or []
    categorical = cfg.data.categorical or []
    prep = SeriesPreprocessor(
        numeric=[c for c in inputs if c not in categorical],
        categorical=categorical,
        target=p.target,
        output=task.name,
        window=p.window,
        horizon=p.horizon,
        time_column=cfg.data.time_column,
        calendar=cfg.data.calendar_features,
    ).fit(df.iloc[:fit_rows], time.iloc[:fit_rows])
    x_all, y_all, target_rows = prep.samples(df, time)
    bounds = np.searchsorted(target_rows, [n_train, n_train + n_val])
    train_end = bounds[1] if cfg.data.split.train_on_validation else bounds[0]
    ranges = {"train": (0, train_end), "validation": (bounds[0], bounds[1]), "test": (bounds[1], len(target_rows))}
    splits = {name: np.arange(a, b) for name, (a, b) in ranges.items()}
    x = {name: {FEATURES: x_all[a:b]} for name, (a, b) in ranges.items()}  # contiguous slices: still views
    y = {name: y_all[a:b] for name, (a, b) in ranges.items()}
    return PreparedData(problem, task, prep, splits, x, y, fingerprint(cfg.data.path), rows, target_rows)


# ----------------------------------------------------------------------------------------------------- the network


def build_model(data: PreparedData):
    """Build and compile the network for the prepared data."""
    keras = keras_module()
    cfg = data.config
    keras.utils.set_random_seed(cfg.seed)
    with host_initializers(cfg.seed):  # initial weights from NumPy: building compiles nothing (models/init.py)
        model = _network(data)
    optimizers = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    model.compile(
        optimizer=optimizers[cfg.training.optimizer](learning_rate=cfg.training.learning_rate),
        loss=data.task.loss,
        metrics=list(data.task.keras_metrics),
        steps_per_execution=steps_per_execution(cfg),
    )
    return model


def _network(data: PreparedData):
    """The uncompiled network of the run's model type."""
    cfg = data.config
    if data.images is not None:
        specs = data.prep.input_specs()
        args = (data.task, data.n_classes, cfg.model, cfg.data.augmentation, cfg.seed)
        if cfg.model.from_run:
            from deepwise.predict import load_run

            return build_from_run(load_run(cfg.model.from_run).model, *args)
        if cfg.model.type == "pretrained":
            return build_pretrained(specs, *args)
        return build_cnn(specs, *args)
    if data.forecasting:
        return build_sequence_model(
            data.prep.input_specs(), data.task, data.n_classes, cfg.model, target_stats=data.prep.target_stats_
        )
    return build_mlp(
        data.prep.input_specs(), data.task, data.n_classes, cfg.model, target_stats=data.prep.target_stats_
    )


#: training steps per call into Keras' step loop: Keras' per-call Python work (state sync, callbacks) is paid once per
#: 16 batches instead of every batch. Measured: 1.6x faster epochs for a 64-32 MLP at batch 32, 1.2x for 1024-512
#: (bench/flops.py explains where the time goes). No extra compilation: the same jitted step runs 16 times.
STEPS_PER_EXECUTION = 16


def steps_per_execution(cfg: Config) -> int:
    """:data:`STEPS_PER_EXECUTION`, or 1 for data-parallel training (its steps are kept in lockstep per batch)."""
    return 1 if cfg.training.distribution == "data_parallel" else STEPS_PER_EXECUTION


def probe_step_time(model, x, y, batch_size: int, steps: int = 3) -> tuple[float, float]:
    """Time a few real training steps, then put weights and optimizer state back as they were.

    Returns (seconds for the first step, which includes compilation; seconds per later step). The probe runs
    through ``model.fit`` so that the compiled step is the one fit reuses: it costs a few steps of training time.
    """
    model.optimizer.build(model.trainable_variables)
    weights = model.get_weights()
    opt_state = [np.array(v.numpy()) for v in model.optimizer.variables]
    batch = min(batch_size, len(y))

    def take(n: int):
        def rows(a):
            return np.concatenate([a[:batch]] * n)

        return ({k: rows(v) for k, v in x.items()} if isinstance(x, dict) else rows(x)), rows(y)

    xb, yb = take(1)
    start = time.perf_counter()
    model.fit(xb, yb, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    first = time.perf_counter() - start
    xs, ys = take(steps)
    start = time.perf_counter()
    model.fit(xs, ys, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    per_step = (time.perf_counter() - start) / steps
    model.set_weights(weights)
    for var, value in zip(model.optimizer.variables, opt_state, strict=True):
        var.assign(value)
    model.reset_metrics()
    return first, per_step


def _callbacks_module():
    keras = keras_module()

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """Keras' EarlyStopping whose state can be carried across an interruption."""

        def __init__(self, resume_state: dict[str, Any] | None = None, **kwargs):
            super().__init__(**kwargs)
            self.resume_state = resume_state
            # Keras sets these in on_train_begin only; a resume with nothing left to fit reads them all the same
            self.best, self.best_epoch = None, 0
            self._apply_resume_state()

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self._apply_resume_state()

        def _apply_resume_state(self) -> None:
            if self.resume_state:
                self.wait = self.resume_state["wait"]
                self.best = self.resume_state["best"]
                self.best_epoch = self.resume_state["best_epoch"]
                self.best_weights = self.resume_state.get("best_weights")

        def state(self) -> dict[str, Any]:
            return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch}

        def carry_over(self, weights: list) -> None:
            """The next fit (fine-tuning) has to beat this fit's best epoch, whose weights are ``weights``."""
            self.resume_state = {**self.state(), "wait": 0, "best_weights": weights}

    class RunRecorder(keras.callbacks.Callback):
        """Records history rows, prints progress and writes checkpoints for ``--resume``."""

        def __init__(self, run_dir: Path, epochs: int, every_s: float, history: list[dict], console, stopper):
            super().__init__()
            self.run_dir = run_dir
            self.epochs = epochs
            self.every_s = every_s
            self.rows = history
            self.console = console
            self.stopper = stopper
            self.fine_tune_from: int | None = None  # the epoch after which fine-tuning started
            self.last_save = time.monotonic()
            self.epoch_start = 0.0
            self.progress = None
            self.task_id = None

        def on_train_begin(self, logs=None):
            if self.console is not None:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                )

                self.progress = Progress(
                    TextColumn("[bold]epoch"),
                    MofNCompleteColumn(),
                    BarColumn(),
                    TimeElapsedColumn(),
                    TextColumn("{task.description}"),
                    console=self.console,
                    transient=False,
                )
                self.progress.start()
                self.task_id = self.progress.add_task("", total=self.epochs, completed=len(self.rows))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
            row["seconds"] = round(time.perf_counter() - self.epoch_start, 4)
            self.rows.append(row)
            if self.progress is not None:
                shown = " ".join(
                    f"{k} {v:.4g}" for k, v in row.items() if k in ("loss", "val_loss") or k.startswith("val_")
                )
                self.progress.update(self.task_id, completed=epoch + 1, description=shown)
            if self.every_s == 0 or time.monotonic() - self.last_save >= self.every_s:
                self.save(epoch + 1)

        def on_train_end(self, logs=None):
            self.close()

        def close(self):
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

        def save(self, epochs_done: int, fit_done: bool = False) -> None:
            save_checkpoint(
                self.run_dir, self.model, epochs_done, self.rows, self.stopper, fit_done, self.fine_tune_from
            )
            self.last_save = time.monotonic()

    return ResumableEarlyStopping, RunRecorder


def save_checkpoint(
    run_dir: Path, model, epochs_done: int, rows: list[dict], stopper, fit_done: bool = False, fine_tune_from=None
) -> None:
    """One atomic file with weights, optimizer state, early-stopping state and history."""
    arrays: dict[str, np.ndarray] = {}
    for i, w in enumerate(model.get_weights()):
        arrays[f"w{i}"] = np.asarray(w)
    for i, v in enumerate(model.optimizer.variables):
        arrays[f"opt{i}"] = np.asarray(v.numpy())
    meta: dict[str, Any] = {"epochs_done": epochs_done, "history": rows, "saved_at": utc_now(), "fit_done": fit_done}
    if fine_tune_from is not None:
        meta["fine_tune_from"] = fine_tune_from
    if stopper is not None:
        meta["early_stopping"] = stopper.state()
        for i, w in enumerate(stopper.best_weights or []):
            arrays[f"best{i}"] = np.asarray(w)
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=True))
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(run_dir / CHECKPOINTS / CHECKPOINT_FILE, buffer.getvalue())


def load_checkpoint(run_dir: Path) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    path = run_dir / CHECKPOINTS / CHECKPOINT_FILE
    if not path.is_file():
        raise RunError(
            f"The run '{run_dir}' has no checkpoint to resume from (it stopped before the first one was saved).",
            expected=f"{CHECKPOINTS}/{CHECKPOINT_FILE} in the run directory",
            fix="start a new run with `deepwise train` (nothing was learned worth keeping).",
        )
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))

        def group(prefix: str) -> list[np.ndarray]:
            keys = sorted(
                (k for k in z.files if k.startswith(prefix) and k[len(prefix) :].isdigit()),
                key=lambda k: int(k[len(prefix) :]),
            )
            return [z[k] for k in keys]

        return meta, {"weights": group("w"), "optimizer": group("opt"), "best": group("best")}


# ------------------------------------------------------------------------------------------------------- training


def _console(verbose: bool, console: Console | None) -> Console | None:
    if not verbose:
        return None
    return console or Console()


def train(
    config: str | Path | Config | dict,
    *,
    target: str | None = None,
    runs_dir: str | Path = "runs",
    run_dir: str | Path | None = None,
    verbose: bool = True,
    console: Console | None = None,
    force: bool = False,
    callbacks: list | None = None,
):
    """Train a network on the config (or a data file with ``target``) and return the complete :class:`Run`.

    The data checks of :func:`deepwise.inspect` run first; a "problem" finding (e.g. target leakage) stops
    training unless ``force=True``. ``callbacks``: extra Keras callbacks (e.g. a tuner's pruning callback).

    Example:
        >>> run = deepwise.train("deepwise.yaml")
        >>> run.metrics["test"]
    """
    out = _console(verbose, console)
    timer = Timer()
    started = utc_now()
    cfg = resolve_config(config, target)
    require_packages(cfg.training.tensorboard, cfg.training.mlflow)
    if cfg.data.split.train_on_validation and cfg.training.early_stopping.enabled:
        raise ConfigError(
            "data.split.train_on_validation trains on the validation rows, so they cannot also decide when to stop "
            "(early stopping is enabled).",
            expected="training.early_stopping.enabled: false and a fixed training.epochs (e.g. the best epoch of an "
            "earlier run with the same config)",
            fix="set training.early_stopping.enabled: false and training.epochs, or drop train_on_validation "
            "(`deepwise tune --refit` writes such a config for you).",
        )
    if cfg.training.distribution == "data_parallel":
        from deepwise import distributed

        distributed.initialize()  # DEEPWISE_COORDINATOR / _NUM_PROCESSES / _PROCESS_ID; before any JAX work
        distributed.data_parallel()  # the model is built replicated on every device of every process
        if not distributed.is_main_process():  # process 0 writes the run; the others a throw-away copy
            out, run_dir = None, distributed.scratch_run_dir()
    with timer("prepare"):
        data = prepare(cfg)
    cfg = data.config
    with timer("inspect"):
        findings = (
            inspect_images(data.images, cfg.problem.target, cfg.seed)
            if data.images is not None
            else inspect(
                data.problem.frame[_inspected_columns(data)],
                target=cfg.problem.target,
                task=data.task.name,
                hidden_units=cfg.model.hidden_units,
                seed=cfg.seed,
                time_column=cfg.data.time_column if data.forecasting else None,
                horizon=cfg.problem.horizon,
            )
        )
    if findings.problems and not force:
        listed = "\n".join(f"- {f.code}: {f.message} Suggested: {f.action}" for f in findings.problems)
        raise DataError(
            f"The data checks found {len(findings.problems)} problem(s) that would make the results misleading:\n"
            + listed,
            expected="data without problem findings (see `deepwise inspect DATA --target COL`)",
            fix="fix the data or the config as suggested, or pass --force to train anyway (the findings are "
            "recorded in the run).",
        )
    if out:
        out.print(f"[bold]deepwise[/] · {Path(cfg.data.path).name} · target [bold]{cfg.problem.target}[/]")
        for line in data.problem.explain():
            out.print(f"  {line}")
        out.print(
            f"  Split (seed {cfg.seed}): {len(data.splits['train'])} train · {len(data.splits['validation'])} "
            f"validation · {len(data.splits['test'])} test rows; preprocessing fitted on the training rows only."
        )
    name = cfg.name or Path(cfg.data.path).stem
    path = create_run_dir(runs_dir, name, run_dir)
    (path / CHECKPOINTS).mkdir()
    manifest = {
        "status": STATUS_RUNNING,
        "created": started,
        "seed": cfg.seed,
        "task": data.task.name,
        "data": {
            "path": cfg.data.path,
            "fingerprint": f"sha256:{data.fingerprint}",
            "rows": int(data.n_rows),
            **({"streamed": True} if data.stream is not None else {}),
            "split": {k: int(len(v)) for k, v in data.splits.items()},
        },
        **environment(),
    }
    write_json(path / MANIFEST, manifest)
    atomic_write_text(path / CONFIG, dump_config(cfg, header="Resolved config of this run (every default)."))
    atomic_write_text(path / PREPROCESSING, data.prep.to_json())
    atomic_write_text(path / FINDINGS, findings.to_json())
    if out:
        _print_findings(out, findings)
    return _fit_and_finish(path, data, manifest, timer, out, history=[], resume=None, extra_callbacks=callbacks)


def resume(run_dir: str | Path, *, verbose: bool = True, console: Console | None = None):
    """Continue an interrupted run from its last checkpoint and return the complete :class:`Run`."""
    out = _console(verbose, console)
    path = Path(run_dir)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file() or not (path / CONFIG).is_file():
        raise RunError(
            f"'{path}' is not a deepwise run that can be resumed (no {MANIFEST} or {CONFIG}).",
            expected="a run directory written by `deepwise train`",
            fix="pass the run directory printed when training started.",
        )
    release_run_lock(hold_run_lock(path))  # fail fast if another process is training this run right now
    manifest = read_json(manifest_path)
    if manifest.get("status") == STATUS_COMPLETE:
        raise RunError(
            f"The run '{path}' is already complete; there is nothing to resume.",
            fix="train a new run, or use this one with `deepwise predict` / `deepwise evaluate`.",
        )
    cfg = load_config(path / CONFIG)
    meta, saved = load_checkpoint(path)
    timer = Timer()
    with timer("prepare"):
        data = prepare(cfg)
    if f"sha256:{data.fingerprint}" != manifest["data"]["fingerprint"]:
        raise RunError(
            f"The data file '{cfg.data.path}' changed since the run started (its fingerprint differs).",
            expected="the same data the run was trained on",
            fix="restore the original file, or start a new run.",
        )
    if out:
        out.print(f"Resuming '{path}' after epoch {meta['epochs_done']} of {cfg.training.epochs}.")
    manifest["status"] = STATUS_RUNNING
    manifest.setdefault("resumed", []).append(utc_now())
    write_json(manifest_path, manifest)
    return _fit_and_finish(path, data, manifest, timer, out, history=list(meta["history"]), resume=(meta, saved))


def _fit_and_finish(
    path: Path, data: PreparedData, manifest: dict, timer: Timer, out, history, resume, extra_callbacks=None
):
    lock = hold_run_lock(path)
    if resume is not None:
        remove_stale_temp_files(path)  # under the lock: no live process can be writing them
    try:
        return _fit_and_finish_locked(path, data, manifest, timer, out, history, resume, extra_callbacks)
    finally:
        release_run_lock(lock)


def _fit_and_finish_locked(
    path: Path, data: PreparedData, manifest: dict, timer: Timer, out, history, resume, extra_callbacks=None
):
    cfg = data.config
    tcfg = cfg.training
    with timer("build"):
        model = build_model(data)
    initial_epoch = 0
    es_state = None
    fit_done = False
    fine_tune_from = None
    if resume is not None:
        meta, saved = resume
        fine_tune_from = meta.get("fine_tune_from")
        if fine_tune_from is not None:  # stopped while fine-tuning: the same layers unfrozen, the same optimizer
            _start_fine_tune(model, data)
        model.set_weights(saved["weights"])
        initial_epoch = int(meta["epochs_done"])
        fit_done = bool(meta.get("fit_done"))  # training had finished; writing the run had not
        if not fit_done:
            model.optimizer.build(model.trainable_variables)
            for var, value in zip(model.optimizer.variables, saved["optimizer"], strict=True):
                var.assign(value)
        if "early_stopping" in meta:
            es_state = dict(meta["early_stopping"], best_weights=saved["best"] or None)
    steps_per_epoch = math.ceil(len(data.y["train"]) / tcfg.batch_size)
    if out:
        out.print(f"  Model: {_describe(model, data)}")
    with timer("probe"):
        compile_s, step_s = probe_step_time(model, *data.probe_batch(tcfg.batch_size), tcfg.batch_size)
    if out:
        epoch_s = step_s * steps_per_epoch * 1.15  # plus the validation pass
        remaining = tcfg.epochs - initial_epoch
        out.print(
            f"  Parameters: {model.count_params():,} · probe: {step_s * 1000:.1f} ms per step, "
            f"≈ {epoch_s:.2f} s per epoch of {steps_per_epoch} steps, at most ≈ {epoch_s * remaining:.0f} s for "
            f"{remaining} epochs (plus {compile_s:.1f} s compilation, done)."
        )
    early_stopping_cls, recorder_cls = _callbacks_module()
    stopper = None
    callbacks = []
    if tcfg.early_stopping.enabled:
        stopper = early_stopping_cls(
            resume_state=es_state,
            monitor="val_loss",
            patience=tcfg.early_stopping.patience,
            min_delta=tcfg.early_stopping.min_delta,
            restore_best_weights=True,
        )
        callbacks.append(stopper)
    recorder = recorder_cls(path, tcfg.epochs, tcfg.checkpoint_every_s, history, out, stopper)
    recorder.set_model(model)  # fit sets it too; a resume with nothing left to fit saves through it all the same
    callbacks.append(recorder)
    callbacks.extend(monitoring_callbacks(path, cfg, tcfg.tensorboard, tcfg.mlflow))
    callbacks.extend(extra_callbacks or [])
    try:
        with timer("fit"):
            if fit_done:
                if out:
                    out.print("  Training had finished; writing the run (evaluation, baselines, model).")
            elif fine_tune_from is not None:
                recorder.fine_tune_from = fine_tune_from
                if out:
                    out.print(f"  Continuing the fine-tuning phase (it started after epoch {fine_tune_from}).")
                data.fit(model, callbacks, fine_tune_from + cfg.model.fine_tune_epochs, initial_epoch)
            elif initial_epoch < tcfg.epochs:
                data.fit(model, callbacks, tcfg.epochs, initial_epoch)
            elif stopper is not None and stopper.resume_state and stopper.resume_state.get("best_weights"):
                model.set_weights(stopper.resume_state["best_weights"])
            fine_tune = data.images is not None and cfg.model.fine_tune_layers and cfg.model.fine_tune_epochs
            if fine_tune and not fit_done and fine_tune_from is None:
                _fine_tune(model, data, callbacks, history, out, recorder)
    except KeyboardInterrupt:
        recorder.close()
        try:
            recorder.save(len(history))
        except (RuntimeError, TypeError, ValueError):
            # Ctrl-C landed inside a JAX step: its buffers were donated (RuntimeError), or Keras had detached the
            # variables' values for the loop and not put them back (a value of None: TypeError). The weights are
            # unreadable now; the checkpoint is written whole or not at all, so the last one on disk (written at
            # an epoch end) is what --resume continues from.
            pass
        manifest["status"] = STATUS_INTERRUPTED
        manifest["timings"] = timer.timings
        write_json(path / MANIFEST, manifest)
        end_run(path, "KILLED")  # the MLflow run (if any) would otherwise stay RUNNING
        raise
    except Exception:
        recorder.close()
        manifest["status"] = STATUS_FAILED
        write_json(path / MANIFEST, manifest)
        end_run(path, "FAILED")
        raise
    if not fit_done:
        recorder.save(len(history), fit_done=True)  # a crash while writing the run resumes here, without training
    try:
        tuned_from = recorder.fine_tune_from if recorder.fine_tune_from is not None else fine_tune_from
        return _finish(path, data, model, manifest, timer, out, history, stopper, tuned_from)
    except KeyboardInterrupt:
        _mark(path, manifest, STATUS_INTERRUPTED, timer)
        end_run(path, "KILLED")
        raise
    except OSError as err:
        _mark(path, manifest, STATUS_FAILED, timer)
        end_run(path, "FAILED")
        where = err.filename or path
        raise RunError(
            f"Training finished, but writing the run failed at '{where}': {err.strerror or err}.",
            expected="a writable run folder with free disk space",
            fix=f"free disk space or fix the folder's permissions, then `deepwise train --resume {path}` writes "
            "the run without training again.",
        ) from None
    except Exception:
        _mark(path, manifest, STATUS_FAILED, timer)
        end_run(path, "FAILED")
        raise


def _mark(path: Path, manifest: dict, status: str, timer: Timer) -> None:
    """Record a run that did not finish; best effort (the disk may be what failed)."""
    if manifest.get("status") == STATUS_COMPLETE:
        return  # everything was written; what failed came after (printing the summary)
    manifest.update(status=status, timings=timer.timings)
    try:
        write_json(path / MANIFEST, manifest)
    except OSError:
        pass


def _finish(
    path: Path, data: PreparedData, model, manifest: dict, timer: Timer, out, history, stopper, fine_tune_from=None
):
    """After training: evaluate, compare with baselines, fit the guard, write the run (manifest complete last)."""
    cfg = data.config
    tcfg = cfg.training
    if tcfg.distribution == "data_parallel":  # predict cannot read arrays spread over processes: evaluate a copy
        from deepwise import distributed

        model = distributed.local_copy(model, lambda: build_model(data))
    best_epoch = (stopper.best_epoch + 1) if stopper is not None else len(history)
    if out:
        stopped = len(history) < tcfg.epochs
        out.print(
            f"  Trained {len(history)} epoch(s)"
            + (" (early stopping: validation loss stopped improving)" if stopped else "")
            + f"; best epoch {best_epoch}, whose weights are kept."
        )
        if cfg.data.split.train_on_validation:
            out.print(
                "  Final refit: the validation rows were trained on, so validation scores are not held out; "
                "the test rows were not touched."
            )
    with timer("evaluate"):
        classes = data.prep.classes_
        val_output = data.predict(model, "validation")
        test_output = data.predict(model, "test")
        validation = score(data.task.name, data.y["validation"], val_output, classes)
        test = score(data.task.name, data.y["test"], test_output, classes)
    metrics = {
        "task": data.kind if data.kind != "table" else data.task.name,
        **({"output": data.task.name} if data.kind != "table" else {}),
        **({"forecast": _forecast_info(data)} if data.forecasting else {}),
        "main_metric": data.task.main_metric,
        "test": test,
        "validation": validation,
        "validation_held_out": not cfg.data.split.train_on_validation,
        "best_epoch": best_epoch,
        "epochs_trained": len(history),
        **({"fine_tune_from": fine_tune_from} if fine_tune_from is not None else {}),  # epochs before fine-tuning
    }
    with timer("baselines"):
        metrics.update(_compare_with_baselines(data, test_output, history, best_epoch))
    with timer("importance"):
        if data.forecasting:
            metrics["feature_importance"] = grouped_permutation_importance(
                model.predict_on_batch,
                data.x["test"][FEATURES],
                data.y["test"],
                _feature_groups(data.prep),
                data.task.name,
                seed=cfg.seed,
            )
        elif data.images is None:
            metrics["feature_importance"] = permutation_importance(
                lambda frame: predict_rows(model, model_input(data.prep.transform(frame))),
                *data.importance_rows(),
                data.prep.columns,
                data.task.name,
                seed=cfg.seed,
            )
    guard = None
    if cfg.guard.enabled:
        with timer("guard"):
            guard = OODGuard(cfg.guard.false_alarm_rate, cfg.guard.neighbors, seed=cfg.seed)
            if data.images is not None:
                embed = embedding_model(model)
                guard.fit_arrays(
                    data.predict(embed, "train"),
                    data.predict(embed, "validation"),
                    validation_confidence=confidence(val_output, data.task.name),
                )
                test_flags = (
                    guard.score_arrays(data.predict(embed, "test"), confidence(test_output, data.task.name)) > 1.0
                )
            else:
                guard.fit(data.tabular, data.frame("train"), data.frame("validation"))
                test_flags = guard.check(data.tabular, data.frame("test")).ood
            metrics["guard"] = {**guard.calibration_, "test_flag_rate": float(np.mean(test_flags))}
    with timer("save"):
        if guard is not None:
            guard.save(path / GUARD)
        save_model(model, path / MODEL)
        atomic_write_text(path / HISTORY, pd.DataFrame(history).to_csv(index=False))
        write_json(path / METRICS, _finite(metrics))
    if tcfg.mlflow:
        with timer("mlflow"):
            log_final(path, _finite(metrics))
    manifest.update(
        status=STATUS_COMPLETE,
        finished=utc_now(),
        timings=timer.timings,
        parameters=int(model.count_params()),
        trainable_parameters=int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
    )
    write_json(path / MANIFEST, manifest)
    if out:
        print_summary(out, metrics, len(data.splits["test"]))
    from deepwise.predict import Run

    run = Run(path)
    if tcfg.report:
        _write_report(path, out, prepared=(run, data))
    if out:
        out.print(f"Run saved to [bold]{path}[/]")
    return run


def _write_report(path: Path, out, prepared: tuple[Any, PreparedData] | None = None) -> None:
    """The HTML report and model card; a failure here never costs the (complete) run."""
    from deepwise.report import report

    try:
        written = report(path, prepared=prepared)
        if out:
            out.print(f"Report: [bold]{written}[/] (and MODEL_CARD.md)")
    except Exception as err:  # the run is complete and saved; the report can be rebuilt with `deepwise report`
        if out:
            out.print(f"[yellow]The report could not be written ({err}); run `deepwise report {path}` later.[/]")


def _describe(model, data: PreparedData) -> str:
    if data.images is not None:
        return describe_image_model(model, data.config.model)
    return describe_model(model, data.config.model)


def _start_fine_tune(model, data: PreparedData) -> int:
    """Unfreeze the top layers of the base and compile with the fine-tuning learning rate; returns how many."""
    cfg = data.config
    n = unfreeze_top(model, cfg.model.fine_tune_layers)
    if n:
        model.compile(
            optimizer=keras_module().optimizers.Adam(learning_rate=cfg.model.fine_tune_learning_rate),
            loss=data.task.loss,
            metrics=list(data.task.keras_metrics),
            steps_per_execution=steps_per_execution(cfg),
        )
    return n


def _fine_tune(model, data: PreparedData, callbacks: list, history: list[dict], out, recorder) -> None:
    """Second phase of transfer learning: unfreeze the top layers and train on at a lower learning rate."""
    cfg = data.config
    n = _start_fine_tune(model, data)
    if n == 0:
        return
    if out:
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        out.print(
            f"  Fine-tuning the top {n} layer(s) of the base at learning rate {cfg.model.fine_tune_learning_rate:g} "
            f"for up to {cfg.model.fine_tune_epochs} epoch(s): {trainable:,} trainable parameters now."
        )
    done = len(history)
    recorder.fine_tune_from = done  # checkpoints from here on say so: a resume unfreezes the same layers first
    if recorder.stopper is not None:
        # The best epoch of both phases is kept: fine-tuning that never beats the head's validation loss ends
        # with the head's weights, not with the least bad fine-tuning epoch.
        recorder.stopper.carry_over(model.get_weights())
    data.fit(model, callbacks, done + cfg.model.fine_tune_epochs, done)


def _inspected_columns(data: PreparedData) -> list[str]:
    cfg = data.config
    columns = [*data.prep.columns, cfg.problem.target]
    if data.forecasting and cfg.data.time_column:
        columns.append(cfg.data.time_column)
    return list(dict.fromkeys(columns))


def _forecast_info(data: PreparedData) -> dict[str, Any]:
    cfg = data.config
    time = data.problem.time
    test_rows = data.rows["test"]
    return {
        "time_column": cfg.data.time_column,
        "horizon": cfg.problem.horizon,
        "window": cfg.problem.window,
        "season_length": data.season_length,
        "test_period": [str(time.iloc[test_rows[0]]), str(time.iloc[test_rows[-1]])],
    }


def _feature_groups(prep: SeriesPreprocessor) -> dict[str, list[int]]:
    """Feature indices of each raw column (all its encoded features move together), plus the calendar."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(prep.feature_names_):
        column = name.split("=", 1)[0].removesuffix("__missing")
        if name.startswith("day_of_"):
            column = "calendar (day of year / week)"
        groups.setdefault(column, []).append(i)
    return groups


def _compare_with_baselines(data: PreparedData, test_output: np.ndarray, history: list[dict], best_epoch: int):
    """Baselines on the same split with the same metrics, and the verdict."""
    task = data.task.name
    from threadpoolctl import threadpool_limits

    # one thread: scikit-learn's OpenMP/BLAS threads fighting JAX's for 2 cores made this 100x slower (measured)
    with threadpool_limits(1):
        fitted = fit_baselines(
            task,
            *data.sample_xy("train"),
            data.flat("test"),
            data.n_classes,
            data.config.seed,
            images=data.images is not None,
        )
    for name, output in data.naive_outputs("test").items():
        fitted[name] = {"output": output, "fit_seconds": 0.0, "model": name}
    classes = data.prep.classes_
    baselines = {
        name: {
            **score(task, data.y["test"], res["output"], classes),
            "model": res["model"],
            "fit_seconds": res["fit_seconds"],
        }
        for name, res in fitted.items()
    }
    gap = None
    if history and 0 < best_epoch <= len(history) and not data.config.data.split.train_on_validation:
        row = history[best_epoch - 1]
        key = "accuracy" if data.task.is_classification else "root_mean_squared_error"
        if row.get(key) is not None and row.get(f"val_{key}") is not None:
            gap = {"metric": key, "train": float(row[key]), "validation": float(row[f"val_{key}"])}
    min_class = None
    if data.task.is_classification:
        min_class = int(np.bincount(data.y["train"].astype(int), minlength=data.n_classes).min())
    found = verdict(
        task,
        data.y["test"],
        test_output,
        {name: res["output"] for name, res in fitted.items()},
        n_train=len(data.splits["train"]),
        min_class_train_rows=min_class,
        generalization_gap=gap,
        seed=data.config.seed,
    )
    return {"baselines": baselines, "verdict": found}


def _print_findings(out: Console, findings) -> None:
    """The warnings and problems of the data checks, one line each (full list: findings.json)."""
    shown = [f for f in findings if f.severity != "info"]
    if shown:
        out.print(f"  Data checks: {len(shown)} finding(s) worth a look (all in findings.json):")
        for f in shown:
            colour = "red" if f.severity == "problem" else "yellow"
            out.print(f"    [{colour}]{f.severity}[/] {f.message}", highlight=False)


def print_summary(out: Console, metrics: dict[str, Any], n_test: int) -> None:
    """Test metrics next to every baseline, then the verdict (printed last)."""
    from rich.table import Table

    task = metrics.get("output", metrics["task"])
    keys = ["rmse", "mae", "r2"] if task == "regression" else ["accuracy", "macro_f1", "balanced_accuracy"]
    table = Table(title=f"Test split ({n_test} rows, measured once)", title_justify="left")
    table.add_column("model")
    for key in keys:
        table.add_column(key, justify="right")
    table.add_row("[bold]network[/]", *(f"{metrics['test'][k]:.4g}" for k in keys))
    for name, scores in metrics.get("baselines", {}).items():
        table.add_row(name, *(f"{scores[k]:.4g}" for k in keys))
    out.print(table)
    if "guard" in metrics:
        g = metrics["guard"]
        out.print(
            f"OOD guard: calibrated to flag {g['false_alarm_rate_target']:.0%} of ordinary rows; flagged "
            f"{g['test_flag_rate']:.1%} of the test rows."
        )
    if "verdict" in metrics:
        v = metrics["verdict"]
        out.print(f"[bold]Verdict: {v['code']}[/] — {v['message']}")


def _finite(obj: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
