"""The truth-telling parts: baselines on the same split, the verdict, the OOD guard, feature importance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import deepwise
from deepwise.evaluation import VERDICTS


def _train(df: pd.DataFrame, target: str, tmp_path, **config) -> deepwise.Run:
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    cfg = {"problem": {"target": target}, "data": {"path": str(path)}, **config}
    return deepwise.train(cfg, runs_dir=tmp_path / "runs", verbose=False, force=True)


def _claims_help_without_evidence(run: deepwise.Run) -> bool:
    v = run.metrics["verdict"]
    return v["code"] == "deep_learning_helps" and v["evidence"]["network_minus_best_baseline"]["ci95_low"] <= 0


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) for n in ("wine", "breast_cancer")])
def test_real_data_verdict_is_backed_by_evidence(tmp_path, name):
    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    run = _train(frame, "target", tmp_path)
    metrics = run.metrics
    assert set(metrics["baselines"]) == {"dummy", "linear", "gradient_boosting"}
    for scores in metrics["baselines"].values():  # same test rows, same metrics as the network
        assert scores["n"] == metrics["test"]["n"] and "macro_f1" in scores
    assert metrics["verdict"]["code"] in VERDICTS
    assert not _claims_help_without_evidence(run)
    assert metrics["verdict"]["message"]
    importance = metrics["feature_importance"]["columns"]
    assert set(importance) == set(run.config.data.inputs)


def test_penguins_verdict_is_backed_by_evidence(penguins_run):
    assert not _claims_help_without_evidence(penguins_run)
    top = next(iter(penguins_run.metrics["feature_importance"]["columns"]))
    assert top in {"bill_length_mm", "flipper_length_mm", "bill_depth_mm", "island", "body_mass_g"}


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_exact_sum_looks_like_a_computation(tmp_path):
    frame = datasets.load_diabetes(as_frame=True, scaled=False).frame.drop(columns=["target"])
    frame["total"] = frame["bmi"] + frame["bp"]  # the target is an exact sum of two real inputs
    run = _train(frame, "total", tmp_path)
    assert run.metrics["verdict"]["code"] == "looks_like_a_computation"
    assert "computation" in run.metrics["verdict"]["message"]


def test_forty_rows_is_not_enough_data(tmp_path, penguins_csv):
    frame = pd.read_csv(penguins_csv).sample(40, random_state=0)
    run = _train(frame, "species", tmp_path)
    assert run.metrics["verdict"]["code"] == "not_enough_data"


@pytest.mark.slow  # 9 s: to the slow suite so that `make test` stays under 5 minutes with two more kinds
def test_pure_noise_target_is_not_sold_as_learning(tmp_path):
    frame = datasets.load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    frame["coin"] = np.random.default_rng(0).integers(0, 2, len(frame))
    run = _train(frame, "coin", tmp_path)
    assert run.metrics["verdict"]["code"] in {"worse_than_chance", "simpler_model_suffices"}


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    frame = datasets.load_digits(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    return _train(frame, "target", tmp_path_factory.mktemp("digits"), training={"epochs": 60})


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_guard_false_alarm_rate_is_about_the_stated_rate(digits_run):
    guard = digits_run.metrics["guard"]
    assert guard["false_alarm_rate_target"] == 0.01
    # measured on 360 test rows the guard never saw: about 1 %, allowing for sampling noise (3 sd ~ 1.6 %)
    assert guard["test_flag_rate"] <= 0.03


def test_guard_flags_out_of_range_and_foreign_rows(tmp_path):
    wine = datasets.load_wine(as_frame=True)
    run = _train(wine.frame, "target", tmp_path)
    rows = wine.frame.drop(columns=["target"])
    far = rows * 10  # values far out of the training range
    assert run.predict(far)["ood"].mean() >= 0.95
    # a different data set with the same columns: breast-cancer measurements under wine's column names
    other = datasets.load_breast_cancer(as_frame=True).frame.iloc[:, : rows.shape[1]]
    other.columns = rows.columns
    assert run.predict(other)["ood"].mean() >= 0.95
    report = run.predictor.check(far)
    assert report.out_of_range and max(report.out_of_range.values()) > 100


def test_guard_round_trips_through_the_run(penguins_run, penguins_csv):
    rows = pd.read_csv(penguins_csv).drop(columns=["species"])
    scores = penguins_run.predict(rows)["ood_score"]
    again = deepwise.load_run(penguins_run.path).predict(rows)["ood_score"]
    assert np.allclose(scores, again)


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_leak_stops_training_unless_forced(cli, tmp_path, penguins_csv):
    frame = pd.read_csv(penguins_csv)
    frame["species_code"] = frame["species"].map({"Adelie": 0, "Chinstrap": 1, "Gentoo": 2})
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    res = cli("train", path, "--target", "species", "--runs-dir", tmp_path / "runs")
    assert res.exit_code == 2 and "species_code" in res.output and "--force" in res.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    res = cli("train", path, "--target", "species", "--runs-dir", tmp_path / "runs", "--force", "-q")
    assert res.exit_code == 0, res.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    findings = pd.read_json(run_dir / "findings.json")
    assert "target_leakage" in set(findings["code"])


def test_inspect_cli_writes_json(cli, tmp_path, penguins_csv):
    out = tmp_path / "f.json"
    res = cli("inspect", penguins_csv, "--target", "species", "--json", out)
    assert res.exit_code == 0, res.output
    assert "class_balance" in out.read_text()


WEATHER = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "weather"


@pytest.mark.parametrize(
    ("target", "shown"),
    [("range", "max("), pytest.param("basel_warmer", "BASEL_temp_mean > BUDAPEST_temp_mean", marks=pytest.mark.slow)],
)
def test_a_target_computed_from_the_inputs_gets_its_formula(tmp_path, target, shown):
    """The lesson's "computing totals, averages, ranges" and a rule comparing two inputs, on real weather columns:
    the verdict is looks_like_a_computation with the formula, found on the training rows only (a rule needs 200
    held-out rows to be claimed) and measured on the test rows."""
    columns = ["BASEL_temp_mean", "BUDAPEST_temp_mean", "BASEL_pressure", "DE_BILT_pressure", "BASEL_humidity"]
    frame = pd.read_csv(WEATHER / "weather_prediction_dataset.csv", usecols=columns)
    temps = frame[["BASEL_temp_mean", "BUDAPEST_temp_mean"]]
    frame["range"] = temps.max(axis=1) - temps.min(axis=1)
    frame["basel_warmer"] = np.where(frame["BASEL_temp_mean"] > frame["BUDAPEST_temp_mean"], "yes", "no")
    frame = frame.drop(columns=[c for c in ("range", "basel_warmer") if c != target])
    run = _train(frame, target, tmp_path, training={"epochs": 10})
    v = run.metrics["verdict"]
    assert v["code"] == "looks_like_a_computation", v["message"]
    assert shown in v["message"] and v["evidence"]["formula"]["test_score"] >= 0.999
