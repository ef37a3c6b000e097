"""Optional experiment tracking: TensorBoard logs and MLflow runs (``pip install 'deepwise[monitor]'``).

Off by default: a run writes only its run directory. ``training.tensorboard: true`` (or ``--tensorboard``) writes
per-epoch scalars to ``<run>/tensorboard/`` in the layout of Keras' own TensorBoard callback (``train/`` and
``validation/`` with tags ``epoch_loss``, ``epoch_accuracy``, ... so both curves share one chart), using
tensorboardX because Keras' callback needs TensorFlow. ``training.mlflow: URI`` logs the flattened config as params,
every epoch's metrics and, through :func:`log_final`, the test metrics and the model to an MLflow tracking server or
a local ``file:`` store (works offline). Steps are 1-based epoch numbers, as in ``history.csv``.

Example:
    >>> callbacks = monitoring_callbacks(run_dir, config, tensorboard=True, mlflow_uri="file:./mlruns")
    >>> model.fit(..., callbacks=callbacks)
    >>> log_final(run_dir)                      # after metrics.json and model.keras are written
    >>> end_run(run_dir, "FAILED")              # instead, when training raised ("KILLED" when interrupted)
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from deepwise.backend import keras_module
from deepwise.config import Config, load_config
from deepwise.errors import ConfigError
from deepwise.records import CONFIG

TENSORBOARD_DIR = "tensorboard"
MLFLOW_RUN_FILE = "mlflow_run.json"
FINAL_ARTIFACTS = ("model.keras", "metrics.json", "config.yaml")
_EXTRA = "pip install 'deepwise[monitor]'"
END_STATUSES = ("FAILED", "KILLED")
log = logging.getLogger("deepwise.monitor")


def monitoring_callbacks(
    run_dir: str | Path, config: Any, tensorboard: bool = False, mlflow_uri: str | None = None
) -> list:
    """The Keras callbacks that the options ask for (an empty list by default).

    ``run_dir`` must exist when training begins; ``config`` is a :class:`deepwise.config.Config` or a plain dict.
    Raises :class:`ConfigError` at once (before any training) when a needed package is missing.
    """
    run_dir = Path(run_dir)
    require_packages(tensorboard, mlflow_uri)
    callbacks = []
    if tensorboard:
        callbacks.append(_callback_classes()[0](run_dir / TENSORBOARD_DIR))
    if mlflow_uri:
        callbacks.append(_callback_classes()[1](run_dir, normalize_uri(mlflow_uri), _config_dict(config)))
    return callbacks


def log_final(run_dir: str | Path, metrics: Mapping | None = None) -> str | None:
    """Log the test metrics and the run's files to the MLflow run of ``run_dir``, then mark it finished.

    ``metrics`` defaults to ``<run>/metrics.json``; its ``test`` numbers are logged as ``test_<name>``. Does nothing
    (returns None) when the run was not tracked with MLflow; otherwise returns the MLflow run id.
    """
    run_dir = Path(run_dir)
    record_path = run_dir / MLFLOW_RUN_FILE
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if metrics is None:
        metrics_path = run_dir / "metrics.json"
        metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    client = _client(record["tracking_uri"])
    run_id = record["run_id"]
    test = metrics.get("test") or {}
    _log_metrics(client, run_id, {f"test_{k}": v for k, v in test.items()}, step=0)
    for name in FINAL_ARTIFACTS:
        if (run_dir / name).is_file():
            client.log_artifact(run_id, str(run_dir / name))
    client.set_terminated(run_id, "FINISHED")
    return run_id


def end_run(run_dir: str | Path, status: str = "FAILED") -> str | None:
    """End the MLflow run of ``run_dir`` with ``status``: FAILED when training raised, KILLED when it was interrupted.

    Without it a crashed or interrupted run would stay RUNNING in MLflow. Does nothing (returns None) when the run
    was not tracked with MLflow; otherwise returns the MLflow run id. Never raises: it is called while another
    error is on its way to the user, and an unreachable tracking server must not replace that error (it is logged).
    """
    if status not in END_STATUSES:
        raise ValueError(f"status must be one of {END_STATUSES}, not {status!r}")
    record_path = Path(run_dir) / MLFLOW_RUN_FILE
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        _client(record["tracking_uri"]).set_terminated(record["run_id"], status)
        return record["run_id"]
    except Exception as err:  # the tracking server is down, the record is damaged, ...
        log.warning("could not mark the MLflow run of %s as %s: %s", run_dir, status, err)
        return None


def normalize_uri(uri: str) -> str:
    """A plain or relative path becomes an absolute ``file:`` URI; other URIs pass unchanged."""
    parsed = urlparse(uri)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # a path (or C:\...)
        return Path(uri).expanduser().resolve().as_uri()
    if parsed.scheme == "file" and not parsed.path.startswith("/"):  # file:./mlruns
        return Path(uri[len("file:") :]).expanduser().resolve().as_uri()
    return uri


def flatten(mapping: Mapping, prefix: str = "") -> dict[str, str]:
    """``{"training": {"epochs": 5}}`` -> ``{"training.epochs": "5"}``; lists are written as JSON."""
    flat: dict[str, str] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, str) else json.dumps(value, default=str)
    return flat


def require_packages(tensorboard: bool = False, mlflow_uri: str | None = None) -> None:
    """Raise :class:`ConfigError` naming the extra when an asked-for option lacks its package (cheap; no imports)."""
    if tensorboard:
        _require("tensorboardX", "training.tensorboard")
    if mlflow_uri:
        _require("mlflow", "training.mlflow")


def _require(module: str, option: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"{option} is set, but the Python package '{module}' is not installed.",
            expected="the optional monitoring packages (tensorboardX, mlflow-skinny)",
            fix=f"{_EXTRA}, or turn {option} off.",
        )


def _config_dict(config: Any) -> dict:
    """The resolved config (every default) as a plain dict; a dict that is not a valid Config is kept as given."""
    if isinstance(config, Mapping):
        from pydantic import ValidationError

        try:
            config = Config.model_validate(dict(config))
        except ValidationError:
            return dict(config)
    if hasattr(config, "model_dump"):
        return config.model_dump(mode="json")
    return dict(config or {})


def _client(tracking_uri: str):
    if tracking_uri.startswith("file:"):
        # MLflow 3 refuses the file store unless asked; a file: URI given on purpose is that request.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def _scalars(logs: Mapping | None) -> dict[str, float]:
    out = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _log_metrics(client, run_id: str, values: Mapping, step: int) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [
        Metric(key, float(v), now, step)
        for key, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    if metrics:
        client.log_batch(run_id, metrics=metrics)


# One piece: the two Keras callback classes are defined together, once Keras is imported (importing deepwise must
# not import Keras), and share the helpers above.
@functools.cache
def _callback_classes():
    keras = keras_module()

    class TensorBoardScalars(keras.callbacks.Callback):
        """Per-epoch scalars of ``logs`` as TensorBoard event files, without TensorFlow."""

        def __init__(self, log_dir: Path):
            super().__init__()
            self.log_dir = Path(log_dir)
            self.writers: dict[str, Any] = {}

        def _writer(self, split: str):
            if split not in self.writers:
                from tensorboardX import SummaryWriter

                self.writers[split] = SummaryWriter(logdir=str(self.log_dir / split))
            return self.writers[split]

        def on_epoch_end(self, epoch, logs=None):
            for key, value in _scalars(logs).items():
                split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                self._writer(split).add_scalar(f"epoch_{name}", value, global_step=epoch + 1)
            for writer in self.writers.values():
                writer.flush()

        def on_train_end(self, logs=None):
            for writer in self.writers.values():
                writer.close()
            self.writers = {}

    class MlflowLogger(keras.callbacks.Callback):
        """Starts (or, on resume, continues) an MLflow run and logs params and per-epoch metrics."""

        def __init__(self, run_dir: Path, tracking_uri: str, config: dict):
            super().__init__()
            self.run_dir = Path(run_dir)
            self.tracking_uri = tracking_uri
            self.config = config
            self.client = None
            self.run_id: str | None = None

        def on_train_begin(self, logs=None):
            self.client = self.client or _client(self.tracking_uri)
            if self.run_id is None:
                self.run_id = self._resumed_run_id() or self._start_run()
            self.client.update_run(self.run_id, status="RUNNING")

        def _resolved_config(self) -> dict:
            """The run's config.yaml when train() has written it (every automatic choice filled in)."""
            path = self.run_dir / CONFIG
            return _config_dict(load_config(path)) if path.is_file() else self.config

        def _resumed_run_id(self) -> str | None:
            record_path = self.run_dir / MLFLOW_RUN_FILE
            if record_path.is_file():
                record = json.loads(record_path.read_text(encoding="utf-8"))
                if record.get("tracking_uri") == self.tracking_uri:
                    return record["run_id"]
            return None

        def _start_run(self) -> str:
            from mlflow.entities import Param, RunTag

            name = self.config.get("name") or Path(str(self.config.get("data", {}).get("path", "deepwise"))).stem
            experiment = f"deepwise-{name}"
            found = self.client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
            run = self.client.create_run(
                experiment_id, run_name=self.run_dir.name, tags={"deepwise.run_dir": str(self.run_dir.resolve())}
            )
            run_id = run.info.run_id
            params = [Param(k[:250], v[:6000]) for k, v in flatten(self._resolved_config()).items()]
            self.client.log_batch(run_id, params=params, tags=[RunTag("deepwise.experiment", experiment)])
            record = {"tracking_uri": self.tracking_uri, "run_id": run_id, "experiment_id": experiment_id}
            (self.run_dir / MLFLOW_RUN_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            return run_id

        def on_epoch_end(self, epoch, logs=None):
            _log_metrics(self.client, self.run_id, _scalars(logs), step=epoch + 1)

        def on_train_end(self, logs=None):
            # Marked finished now so an abandoned run does not stay "running"; log_final still adds to it.
            self.client.set_terminated(self.run_id, "FINISHED")

    return TensorBoardScalars, MlflowLogger
