"""Sharing a run's model outside deepwise: a colleague with only Keras and JAX loads ``model.keras`` in a plain Python
process (deepwise never imported) and gets the same predictions on preprocessed inputs; the model card says how."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

LOADER = """
import os, sys
os.environ["KERAS_BACKEND"] = "jax"  # what the model card tells a colleague to do
import keras, numpy as np
model = keras.saving.load_model(sys.argv[1], compile=False)
np.save(sys.argv[3], np.asarray(model.predict(np.load(sys.argv[2]), verbose=0)))
assert not any(name.startswith("deepwise") for name in sys.modules), "deepwise was imported"
"""


@pytest.mark.slow  # a fresh Python process (8 s): to the slow suite so that `make test` stays under 5 minutes
def test_model_keras_loads_in_a_plain_process_with_keras_and_jax(penguins_run, tmp_path):
    rows = pd.read_csv(penguins_run.config.data.path).head(40)
    arrays = penguins_run.preprocessor.transform(rows)
    assert list(arrays) == ["features"]  # penguins' categories are one-hot: one input array
    np.save(tmp_path / "x.npy", arrays["features"])
    model_file = str(penguins_run.path / "model.keras")
    subprocess.run(
        [sys.executable, "-I", "-c", LOADER, model_file, tmp_path / "x.npy", tmp_path / "y.npy"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    outside = np.load(tmp_path / "y.npy")
    np.testing.assert_allclose(outside, penguins_run.predictor.raw_output(rows), rtol=1e-5, atol=1e-6)
    card = (penguins_run.path / "MODEL_CARD.md").read_text()
    assert 'os.environ["KERAS_BACKEND"] = "jax"' in card and "keras.saving.load_model" in card
