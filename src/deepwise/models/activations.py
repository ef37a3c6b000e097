"""``model.activation`` must be a Keras activation: checked before anything is trained or written.

Example:
    >>> check_activation(config)   # ConfigError naming the closest activation, e.g. for 'rleu'
"""

from __future__ import annotations

from difflib import get_close_matches

from deepwise.config import Config
from deepwise.errors import ConfigError

COMMON = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "silu", "linear", "leaky_relu")


def check_activation(config: Config) -> None:
    """Raise a :class:`ConfigError` when model.activation is not a Keras activation."""
    name = config.model.activation
    if name in COMMON:
        return  # the common ones: no need to import Keras to know
    from deepwise.backend import keras_module

    keras = keras_module()
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        names = sorted(
            n
            for n in dir(keras.activations)
            if not n.startswith("_") and n.islower() and n not in ("get", "serialize", "deserialize")
        )
        close = get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"model.activation '{name}' is not a Keras activation.{hint}",
            expected="one of: " + ", ".join(names),
            fix="set model.activation to one of those (relu is the usual choice).",
        ) from None
