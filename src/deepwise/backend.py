"""Choose the Keras backend before Keras is imported anywhere.

deepwise runs on JAX unless the user's ``KERAS_BACKEND`` says otherwise (JAX trains small models ~3x faster than
TensorFlow on CPU, see FACTS.md). Every module that needs Keras imports it through :func:`keras_module`.
"""

from __future__ import annotations

import os

DEFAULT_BACKEND = "jax"

os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def keras_module():
    """Return the ``keras`` module, imported with the chosen backend."""
    import keras

    return keras


def backend_name() -> str:
    return os.environ["KERAS_BACKEND"]
