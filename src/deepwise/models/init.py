"""Initial weights drawn by NumPy while a model is built, so that building compiles nothing.

Under JAX every Keras initializer call is an XLA program compiled for its weight's shape: the default CNN's six
``GlorotUniform`` kernels took 1.85 s of a 2.2 s build (cProfile, 2-core CPU), more than an epoch of training.
Inside :func:`host_initializers`, Keras' own initializer classes (variance scaling, i.e. Glorot / He / LeCun,
random uniform / normal, orthogonal) draw from the same distributions with a NumPy generator seeded from the run's
seed instead (each initializer's own seed when it has one: Keras gives every initializer an integer seed drawn
from the seed ``keras.utils.set_random_seed`` set, so a run's initial weights depend on its seed only). Their
configs are untouched, so saved models name Keras' initializers as before. Zeros and ones come from NumPy too:
each was a fill program compiled per weight shape (seven of them, 0.19 s, for the wine MLP's biases and Adam's
slots, which :func:`deepwise.training.model.build_model` builds inside the block).

Under JAX the drawn values go to the device as they are (``jax.device_put``, a plain transfer): a new variable
converts a NumPy value with ``jnp.array``, which in JAX 0.10 compiles a small program per shape (nine for the
diabetes MLP, 0.17 s of its 0.2 s build). ``set_weights`` and ``assign`` convert to the variable's dtype by a
transfer already.

Example:
    >>> with host_initializers(seed=42):
    ...     model = build_cnn(...)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np

from deepwise.backend import keras_module

_TRUNCATED_NORMAL_STD = 0.87962566103423978  # std of a unit normal truncated at +-2, as Keras corrects for it


def _fans(shape: tuple[int, ...], input_axes=None, output_axes=None) -> tuple[float, float]:
    """(fan_in, fan_out) as Keras computes them: kernels [..., in, out] with a receptive field in front."""
    if input_axes is not None and output_axes is not None:
        return float(math.prod(shape[a] for a in input_axes)), float(math.prod(shape[a] for a in output_axes))
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def _truncated_normal(rng: np.random.Generator, shape, stddev: float, mean: float = 0.0) -> np.ndarray:
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():  # redraw beyond two standard deviations, as truncated_normal does
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return mean + stddev * values


@contextlib.contextmanager
def host_initializers(seed: int) -> Iterator[None]:
    """Keras' random initializers draw with NumPy (seeded by ``seed``) inside this block."""
    keras = keras_module()
    init = keras.initializers
    shared = np.random.default_rng(seed)

    def rng_of(initializer) -> np.random.Generator:
        own = getattr(initializer, "seed", None)
        return np.random.default_rng(own) if isinstance(own, int) else shared

    def variance_scaling(self, shape, dtype=None):
        fan_in, fan_out = _fans(tuple(shape), getattr(self, "input_axes", None), getattr(self, "output_axes", None))
        n = {"fan_in": fan_in, "fan_out": fan_out}.get(self.mode, (fan_in + fan_out) / 2.0)
        scale = self.scale / max(1.0, n)
        rng = rng_of(self)
        if self.distribution == "truncated_normal":
            values = _truncated_normal(rng, shape, math.sqrt(scale) / _TRUNCATED_NORMAL_STD)
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(scale), shape)
        else:
            limit = math.sqrt(3.0 * scale)
            values = rng.uniform(-limit, limit, shape)
        return values.astype(dtype or "float32")

    def random_uniform(self, shape, dtype=None):
        return rng_of(self).uniform(self.minval, self.maxval, shape).astype(dtype or "float32")

    def random_normal(self, shape, dtype=None):
        return rng_of(self).normal(self.mean, self.stddev, shape).astype(dtype or "float32")

    def truncated_normal(self, shape, dtype=None):
        return _truncated_normal(rng_of(self), shape, self.stddev, self.mean).astype(dtype or "float32")

    def orthogonal(self, shape, dtype=None):
        rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
        cols = shape[-1]
        flat = rng_of(self).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype or "float32")

    def zeros(self, shape, dtype=None):
        return np.zeros(shape, dtype=dtype or "float32")

    def ones(self, shape, dtype=None):
        return np.ones(shape, dtype=dtype or "float32")

    def placing(draw):
        if keras.backend.backend() != "jax":
            return draw
        import jax

        def call(self, shape, dtype=None):  # on the device as drawn: no conversion program per shape
            return jax.device_put(draw(self, shape, dtype))

        return call

    patches = {
        init.Zeros: zeros,
        init.Ones: ones,
        init.VarianceScaling: variance_scaling,
        init.RandomUniform: random_uniform,
        init.RandomNormal: random_normal,
        init.TruncatedNormal: truncated_normal,
        init.Orthogonal: orthogonal,
    }
    saved = {cls: cls.__dict__["__call__"] for cls in patches}
    try:
        for cls, call in patches.items():
            cls.__call__ = placing(call)
        yield
    finally:
        for cls, call in saved.items():
            cls.__call__ = call
