"""Steps 1-2: formulate the problem and identify inputs and outputs (``deepwise init``).

Reads the data, infers the task from the target, chooses the inputs (dropping ID-like and constant columns, with
the reason), and resolves a config in which every default is spelled out.

Example:
    >>> problem = formulate("penguins.csv", target="species")
    >>> problem.config.problem.task
    'multiclass'
    >>> problem.write("deepwise.yaml")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from deepwise.config import Config, DataConfig, ProblemConfig, dump_config
from deepwise.data.images import ImageSet, describe, is_image_source, open_images
from deepwise.data.schema import (
    ColumnChoice,
    check_mixed_target,
    check_numeric_junk,
    check_target_values,
    choose_inputs,
    infer_task,
    is_numeric,
)
from deepwise.data.series import looks_like_time, order_by_time
from deepwise.data.tables import read_table
from deepwise.errors import ConfigError, DataError
from deepwise.runs import atomic_write_text
from deepwise.tasks import TASKS


@dataclass
class Problem:
    """A resolved problem: the config plus the reasons behind each inferred choice."""

    config: Config
    frame: pd.DataFrame
    task_reason: str
    columns: list[ColumnChoice]
    notes: list[str] = field(default_factory=list)
    time: pd.Series | None = None  # forecasting: the parsed, sorted time axis
    images: ImageSet | None = None  # images: the files or array, checked

    @property
    def forecasting(self) -> bool:
        return self.config.problem.task == "forecasting"

    @property
    def output(self) -> str:
        """What the model outputs: binary, multiclass or regression (for forecasting: what is forecast)."""
        return self.config.problem.output if self.forecasting else self.config.problem.task

    @property
    def inputs(self) -> list[str]:
        return list(self.config.data.inputs or [])

    @property
    def dropped(self) -> list[ColumnChoice]:
        return [c for c in self.columns if not c.used]

    def explain(self) -> list[str]:
        """Plain-language lines on what was chosen and why."""
        task = TASKS[self.output]
        lines = [f"Task: {self.config.problem.task}. {self.task_reason}"]
        if self.forecasting:
            p = self.config.problem
            lines.append(
                f"Forecast: '{p.target}' {p.horizon} step(s) ahead from the last {p.window} step(s) "
                f"({task.name}); time axis: {self.config.data.time_column or 'the row order'}. The split is "
                "chronological: the oldest rows train, the newest test."
            )
        if self.images is not None:
            lines.append(f"Output layer: {task.why_output}.")
            lines.append(f"Loss: {task.why_loss}.")
            lines.extend(self.notes)
            return lines
        n_cat = len(self.config.data.categorical or [])
        lines.append(
            f"Inputs: {len(self.inputs)} column(s), {len(self.inputs) - n_cat} numeric and {n_cat} categorical."
        )
        for choice in self.dropped:
            lines.append(f"Not used: '{choice.name}': {choice.reason}.")
        lines.append(f"Output layer: {task.why_output}.")
        lines.append(f"Loss: {task.why_loss}.")
        lines.append(f"Metrics: {task.why_metrics}.")
        lines.extend(self.notes)
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


def formulate(data: str | Path | Config, target: str | None = None) -> Problem:
    """Resolve task and inputs for a data file (with ``target``) or for a config (explicit choices are kept)."""
    if isinstance(data, Config):
        config = data.model_copy(deep=True)
    else:
        if not target:
            raise ConfigError(
                f"No target column given for '{data}'.",
                expected="the name of the column to predict",
                fix="pass --target COLUMN (e.g. --target species).",
            )
        config = Config(problem=ProblemConfig(target=target), data=DataConfig(path=str(Path(data).resolve())))
    check_activation(config)
    if is_image_source(config.data.path, config.data.image_column):
        return resolve_images(config)
    df = read_table(config.data.path, config.data.na_values)
    return resolve(config, df)


def check_activation(config: Config) -> None:
    """model.activation must be a Keras activation (checked before anything is trained or written)."""
    name = config.model.activation
    if name in ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "silu", "linear", "leaky_relu"):
        return  # the common ones: no need to import Keras to know
    from deepwise.backend import keras_module

    keras = keras_module()
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        from difflib import get_close_matches

        names = sorted(
            n
            for n in dir(keras.activations)
            if not n.startswith("_") and n.islower() and n not in ("get", "serialize", "deserialize")
        )
        close = get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"model.activation '{name}' is not a Keras activation.{hint}",
            expected="one of: " + ", ".join(names),
            fix="set model.activation to one of those (relu is the usual choice).",
        ) from None


def _resolve_freeze_base(model, reuses_application: bool) -> None:
    """Frozen base + new head (then optional fine-tuning), or every layer trained on from the reused weights.

    Measured (bench/transfer.py, means of five draws): a batch-normalized CNN trained on MNIST 0-4
    and reused for 5-9 with 50 images per class scored 0.899 with its layers frozen and 0.943 trained on whole
    (the same CNN from scratch: 0.887), so an earlier deepwise run trains on whole by default; a keras.applications
    base, trained on ImageNet, stays frozen (Keras' recommended workflow for a large base on a small data set).
    """
    if model.freeze_base is None:  # an earlier deepwise CNN trains on whole; a keras.applications base stays frozen
        model.freeze_base = not model.from_run or reuses_application or model.fine_tune_layers > 0
    elif not model.freeze_base and model.fine_tune_layers:
        raise ConfigError(
            f"model.freeze_base: false trains every layer from the start, so model.fine_tune_layers: "
            f"{model.fine_tune_layers} (unfreeze the top layers after the head) has nothing to unfreeze.",
            expected="freeze_base: true with fine_tune_layers, or freeze_base: false without it",
            fix="remove model.fine_tune_layers, or set model.freeze_base: true for the two-phase workflow.",
        )


def resolve_images(config: Config) -> Problem:
    """Open and check the images, infer the classes, and fix the image size, channels and model type."""
    d = config.data
    target = config.problem.target
    images = open_images(
        d.path,
        image_column=d.image_column,
        label_column=target,
        on_bad_files=d.on_bad_files,
        allow_outside=d.allow_outside_paths,
    )
    labels = pd.Series([str(v) for v in images.labels], name=target)
    notes: list[str] = []
    if images.skipped:
        notes.append(f"{len(images.skipped)} unreadable file(s) were skipped (data.on_bad_files: skip).")
    if config.problem.task in ("regression", "forecasting"):
        raise ConfigError(
            f"problem.task: {config.problem.task} is not available for images yet.",
            expected="binary, multiclass or auto (image classification)",
            fix="set problem.task: auto.",
        )
    task, reason = infer_task(labels)
    if config.problem.task != "auto":
        task, reason = config.problem.task, f"set in the config ({config.problem.task})."
    model = config.model
    if model.type == "auto":
        model.type = "cnn"
    if model.type not in ("cnn", "pretrained"):
        raise ConfigError(
            f"model.type '{model.type}' is not an image model.",
            expected="model.type: cnn (from scratch) or pretrained (keras.applications / model.from_run)",
            fix="set model.type: cnn or pretrained.",
        )
    earlier = None
    if model.from_run:
        from deepwise.predict import load_run

        earlier = load_run(model.from_run)
        if not earlier.images:
            raise ConfigError(
                f"model.from_run '{model.from_run}' is a {earlier.task} run; transfer learning reuses an image "
                "classifier's network.",
                expected="the folder of an earlier deepwise image classification run",
                fix="point model.from_run at an image run (or leave it out to train a CNN from scratch).",
            )
        d.image_size, d.channels = list(earlier.preprocessor.image_size), earlier.preprocessor.channels
        model.type = "pretrained"
    if model.type == "pretrained":
        from deepwise.models.cnn import applications_in

        # a keras.applications base underneath an earlier run stays frozen by default, as model.base does
        reuses_application = earlier is not None and model.freeze_base is None and bool(applications_in(earlier.model))
        _resolve_freeze_base(model, reuses_application)
    if d.image_size is None or d.channels is None:
        stats = describe(images, max_files=300, seed=config.seed)
        if d.image_size is None:
            h, w = stats["median_size"]
            if model.type == "pretrained":
                h, w = max(h, 32), max(w, 32)
            d.image_size = [h, w]
        if d.channels is None:
            colour = stats["channels"].get("colour", 0) > stats["channels"].get("grayscale", 0)
            d.channels = 3 if colour or model.type == "pretrained" else 1
    if model.conv_filters is None:  # measured: digits (8x8) need wider filters, MNIST (28x28) a third block
        model.conv_filters = [32, 64] if max(d.image_size) <= 16 else [16, 32, 64]
    config.problem.task = task
    config.data.split.test = config.data.split.test_fraction(False)
    if model.dropout is None:
        model.dropout = 0.1
    notes.append(
        f"{len(images)} images in {len(labels.unique())} classes, resized to {d.image_size[0]}x{d.image_size[1]} "
        f"with {d.channels} channel(s)."
    )
    frame = labels.to_frame()
    return Problem(config=config, frame=frame, task_reason=reason, columns=[], notes=notes, images=images)


def resolve(config: Config, df: pd.DataFrame) -> Problem:
    """Fill in the task, inputs and categorical columns of ``config`` from the data (explicit values win)."""
    target = config.problem.target
    notes: list[str] = []
    if target not in df.columns:
        from difflib import get_close_matches

        close = get_close_matches(target, list(df.columns), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DataError(
            f"The target column '{target}' is not in the data.{hint}",
            expected="one of the columns: " + ", ".join(map(str, df.columns[:30])),
            fix=f"pass the right column name with --target (or problem.target in the config).{hint}",
        )
    check_target_values(df, target)
    forecasting = config.problem.task == "forecasting"
    time = None
    if forecasting:
        df, time, time_notes = order_by_time(df, config.data.time_column)
        notes.extend(time_notes)
    n_missing_target = int(df[target].isna().sum())
    if n_missing_target:
        notes.append(f"{n_missing_target} row(s) have no '{target}' value and are left out (nothing to learn from).")
        if forecasting:
            raise DataError(
                f"The target '{target}' of the series is missing in {n_missing_target} row(s).",
                expected="a target value at every time step of a series",
                fix="fill the gaps (e.g. interpolate) or drop those time steps before training.",
            )
        df = df[df[target].notna()].reset_index(drop=True)
    requested = config.problem.output if forecasting else config.problem.task
    if requested == "auto":
        check_mixed_target(df, target)
        task, reason = infer_task(df[target])
    else:
        task, reason = requested, f"set in the config ({requested})."
        if task == "regression" and not is_numeric(df[target]):
            check_numeric_junk(df, [target])
            raise DataError(
                f"The config asks for regression but the target '{target}' is not numeric.",
                expected="numbers in the target column for regression",
                fix="set problem.task (or problem.output for forecasting) to auto, or clean the target column.",
            )
        infer_task(df[target])  # single-class and empty targets are errors whatever the task
    if task == "regression":
        check_numeric_junk(df, [target])
    if forecasting:
        reason = "set in the config (problem.task: forecasting). " + reason
    elif config.data.time_column is None:
        for name in df.columns:
            if name != target and looks_like_time(df[name]):
                notes.append(
                    f"'{name}' looks like a time column: if the rows form a time series and you want to predict "
                    f"ahead, set problem.task: forecasting and data.time_column: {name}."
                )
                break

    explicit_categorical = config.data.categorical
    excluded = list(config.data.exclude)
    if forecasting and config.data.time_column:
        excluded.append(config.data.time_column)
    if config.data.inputs is not None:
        missing = [c for c in config.data.inputs if c not in df.columns]
        if missing:
            raise DataError(
                f"data.inputs names column(s) that are not in the data: {', '.join(missing)}.",
                expected="columns of the data file: " + ", ".join(map(str, df.columns[:30])),
                fix="correct the names in data.inputs, or set it to null to use every column.",
            )
        if target in config.data.inputs:
            raise ConfigError(
                f"The target '{target}' is also listed in data.inputs.",
                expected="inputs that do not include the column to predict",
                fix=f"remove '{target}' from data.inputs.",
            )
        empty = [c for c in config.data.inputs if df[c].isna().all()]
        if empty:
            raise DataError(
                f"Input column(s) {', '.join(empty)} have no values at all (every cell is missing).",
                expected="inputs with values in most rows",
                fix="remove them from data.inputs, or fill them in.",
            )
        columns = [c for c in choose_inputs(df, target, excluded, explicit_categorical) if c.name in config.data.inputs]
        for c in columns:
            c.used, c.reason = True, c.kind
        inputs = list(config.data.inputs)
        kinds = {c.name: c.kind for c in columns}
    else:
        columns = choose_inputs(df, target, excluded, explicit_categorical)
        inputs = [c.name for c in columns if c.used]
        kinds = {c.name: c.kind for c in columns}
        if not inputs and not forecasting:  # a series always has its own past as an input
            raise DataError(
                f"No usable input columns: every column besides '{target}' was set aside "
                f"({'; '.join(f'{c.name}: {c.reason}' for c in columns) or 'there are none'}).",
                expected="at least one input column with varying values",
                fix="add input columns to the data, or list them explicitly in data.inputs.",
            )
    categorical = (
        explicit_categorical
        if explicit_categorical is not None
        else [c for c in inputs if kinds.get(c) == "categorical"]
    )
    unknown = [c for c in categorical if c not in inputs]
    if unknown:
        raise ConfigError(
            f"data.categorical names column(s) that are not inputs: {', '.join(unknown)}.",
            expected="a subset of data.inputs",
            fix="remove them from data.categorical or add them to data.inputs.",
        )
    # Text columns that are really numbers with a few junk cells are an error, not a category.
    if explicit_categorical is None:
        check_numeric_junk(df, categorical)
    check_numeric_junk(df, [c for c in inputs if c not in categorical])

    if forecasting:
        config.problem.output = task
    else:
        config.problem.task = task
    config.data.inputs = inputs
    config.data.categorical = categorical
    config.data.split.test = config.data.split.test_fraction(forecasting)
    if config.model.dropout is None:  # series overfit fast: measured on the weather forecast (issue 5)
        config.model.dropout = 0.3 if forecasting else 0.1
    if config.model.type == "auto":
        config.model.type = "mlp"
    allowed = ("mlp", "conv1d", "lstm", "gru") if forecasting else ("mlp",)
    if config.model.type not in allowed:
        raise ConfigError(
            f"model.type '{config.model.type}' does not fit "
            + ("a time series." if forecasting else "a table (conv1d/lstm/gru need problem.task: forecasting)."),
            expected="model.type: " + " | ".join(allowed),
            fix=f"set model.type: {allowed[0]}.",
        )
    return Problem(config=config, frame=df, task_reason=reason, columns=columns, notes=notes, time=time)
