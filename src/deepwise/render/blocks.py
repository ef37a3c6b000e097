"""The building blocks of the report: plain data (paragraphs, tables, figures, code) that the HTML template renders,
and the labels and number formats every section shares.

Example:
    >>> section = Section("notes", "Notes", [Paragraph("Trained on a laptop.")])
    >>> section.blocks[0].kind
    'paragraph'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Paragraph:
    text: str
    css: str = ""
    kind: str = "paragraph"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    caption: str = ""
    highlight_rows: list[int] = field(default_factory=list)
    kind: str = "table"


@dataclass
class Figure:
    uri: str
    alt: str
    caption: str = ""
    kind: str = "figure"


@dataclass
class Code:
    text: str
    kind: str = "code"


Block = Paragraph | Table | Figure | Code


@dataclass
class Section:
    """One ``<section id=...>`` of the report; ``id`` is stable (tests and links rely on it)."""

    id: str
    title: str
    blocks: list[Block]


VERDICT_LABELS = {
    "deep_learning_helps": "Deep learning helps",
    "simpler_model_suffices": "A simpler model suffices",
    "looks_like_a_computation": "Looks like a computation",
    "not_enough_data": "Not enough data",
    "worse_than_chance": "No better than chance",
}


BASELINE_LABELS = {
    "dummy": "dummy baseline",
    "linear": "linear model",
    "gradient_boosting": "gradient boosting",
    "persistence": "persistence (the last value)",
    "seasonal_persistence": "seasonal persistence (the value one season ago)",
}


METRIC_LABELS = {
    "accuracy": "accuracy",
    "macro_f1": "macro F1",
    "balanced_accuracy": "balanced accuracy",
    "log_loss": "log loss",
    "roc_auc": "ROC AUC",
    "roc_auc_ovr": "ROC AUC (one-vs-rest)",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "root_mean_squared_error": "RMSE",
    "mean_absolute_error": "MAE",
}


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers to short text (``-`` for missing / not finite)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}" if math.isfinite(float(value)) else "-"
    return str(value)


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key.replace("_", " "))


def scalar_metrics(scores: dict[str, Any]) -> list[str]:
    """The keys of a metrics dict that hold one number each (per-class tables and counts left out)."""
    return [
        k
        for k, v in scores.items()
        if k != "n" and isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("fit_seconds",)
    ]


def with_article(noun: str) -> str:
    """``noun`` with its indefinite article, capitalized ("An image classification", "A regression")."""
    return ("An " if noun[:1].lower() in "aeiou" else "A ") + noun


def unavailable(section_id: str, title: str, why: str) -> Section:
    return Section(section_id, title, [Paragraph(why, css="note")])
