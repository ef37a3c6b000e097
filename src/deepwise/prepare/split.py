"""Train / validation / test split: seeded, stratified for classification.

Example:
    >>> parts = split_indices(y, task="multiclass", validation=0.15, test=0.2, seed=42)
    >>> sorted(parts)
    ['test', 'train', 'validation']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from deepwise.errors import DataError

MIN_ROWS = 10


def split_indices(
    y: pd.Series, task: str, validation: float, test: float, seed: int, stratify: bool = True
) -> dict[str, np.ndarray]:
    """Row positions (0-based, into ``y``) of each split."""
    n = len(y)
    n_test = int(np.ceil(test * n))
    n_val = int(np.ceil(validation * n))
    if n < MIN_ROWS or n - n_test - n_val < 2:
        raise DataError(
            f"The data has {n} labelled rows, fewer than the split needs: {test:.0%} for testing and "
            f"{validation:.0%} for validation leave {max(n - n_test - n_val, 0)} rows to train on.",
            expected=f"at least {MIN_ROWS} labelled rows (deep learning really wants hundreds or more)",
            fix="collect more rows; a network cannot be trained and honestly tested on this few.",
        )
    positions = np.arange(n)
    classification = task in ("binary", "multiclass")
    labels = y.to_numpy()
    strat = labels if (classification and stratify) else None
    if strat is not None:
        counts = y.value_counts()
        if (counts < 3).any():
            rare = ", ".join(f"{k!r} ({v} row{'s' if v > 1 else ''})" for k, v in counts[counts < 3].items())
            raise DataError(
                f"Some classes are too rare to appear in training, validation and test: {rare}.",
                expected="at least 3 rows of every class (many more to learn it well)",
                fix="collect more rows of those classes, merge them with a related class, or drop those rows.",
            )
    try:
        rest, test_idx = train_test_split(positions, test_size=n_test, random_state=seed, stratify=strat)
        strat_rest = labels[rest] if strat is not None else None
        train_idx, val_idx = train_test_split(rest, test_size=n_val, random_state=seed, stratify=strat_rest)
    except ValueError as err:
        counts = y.value_counts()
        rare = ", ".join(f"{k!r} ({v} rows)" for k, v in counts[counts < 3].items()) or str(err)
        raise DataError(
            f"The rows cannot be split so that every class appears in training, validation and test: {rare}. ({err})",
            expected="at least 3 rows of every class (many more to learn it well)",
            fix="collect more rows of those classes, merge them with a related class, or drop them.",
        ) from None
    return {"train": np.sort(train_idx), "validation": np.sort(val_idx), "test": np.sort(test_idx)}
