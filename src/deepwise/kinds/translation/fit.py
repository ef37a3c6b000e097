"""Training a sequence-to-sequence network with teacher forcing: the loss, padding, the token metric.

The decoder reads the true previous target token at every position (``decoder_input`` = start token + target) and
is trained to write the next one (``decoder_target`` = target + end token): one pass trains every position. The
loss is the cross-entropy of each target token from the logits (the softmax is computed stably inside the loss),
averaged over real tokens: padding (id 0) is the loss's ``ignore_class``, i.e. a per-token weight of 0 applied
inside the loss. Weighting inside the loss rather than through ``fit(sample_weight=...)`` keeps one signature for
every call of the training step, so the step deepwise's probe compiles is the one training reuses (under JAX a
call with sample weights compiles another program; a GRU's took 20-45 s on the shared 2-core machine).

For the same reason the training and validation arrays are filled up to a whole number of batches with rows whose
target is all padding (they cost nothing and teach nothing): the last, shorter batch would compile a program of its
own. Keras passes no sample weight to a metric given to ``compile(metrics=...)``, so the per-epoch token accuracy
leaves padding out itself.

Example:
    >>> arrays = tokenizer.training_arrays(train.sources, train.targets)
    >>> model.compile(optimizer="adam", loss=token_loss(), metrics=[token_accuracy()])
    >>> fit_teacher_forcing(model, arrays, val_arrays, batch_size=64, callbacks=[], epochs=30)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.kinds.translation.tokenize import PAD


def token_loss():
    """Token cross-entropy from logits, averaged over real tokens (padding ignored)."""
    return keras_module().losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD)


@functools.cache
def _token_accuracy_class():
    keras = keras_module()
    ops = keras.ops

    class TokenAccuracy(keras.metrics.Metric):
        """Share of real target tokens (padding left out) whose most probable token is the right one."""

        def __init__(self, name: str = "token_accuracy", **kwargs):
            super().__init__(name=name, **kwargs)
            self.right = self.add_variable((), initializer="zeros", name="right")
            self.total = self.add_variable((), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.cast(y_true, "int32")
            real = ops.cast(ops.not_equal(y_true, PAD), "float32")
            hit = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
            self.right.assign_add(ops.sum(hit * real))
            self.total.assign_add(ops.sum(real))

        def result(self):
            return self.right / ops.maximum(self.total, 1.0)

        def reset_state(self):
            self.right.assign(0.0)
            self.total.assign(0.0)

    return TokenAccuracy


def token_accuracy():
    """The per-epoch metric: accuracy over real target tokens, padding left out (teacher-forced, so optimistic
    next to decoding, where one wrong token leads the rest astray)."""
    return _token_accuracy_class()()


def model_inputs(arrays: dict[str, Any]) -> dict[str, np.ndarray]:
    """The network's two inputs from :meth:`PairTokenizer.training_arrays`."""
    return {"source": arrays["source"], "decoder_input": arrays["decoder_input"]}


def whole_batches(arrays: dict[str, Any], batch_size: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(inputs, targets) filled up to a multiple of ``batch_size`` rows: the first rows again, their targets all
    padding (ignored by the loss and the metric).

    Example:
        >>> x, y = whole_batches(arrays, 64)
        >>> len(y) % 64
        0
    """
    x, y = model_inputs(arrays), arrays["decoder_target"]
    extra = (-len(y)) % batch_size
    if extra == 0:
        return x, y
    take = np.arange(extra) % len(y)
    x = {name: np.concatenate([value, value[take]]) for name, value in x.items()}
    return x, np.concatenate([y, np.full((extra, y.shape[1]), PAD, dtype=y.dtype)])


def fit_teacher_forcing(
    model,
    train: dict[str, Any],
    validation: dict[str, Any],
    *,
    batch_size: int,
    callbacks: list,
    epochs: int,
    initial_epoch: int = 0,
) -> None:
    """``model.fit`` with teacher forcing on whole batches, validated on ``validation``.

    Example:
        >>> fit_teacher_forcing(model, train_arrays, val_arrays, batch_size=64, callbacks=[], epochs=30)
    """
    x, y = whole_batches(train, batch_size)
    model.fit(
        x,
        y,
        validation_data=whole_batches(validation, batch_size),
        batch_size=batch_size,
        shuffle=True,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=0,
    )
