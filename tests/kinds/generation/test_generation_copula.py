"""The baseline table generators on real tables (penguins, scikit-learn's wine): marginals kept, the copula keeps
correlations that independent marginals lose (measured by the real-vs-synthetic classifier and TSTR), JSON state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

from deepwise.kinds.generation.copula import TableGenerator, fit_gaussian_copula, fit_independent_marginals
from deepwise.kinds.generation.quality import (
    distance_to_closest_record,
    real_vs_synthetic_auc,
    train_synthetic_test_real,
)
from deepwise.kinds.generation.table_schema import encode_rows, infer_schema


@pytest.fixture(scope="module")
def penguins(penguins_csv) -> pd.DataFrame:
    return pd.read_csv(penguins_csv)


def test_schema_of_penguins(penguins):
    schema = infer_schema(penguins)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds["species"] == "categorical" and kinds["year"] == "categorical"  # 3 whole-number values
    assert kinds["body_mass_g"] == "numeric" and schema.column("bill_length_mm").decimals == 1
    assert encode_rows(penguins, schema).shape == (344, 20)
    with_id = penguins.assign(tag=[f"P{i}" for i in range(len(penguins))])
    assert infer_schema(with_id).left_out[0]["column"] == "tag"


def test_marginals_are_kept(penguins):
    synthetic = fit_gaussian_copula(penguins, seed=0).sample(3000, seed=1)
    real_share = penguins.species.value_counts(normalize=True)
    assert np.allclose(synthetic.species.value_counts(normalize=True)[real_share.index], real_share, atol=0.03)
    mass = synthetic.body_mass_g.dropna()
    assert mass.min() >= penguins.body_mass_g.min() and mass.max() <= penguins.body_mass_g.max()
    assert (mass % 1 == 0).all() and (synthetic.bill_length_mm.dropna() * 10 % 1 < 1e-6).all()
    assert synthetic.sex.isna().mean() == pytest.approx(penguins.sex.isna().mean(), abs=0.02)
    assert set(synthetic.year.dropna()) <= {2007, 2008, 2009}


def test_json_round_trip_and_seed(penguins):
    copula = fit_gaussian_copula(penguins, seed=0)
    again = TableGenerator.from_json(json.loads(json.dumps(copula.to_json())))
    assert again.sample(50, seed=3).equals(copula.sample(50, seed=3))
    assert not copula.sample(50, seed=3).equals(copula.sample(50, seed=4))


@pytest.mark.parametrize("table", ["penguins", "wine"])
def test_copula_beats_independent_marginals(table, penguins):
    if table == "wine":
        frame, target = load_wine(as_frame=True).frame, "target"
    else:
        frame, target = penguins, "species"
    train, test = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame[target])
    schema = infer_schema(train)
    results = {}
    for name, generator in (
        ("independent", fit_independent_marginals(train, schema)),
        ("copula", fit_gaussian_copula(train, schema, seed=0)),
    ):
        synthetic = generator.sample(len(train), seed=1)
        results[name] = {
            "auc": real_vs_synthetic_auc(train, synthetic, schema, seed=0)["auc"],
            "tstr": train_synthetic_test_real(train, test, synthetic, target, schema)["ratio"],
            "dcr": distance_to_closest_record(synthetic, train, test, schema),
        }
    assert results["copula"]["auc"] < results["independent"]["auc"]
    assert results["copula"]["tstr"] > results["independent"]["tstr"] + 0.2
    assert results["copula"]["dcr"]["exact_copies"] == 0
