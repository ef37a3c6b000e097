"""Matplotlib figures for the report where pixels or dates matter (time series, image grids, feature maps),
returned as ``data:image/png;base64,...`` URIs (no files, no pyplot state). The charts every run's report has
(learning curves, class curves, importance, ...) are SVG drawn by pygal, 100x cheaper: :mod:`deepwise.render.charts`.

Every function takes plain arrays and returns one PNG data URI, so a section builder for any modality can use them.

Example:
    >>> uri = residuals_over_time(np.arange(50), {"network": np.random.randn(50)}, title="residuals")
    >>> uri.startswith("data:image/png;base64,")
    True
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepwise.render.charts import GREY, TRAIN_COLOUR, VALIDATION_COLOUR


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
