"""The run directory's owner: typed records round trip, read like the JSON they are written as, old (format 1) runs
load, damaged files are RunErrors naming the file, and the documented JSON Schema is the one the records generate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deepwise.errors import RunError
from deepwise.records import (
    FORMAT_VERSION,
    DataInfo,
    Manifest,
    Metrics,
    RunFiles,
    kind_of_task,
    scan_run,
    write_record,
)
from deepwise.records.schema import json_schema

ROOT = Path(__file__).resolve().parents[2]


def _metrics(**extra) -> Metrics:
    return Metrics(
        format_version=FORMAT_VERSION,
        kind="series",
        task="forecasting",
        output="regression",
        main_metric="r2",
        test={"rmse": 3.1, "r2": float("nan"), "n": 548},
        validation={"rmse": 3.0, "r2": 0.5, "n": 548},
        best_epoch=7,
        epochs_trained=27,
        verdict={"code": "simpler_model_suffices", "message": "...", "evidence": {"n_test": 548}},
        **extra,
    )


def test_metrics_round_trip_and_read_like_json(tmp_path):
    metrics = _metrics(forecast={"horizon": 1, "window": 3})  # a kind's own key is kept as an extra field
    write_record(tmp_path / "metrics.json", metrics)
    raw = json.loads((tmp_path / "metrics.json").read_text())
    assert raw["test"]["r2"] is None  # NaN is written as null, never as invalid JSON
    assert "fine_tune_from" not in raw and "guard" not in raw  # None fields are left out, as before
    assert raw["forecast"] == {"horizon": 1, "window": 3}
    back = Metrics.model_validate(raw)
    assert back.verdict.code == "simpler_model_suffices" and back["verdict"]["code"] == "simpler_model_suffices"
    assert back["forecast"]["window"] == 3 and "forecast" in back and "guard" not in back
    assert back.get("guard") is None and back.get("guard", "none") == "none"
    with pytest.raises(KeyError):
        back["guard"]
    assert back.output_task == "regression" and back.kind_name == "series"


def test_format_1_runs_derive_their_kind_from_the_task():
    assert [kind_of_task(t) for t in ("multiclass", "regression", "forecasting", "image_classification")] == [
        "table",
        "table",
        "series",
        "images",
    ]
    old = Metrics.model_validate(
        {
            "task": "image_classification",
            "output": "multiclass",
            "main_metric": "accuracy",
            "test": {},
            "validation": {},
            "best_epoch": 1,
            "epochs_trained": 1,
        }
    )
    assert old.format_version == 1 and old.kind is None and old.kind_name == "images"


def test_manifest_duration_and_statuses():
    manifest = Manifest(
        status="complete",
        created="2026-01-01T10:00:00+00:00",
        finished="2026-01-01T10:00:42+00:00",
        seed=1,
        task="binary",
        data=DataInfo(path="/d.csv", fingerprint="sha256:00", rows=10, split={"train": 6, "validation": 2, "test": 2}),
    )
    assert manifest.duration_s == 42.0 and manifest.kind_name == "table"
    with pytest.raises(ValueError):
        Manifest.model_validate({**manifest.to_json(), "status": "half-done"})


def test_the_documented_schema_is_the_generated_one():
    documented = json.loads((ROOT / "docs" / "run-directory.schema.json").read_text())
    assert documented == json_schema(), "regenerate it: python -m deepwise.records > docs/run-directory.schema.json"


def test_a_run_of_format_1_still_loads_and_predicts(penguins_run, tmp_path):
    """A run written before the records module (no format_version, no kind) reads and predicts as before."""
    import deepwise

    old = tmp_path / "old-run"
    shutil.copytree(penguins_run.path, old)
    for name in ("metrics.json", "manifest.json"):
        raw = json.loads((old / name).read_text())
        raw.pop("format_version"), raw.pop("kind")
        (old / name).write_text(json.dumps(raw))
    run = deepwise.load_run(old)
    assert run.kind.name == "table" and run.metrics.format_version == 1
    rows = deepwise.load_run(penguins_run.path).config.data.path
    import pandas as pd

    frame = pd.read_csv(rows).head(5)
    pd.testing.assert_frame_equal(run.predict(frame), penguins_run.predict(frame))


def test_damaged_and_unfinished_runs(penguins_run, tmp_path):
    run_dir = tmp_path / "r"
    shutil.copytree(penguins_run.path, run_dir)
    manifest, metrics, config, status = scan_run(run_dir)
    assert status == "complete" and metrics.kind == "table" and config["problem"]["target"] == "species"
    (run_dir / "metrics.json").write_text(json.dumps({"task": 3}))
    with pytest.raises(RunError, match="metrics.json"):
        _ = RunFiles(run_dir).metrics
    raw = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**raw, "status": "interrupted"}))
    with pytest.raises(RunError, match="not complete"):
        RunFiles(run_dir)
    assert RunFiles(run_dir, require_complete=False).manifest.status == "interrupted"
    assert scan_run(run_dir)[3] == "interrupted"
    (run_dir / "manifest.json").write_text("{not json")
    assert scan_run(run_dir)[3] == "damaged manifest"
