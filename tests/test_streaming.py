"""Tables bigger than memory: streamed statistics, hashed split, arrays on disk, chunked predict (issue 9).

Real data (penguins, breast_cancer, diabetes) is streamed with ``data.in_memory: false`` and compared with the
in-memory path on the same rows; the 10M-row memory bar is measured by bench/scaling.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

import deepwise
from deepwise.data import stream as stream_module
from deepwise.data.stream import TableSource, row_hash
from deepwise.prepare.stream import sample_rows, split_codes
from deepwise.prepare.tabular import TabularPreprocessor
from deepwise.train import prepare, resolve_config

PENGUINS = Path(__file__).resolve().parents[1] / "examples" / "penguins" / "penguins.csv"


def streamed_config(path: Path, target: str, **training):
    cfg = resolve_config(path, target=target)
    cfg.data.in_memory = False
    for key, value in training.items():
        setattr(cfg.training, key, value)
    return cfg


def test_row_hash_is_uniform_and_reproducible():
    rows = np.arange(200_000)
    u = row_hash(rows, 42)
    assert np.array_equal(u, row_hash(rows, 42))
    assert not np.array_equal(u, row_hash(rows, 43))
    assert u.min() >= 0 and u.max() < 1
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - 20_000) < 600)  # about 4 standard deviations
    codes = split_codes(rows, 42, validation=0.15, test=0.2)
    assert abs(np.mean(codes == 2) - 0.2) < 0.005 and abs(np.mean(codes == 1) - 0.15) < 0.005


def test_csv_chunks_keep_one_type_per_column_when_text_appears_late(tmp_path, monkeypatch):
    monkeypatch.setattr(stream_module, "CSV_BLOCK_BYTES", 1 << 12)  # many small blocks
    monkeypatch.setattr(stream_module, "CHUNK_ROWS", 100)
    df = pd.read_csv(PENGUINS)
    df["code"] = np.arange(len(df)).astype(str)
    df.loc[300, "code"] = "late text"  # a numeric-looking column that is text further down
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    source = TableSource.open(path)
    assert source.columns == list(df.columns)
    assert abs(source.estimated_rows - len(df)) < 0.2 * len(df)
    sample, positions, n_rows = sample_rows(source, seed=0)
    assert n_rows == len(df) and len(sample) == len(df)  # a small table: the sample is every row
    assert sample["code"].tolist() == df["code"].tolist()
    assert np.array_equal(positions, np.arange(len(df)))
    chunks = list(source.chunks(["bill_length_mm", "species"]))
    assert len(chunks) > 3
    joined = pd.concat(chunks, ignore_index=True)
    assert np.allclose(joined["bill_length_mm"], df["bill_length_mm"], equal_nan=True)
    assert joined["species"].tolist() == df["species"].tolist()


def test_streamed_preprocessing_equals_fitting_on_the_same_training_rows(tmp_path):
    cfg = streamed_config(PENGUINS, "species")
    data = prepare(cfg)
    try:
        assert data.streamed and data.n_rows == 344
        df = pd.read_csv(PENGUINS)
        df = df[df["species"].notna()].reset_index(drop=True)
        codes = split_codes(np.arange(len(df)), cfg.seed, cfg.data.split.validation, data.config.data.split.test)
        reference = TabularPreprocessor(
            numeric=data.prep.numeric, categorical=data.prep.categorical, target="species", task="multiclass"
        ).fit(df[codes == 0])
        assert data.prep.to_dict() == reference.to_dict()  # means, spreads, medians, vocabularies, classes
        for split, code in (("train", 0), ("validation", 1), ("test", 2)):
            rows = df[codes == code]
            assert len(data.y[split]) == len(rows)
            expected = reference.transform(rows)
            for name, array in expected.items():
                np.testing.assert_allclose(np.asarray(data.x[split][name]), array, rtol=1e-6)
            assert np.array_equal(data.y[split], reference.transform_target(rows["species"]))
    finally:
        data.stream.close()


def test_streamed_penguins_trains_predicts_and_reevaluates(tmp_path, monkeypatch):
    cfg = streamed_config(PENGUINS, "species", epochs=60)
    run = deepwise.train(cfg, runs_dir=tmp_path / "runs", verbose=False)
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["data"]["streamed"] is True and manifest["data"]["rows"] == 344
    assert sum(manifest["data"]["split"].values()) == 344
    assert run.metrics["test"]["accuracy"] >= 0.9
    assert set(run.metrics["baselines"]) >= {"dummy", "linear"}
    assert run.metrics["verdict"]["evidence"]["n_test"] == manifest["data"]["split"]["test"]
    # the test split is rebuilt the same way (same hash split): the score re-measures identically
    assert run.evaluate()["accuracy"] == pytest.approx(run.metrics["test"]["accuracy"])
    # predict to a CSV a chunk at a time: the same predictions as in memory
    monkeypatch.setattr(stream_module, "CHUNK_ROWS", 50)
    out = tmp_path / "pred.csv"
    report = run.predict_to_csv(PENGUINS, out, chunked=True)
    chunked = pd.read_csv(out)
    whole = run.predict(PENGUINS)
    assert len(chunked) == 344 and len(report.ood) == 344
    assert chunked["prediction"].tolist() == whole["prediction"].tolist()
    np.testing.assert_allclose(chunked["proba_Adelie"], whole["proba_Adelie"], atol=1e-6)
    assert chunked["ood"].tolist() == whole["ood"].tolist()


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_folder_of_parquet_files_streams_and_loads(tmp_path):
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.frame
    folder = tmp_path / "cancer"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(folder / f"part-{i}.parquet")
    streamed = deepwise.train(streamed_config(folder, "target", epochs=40), runs_dir=tmp_path / "r", verbose=False)
    assert streamed.metrics["test"]["accuracy"] >= 0.9
    assert json.loads((streamed.path / "manifest.json").read_text())["data"]["rows"] == len(df)
    # small: the same folder loads whole by default, as one table
    cfg = resolve_config(folder, target="target")
    data = prepare(cfg)
    assert not data.streamed and data.n_rows == len(df)


def test_regression_streams_with_exact_target_statistics(tmp_path):
    df = load_diabetes(as_frame=True).frame
    path = tmp_path / "diabetes.parquet"
    df.to_parquet(path)
    cfg = streamed_config(path, "target")
    data = prepare(cfg)
    try:
        codes = split_codes(np.arange(len(df)), cfg.seed, cfg.data.split.validation, data.config.data.split.test)
        y_train = df["target"][codes == 0]
        assert data.prep.target_stats_["mean"] == pytest.approx(y_train.mean())
        assert data.prep.target_stats_["std"] == pytest.approx(y_train.std(ddof=0))
        assert data.task.name == "regression"
    finally:
        data.stream.close()


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_big_tables_stream_automatically_and_say_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(stream_module, "STREAM_ABOVE_BYTES", 10_000)  # penguins "does not fit"
    from rich.console import Console

    console = Console(file=__import__("io").StringIO(), width=200)
    cfg = resolve_config(PENGUINS, target="species")
    cfg.training.epochs = 3
    run = deepwise.train(cfg, runs_dir=tmp_path, console=console)
    text = console.file.getvalue()
    assert "Streamed from disk: 344 rows" in text
    assert json.loads((run.path / "manifest.json").read_text())["data"]["streamed"] is True
    monkeypatch.setattr(stream_module, "STREAM_ABOVE_BYTES", 1 << 30)
    assert not prepare(resolve_config(PENGUINS, target="species")).streamed


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_cli_predict_streams_a_big_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from deepwise.cli import app

    cfg = resolve_config(PENGUINS, target="species")
    cfg.training.epochs = 5
    run = deepwise.train(cfg, runs_dir=tmp_path, verbose=False)
    monkeypatch.setattr(stream_module, "STREAM_ABOVE_BYTES", 10_000)
    monkeypatch.setattr(stream_module, "CHUNK_ROWS", 64)
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(app, ["predict", str(run.path), str(PENGUINS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 344
    assert pd.read_csv(out)["prediction"].tolist() == run.predict(PENGUINS)["prediction"].tolist()


def test_disk_batches_visit_every_row_once_per_epoch_in_a_new_order(tmp_path, monkeypatch):
    from deepwise.prepare import stream as prep_stream

    monkeypatch.setattr(prep_stream, "WINDOW_ROWS", 16)
    monkeypatch.setattr(prep_stream, "WINDOWS_PER_GROUP", 4)
    n = 1000
    features = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    np.save(tmp_path / "f.npy", features)
    arrays = {"features": prep_stream.DiskArray(tmp_path / "f.npy")}
    assert arrays["features"].shape == (n, 3) and np.array_equal(arrays["features"][10:20], features[10:20])
    labels = np.arange(n)
    batches = prep_stream.disk_batches_class()(arrays, labels, batch_size=48, shuffle=True, seed=3)
    orders = []
    for _ in range(2):
        seen = [batches[i] for i in range(len(batches))]
        x = np.concatenate([b[0] for b in seen])
        y = np.concatenate([b[1] for b in seen])
        assert np.array_equal(x[:, 0] / 3, y)  # every row keeps its label
        assert sorted(y.tolist()) == list(range(n))  # each row exactly once
        assert max(len(b[1]) for b in seen) == 48
        orders.append(y)
        batches.on_epoch_end()
    assert not np.array_equal(orders[0], orders[1])
    assert np.mean(np.abs(np.diff(orders[0])) > 16) > 0.5  # rows from all over the file, not runs of neighbours
    plain = prep_stream.disk_batches_class()(arrays, None, batch_size=100)
    assert np.array_equal(np.concatenate([plain[i] for i in range(len(plain))]), features)


def test_streamed_embedding_columns_match_in_memory_preprocessing(tmp_path):
    df = pd.read_csv(PENGUINS)
    df["band"] = [f"b{i % 40}" for i in range(len(df))]  # 40 categories: an embedding input
    path = tmp_path / "banded.parquet"
    df.to_parquet(path)
    cfg = streamed_config(path, "species")
    cfg.data.categorical = ["island", "sex", "band"]
    data = prepare(cfg)
    try:
        assert data.prep.encodings_["band"] == "embedding"
        assert data.config.data.in_memory is False  # the decision is recorded in the run's config
        codes = split_codes(np.arange(len(df)), cfg.seed, cfg.data.split.validation, data.config.data.split.test)
        reference = TabularPreprocessor(
            numeric=data.prep.numeric, categorical=data.prep.categorical, target="species", task="multiclass"
        ).fit(df[codes == 0])
        assert data.prep.to_dict() == reference.to_dict()
        expected = reference.transform(df[codes == 2])
        assert np.array_equal(np.asarray(data.x["test"]["cat__band"]), expected["cat__band"])
        flat = data.baseline_inputs()[2]  # every test row, read from disk a slice at a time
        assert np.allclose(flat[0 : len(flat)], reference.transform_flat(df[codes == 2]))
    finally:
        data.stream.close()


def test_inspect_samples_a_table_too_big_for_memory(monkeypatch):
    monkeypatch.setattr(stream_module, "STREAM_ABOVE_BYTES", 10_000)
    findings = deepwise.inspect(PENGUINS, target="species")
    assert findings[0].code == "sampled" and findings[0].evidence["rows"] == 344
    assert any(f.code != "sampled" for f in findings)


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_a_streamed_run_killed_mid_training_resumes_on_the_same_split(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "deepwise.yaml"
    config.write_text(
        f"problem: {{target: species}}\ndata: {{path: '{PENGUINS}', in_memory: false}}\n"
        "training: {epochs: 6, checkpoint_every_s: 0, early_stopping: {enabled: false}, report: false}\n"
    )
    run_dir = tmp_path / "run"

    def cli(*args, failpoint=None):
        env = {k: v for k, v in __import__("os").environ.items() if k != "DEEPWISE_FAILPOINT"}
        if failpoint:
            env["DEEPWISE_FAILPOINT"] = failpoint
        cmd = [sys.executable, "-m", "deepwise.cli", *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

    killed = cli("train", config, "--run-dir", run_dir, failpoint="state.npz:3")
    assert killed.returncode == -9, killed.stdout + killed.stderr
    split = json.loads((run_dir / "manifest.json").read_text())["data"]["split"]
    resumed = cli("train", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = deepwise.load_run(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["data"]["streamed"] is True and manifest["data"]["split"] == split
    assert [row["epoch"] for row in run.history.to_dict("records")] == list(range(1, 7))
    assert run.config.data.in_memory is False
