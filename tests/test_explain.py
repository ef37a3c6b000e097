"""deepwise explain: every layer in words with its parameter count, the first units as formulas of named inputs
(tables), feature maps and saliency maps of test images (CNNs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deepwise
from deepwise.backend import keras_module
from deepwise.explain import layer_table, unit_formulas


def test_layers_and_units_of_a_small_network_are_described_exactly():
    keras = keras_module()
    inputs = keras.Input((3,), name="features")
    hidden = keras.layers.Dense(2, activation="relu", name="dense_1")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="output")(keras.layers.Dropout(0.25)(hidden)))
    model.get_layer("dense_1").set_weights([np.array([[0.5, 0.0], [-2.0, 0.1], [0.25, 0.2]]), np.array([0.1, -0.3])])
    rows = {row["name"]: row for row in layer_table(model)}
    assert rows["dense_1"]["parameters"] == 8 and rows["dense_1"]["from"] == "3 x 2 kernel + 2 bias"
    assert rows["dense_1"]["computes"] == "activation(W·x + b): 3 inputs -> 2 units (relu)"
    assert "25%" in next(r["computes"] for r in rows.values() if r["type"] == "Dropout")
    units = unit_formulas(model, ["a", "b", "c"])
    assert units[0]["formula"] == "unit 1 = relu(-2.00 b +0.50 a +0.25 c +0.10)"  # the strongest unit first
    assert units[1]["weights"] == {"c": 0.2, "b": 0.1, "a": 0.0}


@pytest.mark.slow
def test_explain_a_table_run_and_an_image_run(tmp_path, penguins_csv, cli):
    table = deepwise.train({"problem": {"target": "species"}, "data": {"path": str(penguins_csv)},
                            "training": {"report": False}}, runs_dir=tmp_path, verbose=False)  # fmt: skip
    result = cli("explain", table.path)
    assert result.exit_code == 0, result.output
    assert "unit" in result.output and "kernel" in result.output
    found = json.loads((table.path / "explain" / "explain.json").read_text())
    assert sum(layer["parameters"] for layer in found["layers"]) == found["parameters"]

    from sklearn.datasets import load_digits

    digits, folder = load_digits(), tmp_path / "digits"
    folder.mkdir()
    np.save(folder / "images.npy", (digits.images * 255 / 16).astype(np.uint8))
    np.save(folder / "labels.npy", digits.target)
    images = deepwise.train({"problem": {"target": "label"}, "data": {"path": str(folder)},
                             "training": {"epochs": 5, "report": False}}, runs_dir=tmp_path, verbose=False)  # fmt: skip
    from deepwise.explain import explain

    found = explain(images.path, tmp_path / "views")
    views = found["images"]
    assert [v["layer"] for v in views["feature_maps"]][:1] == ["conv1"]
    for key in ("most_confident_right", "most_confident_wrong"):
        assert (tmp_path / "views" / views[key]["png"]).stat().st_size > 1000
    # a transferred network: the convolutions live inside the reused base, and are still shown
    transferred = deepwise.train({"problem": {"target": "label"}, "data": {"path": str(folder)},
                                  "model": {"from_run": str(images.path)}, "training": {"epochs": 2, "report": False}},
                                 runs_dir=tmp_path, verbose=False)  # fmt: skip
    nested = explain(transferred.path, tmp_path / "nested")["images"]["feature_maps"]
    assert [v["layer"] for v in nested][:1] == ["conv1"]
    # in Jupyter a run shows its verdict, the network next to the baselines, and its learning curves
    shown = table._repr_html_()
    assert f"Verdict: {table.metrics['verdict']['code']}" in shown and "<td>the network</td>" in shown
    assert "<td>linear</td>" in shown and '<img src="data:image/svg+xml;base64,' in shown
