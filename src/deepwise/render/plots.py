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


# --------------------------------------------------------------------------------------------------- time series

TRUTH_COLOUR = "#222222"
NAIVE_COLOURS = ("#7f7f7f", "#bcbd22", "#9467bd")
RIGHT = "#1a7f37"
WRONG = "#c62828"


def _time_axis(ax: Any, times: np.ndarray, xlabel: str) -> None:
    """Readable dates on the x axis (concise labels), or plain numbers for a numeric time column."""
    if np.issubdtype(np.asarray(times).dtype, np.datetime64):
        from matplotlib import dates as mdates

        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(xlabel)


def _style(n: int) -> dict[str, Any]:
    """Line style for a series of n points: markers only while they stay distinguishable."""
    return {"marker": "o", "markersize": 2.5} if n <= 150 else {}


def forecast_chart(
    times: np.ndarray,
    truth: np.ndarray,
    forecasts: dict[str, np.ndarray],
    *,
    title: str,
    ylabel: str,
    xlabel: str = "time of the forecast target",
) -> str:
    """The true series and each forecast of it over time (first forecast = the network, drawn in colour)."""
    times = np.asarray(times)
    fig, ax = _figure(11.0, 4.2)
    ax.plot(times, truth, color=TRUTH_COLOUR, linewidth=1.4, label="true value", **_style(len(times)))
    for i, (name, values) in enumerate(forecasts.items()):
        if i == 0:
            ax.plot(times, values, color=TRAIN_COLOUR, linewidth=1.6, label=name)
        else:
            colour = NAIVE_COLOURS[(i - 1) % len(NAIVE_COLOURS)]
            ax.plot(times, values, color=colour, linewidth=1.0, linestyle="--", alpha=0.9, label=name)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    _time_axis(ax, times, xlabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return to_data_uri(fig)


def residuals_over_time(
    times: np.ndarray,
    residuals: dict[str, np.ndarray],
    *,
    title: str,
    xlabel: str = "time of the forecast target",
) -> str:
    """Residuals (true - forecast) over time for each forecast, a zero line and the network's rolling mean."""
    times = np.asarray(times)
    fig, ax = _figure(11.0, 3.8)
    for i, (name, values) in enumerate(residuals.items()):
        values = np.asarray(values, dtype=float)
        if i == 0:
            ax.plot(times, values, color=TRAIN_COLOUR, linewidth=1.0, label=name, **_style(len(times)))
            window = max(3, len(values) // 15)
            if len(values) >= 2 * window:
                rolling = _rolling_mean(values, window)
                ax.plot(times, rolling, color=VALIDATION_COLOUR, linewidth=2.0, label=f"{name}, mean of {window} steps")
        else:
            colour = NAIVE_COLOURS[(i - 1) % len(NAIVE_COLOURS)]
            ax.plot(times, values, color=colour, linewidth=0.8, linestyle="--", alpha=0.7, label=name)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_title(title)
    ax.set_ylabel("residual (true - forecast)")
    _time_axis(ax, times, xlabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return to_data_uri(fig)


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling mean (NaN at the ends where the window does not fit)."""
    import pandas as pd

    return pd.Series(values).rolling(window, center=True).mean().to_numpy()


def forecast_probability_chart(
    times: np.ndarray,
    probability: np.ndarray,
    truth: np.ndarray,
    *,
    positive: str,
    negative: str,
    naive: dict[str, np.ndarray] | None = None,
    title: str,
    xlabel: str = "time of the forecast target",
) -> str:
    """Binary forecasts: the predicted probability of the positive class over time, the true class as dots at 1 / 0
    (green where the 0.5 threshold got it right, red where not) and naive forecasts as dashed steps."""
    times = np.asarray(times)
    probability = np.asarray(probability, dtype=float).reshape(-1)
    truth = np.asarray(truth).astype(int).reshape(-1)
    fig, ax = _figure(11.0, 4.2)
    ax.plot(times, probability, color=TRAIN_COLOUR, linewidth=1.4, label=f"network: P({positive})")
    for i, (name, values) in enumerate((naive or {}).items()):
        colour = NAIVE_COLOURS[i % len(NAIVE_COLOURS)]
        ax.step(times, values, where="mid", color=colour, linewidth=1.0, linestyle="--", alpha=0.8, label=name)
    right = (probability >= 0.5).astype(int) == truth
    for mask, colour, label in ((right, RIGHT, "true class (forecast right)"), (~right, WRONG, "true class (wrong)")):
        if mask.any():
            ax.scatter(times[mask], truth[mask], s=16, color=colour, zorder=3, label=label, edgecolors="none")
    ax.axhline(0.5, color=GREY, linestyle=":", linewidth=1.0, label="threshold 0.5")
    ax.set_ylim(-0.08, 1.08)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0], labels=[f"0 ({negative})", "0.25", "0.5", "0.75", f"1 ({positive})"])
    ax.set_ylabel(f"probability of '{positive}'")
    ax.set_title(title)
    _time_axis(ax, times, xlabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_data_uri(fig)


def forecast_class_chart(
    times: np.ndarray,
    proba: np.ndarray,
    truth: np.ndarray,
    classes: Sequence[str],
    *,
    naive: np.ndarray | None = None,
    naive_label: str = "persistence",
    title: str,
    xlabel: str = "time of the forecast target",
) -> str:
    """Multiclass forecasts: the predicted probability of every class over time as a heatmap (one row per class),
    the true class of each step as a dot (green where the most probable class is right, red where not) and a naive
    forecast's class as a grey cross."""
    times = np.asarray(times)
    proba = np.asarray(proba, dtype=float)
    truth = np.asarray(truth).astype(int).reshape(-1)
    n, k = proba.shape
    is_date = np.issubdtype(times.dtype, np.datetime64)
    if is_date:
        from matplotlib import dates as mdates

        x = mdates.date2num(times)
    else:
        x = times.astype(float)
    # cell edges half-way between steps, so irregular time steps are drawn where they are
    step = float(np.median(np.diff(x))) if n > 1 else 1.0
    middles = (x[1:] + x[:-1]) / 2
    edges = np.concatenate([[x[0] - step / 2], middles, [x[-1] + step / 2]])
    fig, ax = _figure(11.0, max(3.2, 0.45 * k + 1.8))
    image = ax.pcolormesh(edges, np.arange(k + 1) - 0.5, proba.T, cmap="Blues", vmin=0, vmax=1, shading="flat")
    right = proba.argmax(axis=1) == truth
    for mask, colour, label in ((right, RIGHT, "true class (forecast right)"), (~right, WRONG, "true class (wrong)")):
        if mask.any():
            ax.scatter(
                x[mask], truth[mask], s=14, color=colour, zorder=3, label=label, edgecolors="white", linewidths=0.4
            )
    if naive is not None:
        ax.scatter(x, np.asarray(naive).astype(int) + 0.3, s=10, marker="x", color=GREY, zorder=3, label=naive_label)
    ax.set_yticks(range(k), labels=[str(c) for c in classes])
    ax.set_ylabel("class")
    ax.set_title(title)
    if is_date:
        ax.xaxis_date()
    _time_axis(ax, times, xlabel)
    fig.colorbar(image, ax=ax, label="predicted probability", pad=0.01)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.18), ncols=3, frameon=False)
    return to_data_uri(fig)


# -------------------------------------------------------------------------------------------------------- images


def image_grid(
    pixels: np.ndarray,
    captions: Sequence[str],
    ok: Sequence[bool],
    *,
    title: str,
    ncols: int = 6,
) -> str:
    """Images ([n, h, w, c] raw 0-255 pixels, c = 1 or 3) in a grid, each with a caption in green (ok) or red."""
    pixels = np.asarray(pixels, dtype=np.float32)
    n = len(pixels)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.0 * ncols, 2.25 * nrows + 0.5), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).reshape(-1)
    small = pixels.shape[1] < 64 and pixels.shape[2] < 64 if pixels.ndim == 4 else False
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        img = np.clip(pixels[i] / 255.0, 0.0, 1.0)
        interpolation = "nearest" if small else "antialiased"
        if img.ndim == 3 and img.shape[-1] == 1:
            ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1, interpolation=interpolation)
        else:
            ax.imshow(img, interpolation=interpolation)
        colour = RIGHT if ok[i] else WRONG
        ax.set_title(captions[i], fontsize=8, color=colour)
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(2.5)
    fig.suptitle(title)
    return to_data_uri(fig)
