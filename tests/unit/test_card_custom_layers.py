"""The model card says which custom layers `model.keras` needs (text, segmentation and generative runs have them),
instead of calling every model file plain Keras."""

from __future__ import annotations

from deepwise.backend import keras_module
from deepwise.render.card import custom_layer_names


def test_custom_layers_are_read_from_the_keras_file(tmp_path):
    keras = keras_module()

    @keras.saving.register_keras_serializable(package="deepwise_test")
    class Doubling(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    inputs = keras.Input((3,))
    plain = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    custom = keras.Model(inputs, keras.layers.Dense(2)(Doubling()(inputs)))
    plain.save(tmp_path / "plain.keras")
    custom.save(tmp_path / "custom.keras")
    assert custom_layer_names(tmp_path / "plain.keras") == []
    assert custom_layer_names(tmp_path / "custom.keras") == ["Doubling"]
    assert custom_layer_names(tmp_path / "missing.keras") == []
