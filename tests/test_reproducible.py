"""Two runs with the same seed on the same machine give identical results: the same split, the same weights after
every epoch (history.csv), the same test metrics and the same predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import deepwise


@pytest.mark.slow
def test_the_same_seed_gives_identical_runs(tmp_path, penguins_csv):
    config = {"problem": {"target": "species"}, "data": {"path": str(penguins_csv)}, "seed": 7,
              "training": {"report": False, "epochs": 40}}  # fmt: skip
    first, second = (deepwise.train(config, runs_dir=tmp_path / name, verbose=False) for name in ("a", "b"))
    losses = [run.history.drop(columns=["seconds"], errors="ignore") for run in (first, second)]
    pd.testing.assert_frame_equal(*losses)
    assert first.metrics["test"] == second.metrics["test"]
    rows = pd.read_csv(penguins_csv).drop(columns=["species"]).head(50)
    a, b = first.predict(rows).filter(like="proba_"), second.predict(rows).filter(like="proba_")
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    other = deepwise.train({**config, "seed": 8}, runs_dir=tmp_path / "c", verbose=False)
    assert not other.history["loss"].equals(first.history["loss"])  # the seed matters: the test can fail


def test_a_quiet_run_trains_the_same_network_as_one_that_prints(tmp_path, penguins_csv):
    """A quiet run skips the speed probe that feeds the printed estimate; the probe puts every variable back (the
    dropout layers' seed states included), so both train the same network."""
    import io

    from rich.console import Console

    config = {"problem": {"target": "species"}, "data": {"path": str(penguins_csv)}, "seed": 3,
              "training": {"report": False, "epochs": 30}}  # fmt: skip
    quiet = deepwise.train(config, runs_dir=tmp_path / "quiet", verbose=False)
    printed = deepwise.train(config, runs_dir=tmp_path / "printed", console=Console(file=io.StringIO()))
    assert "probe" in printed.manifest.timings and "probe" not in quiet.manifest.timings
    pd.testing.assert_frame_equal(*(run.history.drop(columns=["seconds"], errors="ignore") for run in (quiet, printed)))
    for a, b in zip(quiet.model.get_weights(), printed.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
