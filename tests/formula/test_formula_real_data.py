"""The formula finder on real data sets (all offline): no formula is claimed where none exists, and the exact
relations some real tables do contain are found.

No formula: scikit-learn's diabetes, wine, breast_cancer and iris (``load_*``), the bundled penguins and weather
tables, and statsmodels' fair, randhie, anes96, modechoice and grunfeld (``statsmodels.datasets.<name>.load_pandas``,
shipped with statsmodels). The weather target BASEL_temp_mean is close to the mean of BASEL_temp_min and
BASEL_temp_max (R² about 0.994) but is not computed from them: a near miss, not a formula.

True findings in real tables: statsmodels' macrodata ``realint = tbilrate - infl``, star98's interaction columns
(``PERMINTE_AVSAL = PERMINTE * AVSALK``), anes96's ``logpopul = log(popul + 0.1)`` and, in the weather table, the
daily mean temperature of Montélimar, Perpignan and Tours, which is the mean of that day's minimum and maximum
(rounded to 0.1 °C).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepwise.formula import find_formula

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> pd.DataFrame:
    if name in ("diabetes", "wine", "breast_cancer", "iris"):
        from sklearn import datasets

        return getattr(datasets, f"load_{name}")(as_frame=True).frame
    if name == "penguins":
        return pd.read_csv(EXAMPLES / "penguins" / "penguins.csv")
    if name == "weather":
        return pd.read_csv(EXAMPLES / "weather" / "weather_prediction_dataset.csv")
    import importlib

    return importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data


def show(capsys: pytest.CaptureFixture, label: str, result) -> None:
    with capsys.disabled():
        near = result.near_miss or {}
        text = result.formula or f"(near miss) {near.get('formula')}"
        score = result.held_out_score if result.found else near.get("held_out_score")
        print(f"\n  [{label}] {result.task} found={result.found} {result.metric} {score:.5f}: {text}"[:260], end="")


NO_FORMULA = [
    ("diabetes", "target", "regression"),
    ("wine", "target", "multiclass"),
    ("breast_cancer", "target", "binary"),
    ("iris", "target", "multiclass"),
    ("penguins", "species", "multiclass"),
    ("penguins", "body_mass_g", "regression"),
    ("weather", "BASEL_sunshine", "regression"),
    ("weather", "BASEL_temp_mean", "regression"),
    ("fair", "affairs", "regression"),
    ("randhie", "mdvis", "regression"),
    ("anes96", "vote", "binary"),
    ("modechoice", "choice", "binary"),
    ("grunfeld", "invest", "regression"),
]


@pytest.mark.parametrize(("name", "target", "task"), NO_FORMULA, ids=[f"{n}-{t}" for n, t, _ in NO_FORMULA])
def test_no_formula_is_claimed(name: str, target: str, task: str, capsys: pytest.CaptureFixture) -> None:
    result = find_formula(load(name), target)
    show(capsys, f"{name}: {target}", result)
    assert result.task == task
    assert not result.found, result.message
    assert result.formula == "" and result.spec is None
    assert result.near_miss is not None and result.near_miss["formula"] in result.message
    bar = 0.999 if task == "regression" else 1.0
    assert result.near_miss["held_out_score"] < bar
    assert not result.budget_exhausted


TRUE_FINDINGS = [
    ("macrodata", "realint", "realint = tbilrate - infl", "linear"),
    ("star98", "PERMINTE_AVSAL", "PERMINTE_AVSAL = PERMINTE * AVSALK", "power_law"),
    ("anes96", "logpopul", "logpopul = log(popul + 0.1)", "unary"),
    (
        "weather",
        "MONTELIMAR_temp_mean",
        "MONTELIMAR_temp_mean = mean(MONTELIMAR_temp_min, MONTELIMAR_temp_max)",
        "aggregate",
    ),
    ("weather", "TOURS_temp_mean", "TOURS_temp_mean = mean(TOURS_temp_min, TOURS_temp_max)", "aggregate"),
]


@pytest.mark.parametrize(("name", "target", "formula", "kind"), TRUE_FINDINGS, ids=[t for _, t, _, _ in TRUE_FINDINGS])
def test_real_exact_relations_are_found(
    name: str, target: str, formula: str, kind: str, capsys: pytest.CaptureFixture
) -> None:
    result = find_formula(load(name), target, "regression")
    show(capsys, f"{name}: {target}", result)
    assert result.found, result.message
    assert result.formula == formula
    assert result.kind == kind
    assert result.held_out_score >= 0.999


def test_rounded_mean_is_called_almost_exact() -> None:
    """A daily mean rounded to 0.1 °C fits to R² 0.99997: found, and the message says the fit is close, not exact."""
    result = find_formula(load("weather"), "TOURS_temp_mean", "regression")
    assert result.found and result.held_out_score < 0.99999
    assert "almost exactly" in result.message and "not exact" in result.message
