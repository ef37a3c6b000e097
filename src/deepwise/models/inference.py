"""Running a trained network on many rows: big chunks, few distinct shapes.

``model.predict`` walks the rows in batches through Keras' iterator and callbacks (about 0.1 ms of Python per
batch), and under JAX every new batch shape compiles a new program: the last, shorter batch of each call is a new
shape whenever the number of rows changes. Here rows go to ``predict_on_batch`` in chunks of up to 16,384 rows
(fewer for wide inputs), and a shorter last chunk is padded up to a power of two, so a model meets at most about a
dozen shapes over its life whatever the row counts. Measured on 100,000 rows of the wine MLP (2 cores):
``model.predict(batch_size=1024)`` 17.7 ms, chunks of 16,384 rows 4.3 ms.

A table's rows are padded to at least :func:`smallest_rows` (128 for narrow rows: as many as fit in 64 KiB of
input values): its validation, test and importance rows then share one program instead of compiling three (64, 128
and 4,096 rows on diabetes: 0.16 s of a 6 s run). The table's callers ask for that (``smallest=``); the others keep
8, so that one document or image is not run as 32 or 64.

Example:
    >>> output = predict_rows(model, {"features": x})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

MAX_CHUNK_ROWS = 16_384
CHUNK_BYTES = 64 * 2**20  # of input values per chunk
SMALLEST_SHAPE = 8
SMALL_CHUNK_BYTES = 64 * 2**10  # of input values: narrow rows are padded up to this many bytes ...
SMALL_CHUNK_ROWS = 128  # ... but never to more rows than this


def row_bytes(x: Any) -> int:
    """Bytes of input values per row of ``x`` (an array, or a dict of arrays with the same rows)."""
    arrays = list(x.values()) if isinstance(x, dict) else [x]
    return sum(int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize for a in arrays) or 1


def _power_of_two_below(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


def chunk_rows(x: Any, largest: int = MAX_CHUNK_ROWS) -> int:
    """Rows per chunk: a power of two, at most ``largest``, with at most about 64 MiB of input values."""
    return max(SMALLEST_SHAPE, min(largest, _power_of_two_below(CHUNK_BYTES // row_bytes(x))))


def smallest_rows(x: Any) -> int:
    """The fewest rows a chunk of ``x`` is padded to: 128 for narrow rows (a table's), fewer for wide ones (images),
    at least 8.

    Example:
        >>> smallest_rows(np.zeros((5, 10), "float32")), smallest_rows(np.zeros((5, 224, 224, 3), "float32"))
        (128, 8)
    """
    fit = _power_of_two_below(SMALL_CHUNK_BYTES // row_bytes(x))
    return max(SMALLEST_SHAPE, min(SMALL_CHUNK_ROWS, fit))


def padded_rows(n: int, smallest: int = SMALLEST_SHAPE) -> int:
    """The row count a chunk of ``n`` rows is padded to: the next power of two, at least ``smallest``."""
    return max(smallest, 1 << (n - 1).bit_length())


def _take(x: Any, start: int, stop: int, padded: int) -> Any:
    if isinstance(x, dict):
        return {name: _take(value, start, stop, padded) for name, value in x.items()}
    piece = x[start:stop]
    if len(piece) < padded:  # repeat the last row: real values, so nothing overflows or divides by zero
        piece = np.concatenate([piece, np.repeat(piece[-1:], padded - len(piece), axis=0)])
    return piece


def predict_rows(model_or_fn: Any, x: Any, largest: int = MAX_CHUNK_ROWS, smallest: int = SMALLEST_SHAPE) -> Any:
    """The model's output for every row of ``x`` (an array, or a dict of arrays with the same rows).

    ``model_or_fn``: a Keras model, or a function of one batch (e.g. a multi-output model's ``predict_on_batch``);
    a model with several outputs gives a list of arrays. ``smallest``: the fewest rows a chunk is padded to (a
    table's callers pass :func:`smallest_rows`).
    """
    fn: Callable = model_or_fn.predict_on_batch if hasattr(model_or_fn, "predict_on_batch") else model_or_fn
    n = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    if n == 0:
        raise ValueError("predict_rows needs at least one row.")
    size = chunk_rows(x, largest)
    smallest = min(size, smallest)
    parts: list[Any] = []
    for start in range(0, n, size):
        stop = min(n, start + size)
        padded = size if stop - start == size else padded_rows(stop - start, smallest)
        out = fn(_take(x, start, stop, padded))
        if isinstance(out, (list, tuple)):
            parts.append([np.asarray(o)[: stop - start] for o in out])
        else:
            parts.append(np.asarray(out)[: stop - start])
    if isinstance(parts[0], list):
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]
    return np.concatenate(parts)
