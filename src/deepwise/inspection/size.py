"""Enough data for deep learning? Rows (and rows per class) against the weights of the default network.

Example:
    >>> data_size(sample, 344, counts, "multiclass", numeric, categorical, [64, 32])[0].code
    'data_size'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from deepwise.inspection.findings import Finding
from deepwise.prepare.tabular import TabularPreprocessor

ENOUGH_ROWS = 1000
ENOUGH_ROWS_PER_CLASS = 50


# ----------------------------------------------------------------------------------------------------- data size
def mlp_parameters(prep: Any, hidden_units: list[int], n_outputs: int) -> int:
    """Weights and biases of the default MLP (embeddings included), counted without building it."""
    width = len(prep.feature_names_)
    params = 0
    for spec in prep.input_specs().values():
        if "vocab_size" in spec:
            dim = int(min(16, round(1.6 * spec["vocab_size"] ** 0.56)))  # the rule of models.mlp.embedding_dim
            params += spec["vocab_size"] * dim
            width += dim
    for units in [*hidden_units, n_outputs]:
        params += (width + 1) * units
        width = units
    return params


def data_size(
    sample: pd.DataFrame,
    rows: int,
    class_counts: pd.Series | None,
    task: str | None,
    numeric: list[str],
    categorical: list[str],
    hidden_units: list[int],
) -> list[Finding]:
    """Rows (and rows per class) compared with the number of parameters of the default network."""
    if not numeric and not categorical:
        return []
    # a numeric column with no value in the sample would stop the fit; it adds a column or two, ignore it here
    numeric = [c for c in numeric if pd.to_numeric(sample[c], errors="coerce").notna().any()]
    prep = TabularPreprocessor(numeric=numeric, categorical=categorical).fit(sample)
    n_outputs = len(class_counts) if task == "multiclass" and class_counts is not None else 1
    params = mlp_parameters(prep, list(hidden_units), n_outputs)
    min_class = int(class_counts.min()) if class_counts is not None else None
    evidence = {
        "rows": rows,
        "parameters": params,
        "features": len(prep.feature_names_),
        "hidden_units": list(hidden_units),
        "min_class_rows": min_class,
    }
    layers = " -> ".join(str(u) for u in hidden_units)
    size = (
        f"{rows:,} rows for a default network ({len(prep.feature_names_)} features -> {layers} -> {n_outputs}) "
        f"with {params:,} weights to learn"
        + (f"; the smallest class has {min_class:,} rows" if min_class is not None else "")
        + "."
    )
    reasons = []
    if rows < ENOUGH_ROWS:
        reasons.append(f"fewer than {ENOUGH_ROWS:,} rows")
    if rows < params:
        reasons.append("fewer rows than weights")
    if min_class is not None and min_class < ENOUGH_ROWS_PER_CLASS:
        reasons.append(f"fewer than {ENOUGH_ROWS_PER_CLASS} rows in a class")
    if reasons:
        return [
            Finding(
                "data_size",
                "warning",
                f"{size} That is little data for deep learning ({'; '.join(reasons)}): a network may not learn "
                "reliably, its score will vary from run to run, and simple models (logistic/linear regression, "
                "random forests) often do as well on this little data.",
                "Compare with the baselines deepwise trains alongside (they are in the verdict), prefer a small "
                "network (e.g. model.hidden_units: [16]) with dropout, and collect more data if you can.",
                evidence=evidence,
            )
        ]
    return [
        Finding(
            "data_size",
            "info",
            f"{size} That is enough rows for a network of this size to be worth trying.",
            "Nothing to do; deepwise still compares the network with simple baselines.",
            evidence=evidence,
        )
    ]
