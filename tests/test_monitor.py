"""TensorBoard event files and an offline MLflow file store, written by a real 5-epoch penguins run."""

from __future__ import annotations

import importlib.util
import json

import pandas as pd
import pytest

import deepwise
from deepwise.errors import ConfigError
from deepwise.monitor import MLFLOW_RUN_FILE, end_run, flatten, log_final, monitoring_callbacks, normalize_uri

EPOCHS = 5


@pytest.fixture(scope="module")
def monitored_run(tmp_path_factory, penguins_csv):
    tmp = tmp_path_factory.mktemp("monitor")
    config = {
        "problem": {"target": "species"},
        "data": {"path": str(penguins_csv)},
        "training": {"epochs": EPOCHS, "report": False},
    }
    run_dir = tmp / "run"  # train() creates it; the callbacks only write once training begins
    uri = (tmp / "mlruns").as_uri()
    callbacks = monitoring_callbacks(run_dir, config, tensorboard=True, mlflow_uri=uri)
    run = deepwise.train(config, runs_dir=tmp, run_dir=run_dir, verbose=False, callbacks=callbacks)
    run_id = log_final(run_dir)
    return run_dir, uri, run_id, run


def _scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_event_files_hold_every_epoch(monitored_run):
    run_dir, *_ = monitored_run
    history = pd.read_csv(run_dir / "history.csv")
    train = _scalars(run_dir / "tensorboard" / "train")
    validation = _scalars(run_dir / "tensorboard" / "validation")
    assert {"epoch_loss", "epoch_accuracy"} <= set(train)
    assert {"epoch_loss", "epoch_accuracy"} <= set(validation)
    assert [s for s, _ in train["epoch_loss"]] == list(range(1, EPOCHS + 1))
    assert [s for s, _ in validation["epoch_loss"]] == list(range(1, EPOCHS + 1))
    assert [v for _, v in train["epoch_loss"]] == pytest.approx(history["loss"].tolist(), rel=1e-5)
    assert [v for _, v in validation["epoch_loss"]] == pytest.approx(history["val_loss"].tolist(), rel=1e-5)


def test_mlflow_file_store_holds_params_metrics_and_artifacts(monitored_run):
    from mlflow.tracking import MlflowClient

    run_dir, uri, run_id, _ = monitored_run
    record = json.loads((run_dir / MLFLOW_RUN_FILE).read_text())
    assert record["run_id"] == run_id and record["tracking_uri"] == uri
    client = MlflowClient(tracking_uri=uri)
    mlrun = client.get_run(run_id)
    assert mlrun.info.status == "FINISHED"
    assert mlrun.info.run_name == run_dir.name
    params = mlrun.data.params
    assert params["problem.target"] == "species"
    assert params["training.epochs"] == str(EPOCHS)
    assert params["training.batch_size"] == "32"  # the resolved config, defaults included
    loss = client.get_metric_history(run_id, "loss")
    val_loss = client.get_metric_history(run_id, "val_loss")
    assert sorted(m.step for m in loss) == list(range(1, EPOCHS + 1))
    assert sorted(m.step for m in val_loss) == list(range(1, EPOCHS + 1))
    test = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert test, "metrics.json has test metrics"
    for name, value in test.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert mlrun.data.metrics[f"test_{name}"] == pytest.approx(value)
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"model.keras", "metrics.json", "config.yaml"} <= artifacts


def test_default_is_no_callbacks_and_no_files(tmp_path):
    assert monitoring_callbacks(tmp_path, {}, tensorboard=False, mlflow_uri=None) == []
    assert log_final(tmp_path) is None  # a run not tracked with MLflow
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("option", "module"), [("tensorboard", "tensorboardX"), ("mlflow", "mlflow")])
def test_missing_package_names_the_extra(tmp_path, monkeypatch, option, module):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    kwargs = {"tensorboard": option == "tensorboard", "mlflow_uri": "file:/tmp/x" if option == "mlflow" else None}
    with pytest.raises(ConfigError, match=r"deepwise\[monitor\]") as err:
        monitoring_callbacks(tmp_path, {}, **kwargs)
    assert module in str(err.value)


def test_helpers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalize_uri("mlruns") == (tmp_path / "mlruns").resolve().as_uri()
    assert normalize_uri("file:./mlruns") == (tmp_path / "mlruns").resolve().as_uri()
    assert normalize_uri("http://localhost:5000") == "http://localhost:5000"
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None, "e": "x", "f": {}}) == {
        "a.b": "1",
        "a.c": "[1, 2]",
        "d": "null",
        "e": "x",
        "f": "{}",
    }


def _crash_after_two_epochs(error: BaseException):
    """A Keras callback that raises ``error`` at the end of the second epoch."""
    from deepwise.backend import keras_module

    class Crash(keras_module().callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise error

    return Crash()


@pytest.mark.parametrize(
    ("error", "status"), [(RuntimeError("the GPU fell off the bus"), "FAILED"), (KeyboardInterrupt(), "KILLED")]
)
def test_mlflow_run_ends_failed_or_killed_when_training_stops(tmp_path, penguins_csv, error, status):
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    config = {
        "problem": {"target": "species"},
        "data": {"path": str(penguins_csv)},
        "training": {"epochs": EPOCHS, "report": False, "mlflow": uri},
    }
    run_dir = tmp_path / "run"
    with pytest.raises(type(error)):
        deepwise.train(
            config, runs_dir=tmp_path, run_dir=run_dir, verbose=False, callbacks=[_crash_after_two_epochs(error)]
        )
    record = json.loads((run_dir / MLFLOW_RUN_FILE).read_text())
    client = MlflowClient(tracking_uri=uri)
    mlrun = client.get_run(record["run_id"])
    assert mlrun.info.status == status
    assert mlrun.info.end_time is not None
    assert sorted(m.step for m in client.get_metric_history(record["run_id"], "loss")) == [1, 2]


def test_end_run_without_mlflow_or_with_a_damaged_record_never_raises(tmp_path):
    assert end_run(tmp_path, "FAILED") is None  # not tracked
    (tmp_path / MLFLOW_RUN_FILE).write_text("{not json")
    assert end_run(tmp_path, "KILLED") is None  # logged, not raised: the error that stopped training goes on
    with pytest.raises(ValueError, match="FAILED"):
        end_run(tmp_path, "FINISHED")
