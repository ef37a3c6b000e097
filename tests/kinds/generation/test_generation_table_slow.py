"""The issue's bar for synthetic tables, through what a user types: `deepwise train penguins.csv --target species
--task generate` (the Palmer penguins as packaged by palmerpenguins, read with importlib.resources), default
settings. The table VAE's rows are hard to tell from real ones (AUC <= 0.75) and train a species classifier almost
as well as the real rows (>= 0.9x); it beats the Gaussian copula, copies no row, and `deepwise generate -n 1000`
writes rows marked as generated. Then the same defaults on scikit-learn's wine (another table; numbers in README)."""

from __future__ import annotations

import importlib.resources
import json
import shutil

import pandas as pd
import pytest

import deepwise
from deepwise.kinds.generation.marking import table_mark

pytestmark = pytest.mark.slow


def _penguins(folder):
    path = folder / "penguins.csv"
    with (importlib.resources.files("palmerpenguins") / "data" / "penguins.csv").open("rb") as source:
        with path.open("wb") as copy:
            shutil.copyfileobj(source, copy)
    return path


def test_penguins_synthetic_table_bar(tmp_path, cli):
    path = _penguins(tmp_path)
    result = cli("train", path, "--target", "species", "--task", "generate", "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    run = deepwise.load_run(next((tmp_path / "runs").iterdir()))
    assert run.kind.name == "generative_table" and run.metrics.verdict.code == "deep_learning_helps"
    vae, copula = run.metrics["test"], run.metrics["baselines"]["gaussian_copula"]
    summary = json.dumps({"vae": vae, "copula": copula})
    assert vae["real_vs_synthetic_auc"] <= 0.75, summary  # measured (seeds 42, 0, 1): 0.603, 0.645, 0.660
    assert vae["tstr_ratio"] >= 0.9, summary  # measured: 0.971, 1.0, 1.0
    assert vae["real_vs_synthetic_auc"] < copula["real_vs_synthetic_auc"], summary  # copula 0.878, 0.827, 0.855
    assert vae["exact_copies"] == 0 and vae["closer_than_real_share"] <= 0.15, summary

    out = tmp_path / "synthetic.csv"
    result = cli("generate", run.path, "-n", "1000", "-o", out)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert len(rows) == 1000 and table_mark(rows) == {"marked_rows": 1000, "rows": 1000, "methods": ["table_vae"]}
    assert set(rows.species) <= {"Adelie", "Chinstrap", "Gentoo"} and rows.columns[0] == "deepwise_generated"
    again = run.generate(1000, seed=0).data
    pd.testing.assert_frame_equal(again.drop(columns="deepwise_generated"), rows.drop(columns="deepwise_generated"),
                                  check_dtype=False)  # fmt: skip
    report = (run.path / "report.html").read_text(encoding="utf-8")
    assert "A statistical imagination, measured" in report and 'id="generated-samples"' in report
    assert cli("generate", run.path, "-n", "0").exit_code == 2


def test_wine_defaults(tmp_path):
    """The same defaults on a table of 13 numeric measurements of 178 wines (3 cultivars)."""
    from sklearn.datasets import load_wine

    path = tmp_path / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    run = deepwise.train({"problem": {"target": "target", "task": "generate"}, "data": {"path": str(path)},
                          "training": {"report": False}}, runs_dir=tmp_path / "runs", verbose=False)  # fmt: skip
    vae, baselines = run.metrics["test"], run.metrics["baselines"]
    summary = json.dumps({"vae": vae, "baselines": baselines})
    # measured (seed 42): VAE AUC 0.68, TSTR 1.0; independent marginals 0.84, 0.36; Gaussian copula 0.57, 0.61.
    # Thirteen roughly Gaussian measurements are what a copula models well: the verdict says so
    assert vae["real_vs_synthetic_auc"] < baselines["independent_marginals"]["real_vs_synthetic_auc"], summary
    assert vae["tstr_ratio"] > baselines["independent_marginals"]["tstr_ratio"], summary
    assert vae["exact_copies"] == 0, summary
    assert run.metrics.verdict.code == "simpler_model_suffices", summary
