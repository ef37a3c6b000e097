"""deepwise runs: the table of runs, sorting, JSON, warnings when test scores are not comparable, and incomplete or
damaged runs listed with their status (never a crash)."""

from __future__ import annotations

import json
import shutil

import pytest

import deepwise
from deepwise.runs_table import list_runs


@pytest.fixture(scope="module")
def run(tmp_path_factory, penguins_csv):
    from threadpoolctl import threadpool_limits

    config = {"problem": {"target": "species"}, "data": {"path": str(penguins_csv)}, "training": {"epochs": 20}}
    with threadpool_limits(1, user_api="openmp"):  # sklearn's OpenMP threads otherwise fight JAX's on 2 cores
        return deepwise.train(config, runs_dir=tmp_path_factory.mktemp("table-runs"), verbose=False)


def _copy(run, folder, name, *, manifest=None, metrics=None, seed=None):
    """A copy of a real run with some of its files changed."""
    path = folder / name
    shutil.copytree(run.path, path)
    if manifest is not None:
        data = json.loads((path / "manifest.json").read_text())
        (path / "manifest.json").write_text(json.dumps(manifest(data)))
    if metrics is not None:
        data = json.loads((path / "metrics.json").read_text())
        (path / "metrics.json").write_text(json.dumps(metrics(data)))
    if seed is not None:
        text = (path / "config.yaml").read_text()
        (path / "config.yaml").write_text(text.replace("\nseed: 42\n", f"\nseed: {seed}\n"))
    return path


def test_comparable_runs_sorted_by_metric(run, tmp_path, cli):
    _copy(run, tmp_path, "a-run", metrics=lambda m: {**m, "test": {**m["test"], "accuracy": 0.5}})
    _copy(run, tmp_path, "b-run", metrics=lambda m: {**m, "test": {**m["test"], "accuracy": 0.9}})
    table = list_runs(tmp_path, sort="metric")
    assert [r["name"] for r in table.rows] == ["b-run", "a-run"]
    assert table.warnings == []
    row = table.rows[0]
    assert row["status"] == "complete" and row["task"] == "multiclass" and row["model"] == "mlp"
    assert row["metric_name"] == "accuracy" and row["metric"] == 0.9
    assert row["baseline"] == run.metrics["verdict"]["evidence"]["best_baseline"]
    assert row["baseline_score"] == pytest.approx(run.metrics["baselines"][row["baseline"]]["accuracy"])
    assert row["verdict"] == run.metrics["verdict"]["code"] and row["duration"] is not None
    assert len(row["fingerprint"]) == 12
    assert [r["name"] for r in list_runs(tmp_path, sort="name").rows] == ["a-run", "b-run"]
    out = cli("runs", tmp_path, "--sort", "metric", "--json")
    assert out.exit_code == 0
    assert [r["name"] for r in json.loads(out.output)["runs"]] == ["b-run", "a-run"]
    text = cli("runs", tmp_path)
    assert text.exit_code == 0 and "a-run" in text.output and "Warning" not in text.output


def test_warns_when_data_or_split_differ(run, tmp_path, cli):
    _copy(run, tmp_path, "original")
    _copy(run, tmp_path, "other-seed", seed=7)
    _copy(
        run,
        tmp_path,
        "other-data",
        manifest=lambda m: {**m, "data": {**m["data"], "fingerprint": "sha256:" + "ab" * 32}},
    )
    warnings = list_runs(tmp_path).warnings
    assert len(warnings) == 2
    assert "2 different data files" in warnings[0] and "other-data" in warnings[0]
    assert "split their data differently" in warnings[1] and "seed 7" in warnings[1]
    out = cli("runs", tmp_path)
    assert out.exit_code == 0 and "cannot be compared" in " ".join(out.output.split())


def test_incomplete_and_damaged_runs_are_listed(run, tmp_path, cli):
    _copy(run, tmp_path, "fine")
    interrupted = _copy(run, tmp_path, "interrupted", manifest=lambda m: {**m, "status": "interrupted"})
    (interrupted / "metrics.json").unlink()
    damaged = _copy(run, tmp_path, "damaged")
    (damaged / "manifest.json").write_text("{not json")
    (tmp_path / "not-a-run").mkdir()
    rows = {r["name"]: r for r in list_runs(tmp_path, sort="metric").rows}
    assert set(rows) == {"fine", "interrupted", "damaged"}
    assert rows["interrupted"]["status"] == "interrupted" and rows["interrupted"]["metric"] is None
    assert rows["damaged"]["status"] == "damaged manifest" and rows["damaged"]["verdict"] is None
    out = cli("runs", tmp_path, "--sort", "duration")
    assert out.exit_code == 0 and "interrupted" in out.output and "damaged" in out.output


def test_bad_input_exits_2(tmp_path, cli):
    assert cli("runs", tmp_path / "missing").exit_code == 2
    bad_sort = cli("runs", tmp_path, "--sort", "colour")
    assert bad_sort.exit_code == 2 and "metric" in bad_sort.output
    empty = cli("runs", tmp_path)
    assert empty.exit_code == 0 and "No runs" in empty.output
