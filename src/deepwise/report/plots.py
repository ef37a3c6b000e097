"""Matplotlib figures for the report, returned as ``data:image/png;base64,...`` URIs (no files, no pyplot state).

Every function takes plain arrays and returns one PNG data URI, so a section builder for any modality can use them.

Example:
    >>> uri = line_chart({"train": [1.0, 0.5], "validation": [1.1, 0.7]}, title="loss", marker_x=2)
    >>> uri.startswith("data:image/png;base64,")
    True
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

TRAIN_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#ff7f0e"
ACCENT = "#2ca02c"
GREY = "#7f7f7f"


def _figure(width: float = 6.4, height: float = 4.0, ncols: int = 1):
    """A new figure (object-oriented API: no global pyplot state, safe in servers and threads)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def to_data_uri(fig: Any) -> str:
    """Render a matplotlib figure to a base64 PNG data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def line_chart(
    series: dict[str, Sequence[float]],
    *,
    title: str,
    x: Sequence[float] | None = None,
    xlabel: str = "epoch",
    ylabel: str = "",
    marker_x: float | None = None,
    marker_label: str = "best epoch",
    log_y: bool = False,
) -> str:
    """Lines sharing one x axis (e.g. train vs validation per epoch), with an optional vertical marker."""
    fig, ax = _figure()
    colours = {"train": TRAIN_COLOUR, "training": TRAIN_COLOUR, "validation": VALIDATION_COLOUR}
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        xs = np.asarray(x, dtype=float) if x is not None else np.arange(1, len(values) + 1)
        ax.plot(xs, values, label=name, color=colours.get(name), linewidth=1.6)
    if marker_x is not None:
        ax.axvline(marker_x, color=ACCENT, linestyle="--", linewidth=1.2, label=f"{marker_label} ({marker_x:g})")
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return to_data_uri(fig)


def heatmap(matrix: Sequence[Sequence[float]], labels: Sequence[str], *, title: str) -> str:
    """Confusion matrix: colour = share of each true class (row), text = counts."""
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(4.0, min(12.0, 1.0 + 0.7 * len(labels)))
    fig, ax = _figure(size + 1.2, size)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels=[str(label) for label in labels], rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels=[str(label) for label in labels])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if len(labels) <= 30:
        for i in range(len(labels)):
            for j in range(len(labels)):
                colour = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", color=colour, fontsize=9)
    fig.colorbar(image, ax=ax, label="share of the true class")
    return to_data_uri(fig)


def curves(
    items: list[dict[str, Any]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    diagonal: bool = False,
    reference_y: float | None = None,
    reference_label: str = "",
) -> str:
    """Several (x, y) curves on one axis; each item: {"x", "y", "label"}."""
    fig, ax = _figure(6.0, 5.0)
    for item in items:
        ax.plot(item["x"], item["y"], label=item["label"], linewidth=1.6, marker=item.get("marker"))
    if diagonal:
        ax.plot([0, 1], [0, 1], color=GREY, linestyle=":", linewidth=1.0, label="random guess")
    if reference_y is not None:
        ax.axhline(reference_y, color=GREY, linestyle=":", linewidth=1.0, label=reference_label)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return to_data_uri(fig)


def calibration_chart(items: list[dict[str, Any]], confidences: np.ndarray, *, title: str, xlabel: str) -> str:
    """Reliability diagram (predicted probability vs observed frequency) above a histogram of the predictions."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 6.0), dpi=100, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], color=GREY, linestyle=":", linewidth=1.0, label="perfectly calibrated")
    for item in items:
        top.plot(item["x"], item["y"], marker="o", linewidth=1.6, label=item["label"])
    top.set_xlim(-0.02, 1.02)
    top.set_ylim(-0.02, 1.02)
    top.set_ylabel("observed frequency")
    top.set_title(title)
    top.grid(alpha=0.3)
    top.legend(fontsize=8)
    bottom.hist(np.asarray(confidences, dtype=float).reshape(-1), bins=20, range=(0, 1), color=GREY)
    bottom.set_xlabel(xlabel)
    bottom.set_ylabel("rows")
    return to_data_uri(fig)


def scatter_true_pred(y_true: np.ndarray, y_pred: np.ndarray, *, title: str, unit: str = "") -> str:
    """Predicted vs true values with the y = x line (perfect predictions)."""
    fig, ax = _figure(5.5, 5.0)
    ax.scatter(y_true, y_pred, s=14, alpha=0.6, color=TRAIN_COLOUR, edgecolors="none")
    finite = np.concatenate([y_true[np.isfinite(y_true)], y_pred[np.isfinite(y_pred)]])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    ax.plot([lo, hi], [lo, hi], color=GREY, linestyle=":", label="perfect prediction (y = x)")
    ax.set_xlabel(f"true value{unit}")
    ax.set_ylabel(f"predicted value{unit}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return to_data_uri(fig)


def residual_chart(y_true: np.ndarray, y_pred: np.ndarray, *, title: str) -> str:
    """Residuals (true - predicted) against the prediction, and their histogram."""
    residuals = y_true - y_pred
    fig, (left, right) = _figure(10.0, 4.0, ncols=2)
    left.scatter(y_pred, residuals, s=14, alpha=0.6, color=TRAIN_COLOUR, edgecolors="none")
    left.axhline(0.0, color=GREY, linestyle=":")
    left.set_xlabel("predicted value")
    left.set_ylabel("residual (true - predicted)")
    left.set_title(title)
    left.grid(alpha=0.3)
    right.hist(residuals[np.isfinite(residuals)], bins=30, color=TRAIN_COLOUR, alpha=0.8)
    right.axvline(0.0, color=GREY, linestyle=":")
    right.set_xlabel("residual (true - predicted)")
    right.set_ylabel("rows")
    right.set_title("distribution of residuals")
    return to_data_uri(fig)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    xlabel: str,
    errors: Sequence[float] | None = None,
    max_bars: int = 30,
) -> str:
    """Horizontal bars, largest at the top (e.g. permutation feature importance with its spread)."""
    labels, values = list(labels)[:max_bars], np.asarray(values, dtype=float)[:max_bars]
    errs = None if errors is None else np.asarray(errors, dtype=float)[:max_bars]
    fig, ax = _figure(7.0, max(2.5, 0.32 * len(labels) + 1.2))
    positions = np.arange(len(labels))[::-1]
    colours = [TRAIN_COLOUR if v >= 0 else GREY for v in values]
    ax.barh(positions, values, xerr=errs, color=colours, capsize=3)
    ax.set_yticks(positions, labels=[str(label) for label in labels])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return to_data_uri(fig)


def interval_chart(rows: list[dict[str, Any]], *, title: str, xlabel: str) -> str:
    """Point estimates with 95 % intervals, one per row ({"label", "value", "low", "high"}), and a zero line."""
    fig, ax = _figure(7.0, 0.6 * len(rows) + 1.6)
    positions = np.arange(len(rows))[::-1]
    for pos, row in zip(positions, rows, strict=True):
        low, high = row["value"] - row["low"], row["high"] - row["value"]
        ax.errorbar(row["value"], pos, xerr=[[max(low, 0.0)], [max(high, 0.0)]], fmt="o", capsize=4, color=ACCENT)
    ax.set_yticks(positions, labels=[row["label"] for row in rows])
    ax.axvline(0.0, color=GREY, linestyle=":")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return to_data_uri(fig)
