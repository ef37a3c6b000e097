"""`inspect` on real data (penguins, scikit-learn's wine, breast cancer and diabetes) with planted defects."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from deepwise.errors import DataError, DeepwiseError
from deepwise.inspection import Finding, Findings, inspect


@pytest.fixture(scope="module")
def penguins(penguins_csv) -> pd.DataFrame:
    return pd.read_csv(penguins_csv)


def codes(findings: Findings) -> set[tuple[str, str]]:
    return {(f.code, f.severity) for f in findings}


def only(findings: Findings, code: str, severity: str | None = None) -> Finding:
    matches = [f for f in findings if f.code == code and (severity is None or f.severity == severity)]
    assert len(matches) == 1, f"expected one {code}/{severity} finding, got {[(f.code, f.severity) for f in findings]}"
    return matches[0]


def test_clean_penguins_has_no_problem(penguins_csv):
    findings = inspect(penguins_csv, target="species")
    assert findings.problems == []
    overview = only(findings, "overview")
    assert overview.evidence["rows"] == 344 and overview.evidence["task"] == "multiclass"
    types = only(findings, "column_types").evidence["column_types"]
    assert types["island"] == "categorical" and types["body_mass_g"] == "numeric" and types["species"] == "target"
    assert only(findings, "target_leakage").severity == "info"  # no false leak
    assert only(findings, "missing_values").severity == "info"  # 'sex' misses 3.2%
    assert only(findings, "duplicate_rows").severity == "info"
    balance = only(findings, "class_balance", "info")
    assert balance.evidence["counts"] == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}
    assert balance.evidence["majority_accuracy"] == pytest.approx(152 / 344)


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer, load_diabetes])
def test_clean_sklearn_data_has_no_problem(loader):
    findings = inspect(loader(as_frame=True).frame, target="target")
    assert findings.problems == []
    assert only(findings, "target_leakage").severity == "info"


def test_planted_numeric_leak_is_a_problem(penguins):
    df = penguins.copy()
    rng = np.random.default_rng(1)
    code = df["species"].map({"Adelie": 0, "Chinstrap": 1, "Gentoo": 2}).to_numpy(dtype=float)
    df["species_score"] = code + rng.normal(scale=0.05, size=len(df))  # a numeric encoding of the target
    findings = inspect(df, target="species")
    leak = only(findings, "target_leakage", "problem")
    assert leak.columns == ["species_score"]
    assert leak.evidence["score"] >= 0.99
    assert "data.exclude" in leak.action and "--force" in leak.action


def test_planted_text_leak_and_noisy_copy(penguins):
    df = penguins.copy()
    rng = np.random.default_rng(2)
    df["label_copy"] = df["species"].str.upper()  # a categorical copy of the target
    noisy = df["species"].copy()
    flip = rng.choice(len(df), size=10, replace=False)  # 3% of the labels wrong: very predictive, not perfect
    noisy.iloc[flip] = noisy.iloc[flip].map({"Adelie": "Gentoo", "Gentoo": "Chinstrap", "Chinstrap": "Adelie"})
    df["field_note"] = noisy
    findings = inspect(df, target="species")
    leaks = {f.columns[0]: f for f in findings if f.code == "target_leakage"}
    assert leaks["label_copy"].severity == "problem"
    assert leaks["field_note"].severity == "warning"
    assert 0.95 <= leaks["field_note"].evidence["score"] < 0.99


def test_planted_regression_leak():
    df = load_diabetes(as_frame=True).frame
    rng = np.random.default_rng(3)
    df["target_in_other_units"] = df["target"] * 0.1 + rng.normal(scale=0.01 * df["target"].std() * 0.1, size=len(df))
    findings = inspect(df, target="target")
    leak = only(findings, "target_leakage", "problem")
    assert leak.columns == ["target_in_other_units"] and leak.evidence["metric"] == "R²"


def test_planted_duplicates(penguins):
    df = pd.concat([penguins, penguins.sample(30, random_state=0)], ignore_index=True)
    findings = inspect(df, target="species")
    dup = only(findings, "duplicate_rows", "warning")
    assert dup.evidence["duplicate_rows"] == 30
    assert dup.evidence["share"] == pytest.approx(30 / len(df))


def test_identical_inputs_with_different_labels(penguins):
    df = penguins.dropna().reset_index(drop=True)
    twins = df.iloc[:5].copy()
    twins["species"] = "Gentoo"  # the first rows are Adelie
    findings = inspect(pd.concat([df, twins], ignore_index=True), target="species")
    dup = only(findings, "duplicate_rows", "warning")
    assert dup.evidence["duplicate_rows"] == 0
    assert dup.evidence["conflicting_rows"] == 10 and dup.evidence["conflicting_groups"] == 5


def test_constant_and_id_columns(penguins):
    df = penguins.copy()
    df["lab"] = "Palmer Station"
    df["sample_id"] = np.arange(len(df))
    df["specimen"] = [f"PAL-{i:04d}" for i in range(len(df))]
    findings = inspect(df, target="species")
    constant = only(findings, "constant_column", "warning")
    assert constant.columns == ["lab"]
    ids = only(findings, "id_column", "warning")
    assert ids.columns == ["sample_id", "specimen"]
    types = only(findings, "column_types").evidence["column_types"]
    assert types["lab"] == "constant" and types["sample_id"] == "id-like" and types["specimen"] == "id-like"
    assert findings.problems == []  # sample_id follows the species order but is left out, so it is no leak


def test_duplicates_ignore_id_columns(penguins):
    df = pd.concat([penguins, penguins.iloc[:30]], ignore_index=True)
    df["sample_id"] = np.arange(len(df))
    dup = only(inspect(df, target="species"), "duplicate_rows", "warning")
    assert dup.evidence["duplicate_rows"] == 30 and dup.evidence["ignored_columns"] == ["sample_id"]


def test_imbalance_95_5_is_flagged():
    df = load_breast_cancer(as_frame=True).frame
    benign, malignant = df[df["target"] == 1], df[df["target"] == 0]
    df = pd.concat([benign, malignant.sample(19, random_state=0)])  # 357 vs 19: 95% / 5%
    findings = inspect(df, target="target")
    balance = only(findings, "class_balance", "warning")
    assert balance.evidence["majority_accuracy"] == pytest.approx(357 / 376)
    assert "balanced accuracy" in balance.action and "macro F1" in balance.action
    size = only(findings, "data_size", "warning")
    assert size.evidence["min_class_rows"] == 19


def test_missing_values_warning(penguins):
    df = penguins.copy()
    df.loc[df.index[::5], "flipper_length_mm"] = np.nan  # 20% missing
    findings = inspect(df, target="species")
    warning = only(findings, "missing_values", "warning")
    assert warning.columns == ["flipper_length_mm"]
    assert warning.evidence["columns"]["flipper_length_mm"]["share"] == pytest.approx(0.2, abs=0.01)
    assert "median" in warning.message
    assert "sex" in only(findings, "missing_values", "info").columns


def test_outliers_skew_and_correlation(penguins):
    df = penguins.copy()
    df.loc[3, "body_mass_g"] = 99999  # a typo-sized value
    df["bill_length_cm"] = df["bill_length_mm"] / 10
    df["bill_area"] = np.exp(df["bill_length_mm"] / 4)  # heavily right-skewed
    findings = inspect(df, target="species")
    assert "body_mass_g" in only(findings, "outliers", "warning").columns
    skew = only(findings, "skew", "info")
    assert "bill_area" in skew.columns and "log(x)" in skew.message
    corr = only(findings, "correlated_features", "warning")  # r = 1: one column is a copy of the other
    assert {"bill_length_mm", "bill_length_cm"} <= set(corr.columns)


def test_numeric_column_with_junk_cells(penguins):
    df = penguins.copy()
    df["bill_length_mm"] = df["bill_length_mm"].astype(str)
    df.loc[[5, 9], "bill_length_mm"] = "n/a?"
    junk = only(inspect(df, target="species"), "numeric_junk", "problem")
    assert junk.columns == ["bill_length_mm"] and "na_values" in junk.action


def test_data_size_and_parameter_count(penguins):
    findings = inspect(penguins, target="species")
    size = only(findings, "data_size", "warning")
    # 18 features (5 numeric + 4 missing indicators + island 5 + sex 4) -> 64 -> 32 -> 3 classes
    assert size.evidence["features"] == 18
    assert size.evidence["parameters"] == 19 * 64 + 65 * 32 + 33 * 3
    assert size.evidence["rows"] == 344 and size.evidence["min_class_rows"] == 68
    big = pd.concat([penguins.assign(copy=i) for i in range(4)], ignore_index=True)  # 1376 rows
    size = only(inspect(big, target="species", hidden_units=[8]), "data_size")
    assert size.severity == "info" and size.evidence["parameters"] < 1376


def test_without_target_skips_target_checks(penguins):
    findings = inspect(penguins)
    found = {f.code for f in findings}
    assert "overview" in found and "data_size" in found
    assert not found & {"class_balance", "target_leakage"}


def test_target_errors(penguins):
    with pytest.raises(DataError, match="Did you mean 'species'"):
        inspect(penguins, target="spieces")
    with pytest.raises(DeepwiseError, match="single value"):
        inspect(penguins.assign(species="Adelie"), target="species")


def test_json_html_and_render(penguins):
    df = penguins.copy()
    df["<b>note</b>"] = df["species"]
    findings = inspect(df, target="species")
    data = json.loads(findings.to_json())
    assert data == findings.to_dicts()
    assert {"code", "severity", "message", "action", "columns", "evidence"} <= set(data[0])
    assert all(d["severity"] in ("info", "warning", "problem") for d in data)
    page = findings._repr_html_()
    assert "<table" in page and "&lt;b&gt;note&lt;/b&gt;" in page and "<b>note</b>" not in page
    console = Console(record=True, width=120)
    findings.render(console)
    text = console.export_text()
    assert "target_leakage" in text and "problem" in text and "<b>note</b>" in text
