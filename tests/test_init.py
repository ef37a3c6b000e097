"""deepwise.models.init: NumPy draws the initial weights while a model is built, from Keras' own distributions."""

from __future__ import annotations

import numpy as np
import pytest

from deepwise.backend import keras_module
from deepwise.models.init import host_initializers

keras = keras_module()
inits = keras.initializers


@pytest.mark.parametrize(
    ("initializer", "shape"),
    [
        (inits.GlorotUniform(), (3, 3, 16, 32)),
        (inits.GlorotNormal(), (64, 32)),
        (inits.HeNormal(), (3, 3, 8, 64)),
        (inits.LecunUniform(), (200, 10)),
        (inits.RandomUniform(-0.05, 0.05), (500, 12)),
        (inits.RandomNormal(0.5, 0.2), (100, 40)),
        (inits.TruncatedNormal(0.0, 0.3), (100, 40)),
    ],
)
def test_numpy_draws_follow_keras_distributions(initializer, shape):
    keras.utils.set_random_seed(0)
    theirs = np.asarray(initializer(shape, dtype="float32"))
    with host_initializers(seed=0):
        ours = np.asarray(initializer(shape, dtype="float32"))
    assert ours.shape == shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours.mean(), theirs.mean(), atol=0.02 + 0.05 * theirs.std())
    np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.08)
    np.testing.assert_allclose(np.abs(ours).max(), np.abs(theirs).max(), rtol=0.25)  # same bounds / truncation


@pytest.mark.parametrize("shape", [(32, 128), (128, 32), (3, 3, 8, 8)])
def test_numpy_orthogonal_is_orthogonal(shape):
    with host_initializers(seed=1):
        q = np.asarray(inits.Orthogonal(gain=2.0)(shape)).reshape(-1, shape[-1])
    small = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(small, 4.0 * np.eye(len(small)), atol=1e-4)


def test_seeded_reproducible_restored_and_config_unchanged():
    def build():
        inputs = keras.Input((7,))
        return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(5)(inputs)))

    keras.utils.set_random_seed(3)  # as build_model does: Keras gives each initializer a seed from it
    with host_initializers(seed=3):
        a = build()
    keras.utils.set_random_seed(3)
    with host_initializers(seed=3):
        b = build()
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert a.layers[1].get_config()["kernel_initializer"]["class_name"] == "GlorotUniform"
    outside = keras.initializers.GlorotUniform(seed=5)
    keras.utils.set_random_seed(5)
    with host_initializers(seed=5):
        inside = np.asarray(outside((4, 4)))
    assert not np.array_equal(np.asarray(outside((4, 4))), inside)  # Keras' own draws again outside the block


def test_zeros_and_ones_are_numpy_too_so_building_and_the_optimizer_compile_nothing():
    with host_initializers(seed=0):
        zeros, ones = np.asarray(inits.Zeros()((4, 3))), np.asarray(inits.Ones()((5,), dtype="float16"))
    assert not zeros.any() and zeros.dtype == np.float32
    assert (ones == 1).all() and ones.dtype == np.float16
    import logging

    import jax

    compiled: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: compiled.append(record.getMessage())
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles(), host_initializers(seed=0):
            inputs = keras.Input((11,))
            model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(19)(inputs)))
            model.compile(optimizer="adam", loss="mse")
            model.optimizer.build(model.trainable_variables)  # Adam's zeroed slots, one per weight shape
    finally:
        logger.removeHandler(handler)
    slots = [v for v in model.optimizer.variables if v.shape == (19, 3)]
    assert slots and not np.asarray(slots[0].value).any()
    assert not [m for m in compiled if "broadcast_in_dim" in m], compiled  # no fill program per weight shape
    assert not [m for m in compiled if "jit(stage)" in m and "19" in m], compiled  # nor a conversion program
