"""The report's common charts (learning curves, ROC and precision-recall curves, calibration, confusion matrix,
importance, intervals, predicted vs true) as static SVG drawn by pygal, returned as ``data:image/svg+xml`` URIs.

Why pygal and not matplotlib (which still draws images, feature maps and time series: :mod:`deepwise.render.plots`):
a table's report has eight of these charts; matplotlib took 0.7-1.1 s to draw them, plus 0.2 s to import, the
largest part of what the one-liner cost over a hand-written Keras script (issue 24, bench/README.md); pygal draws
each in about 5 ms, and the SVG stays sharp at any zoom. The SVG carries no script (pygal's tooltip script and
its configuration are removed), so the report still runs none.

Example:
    >>> uri = line_chart({"train": [1.0, 0.5], "validation": [1.1, 0.7]}, title="loss", marker_x=2)
    >>> uri.startswith("data:image/svg+xml;base64,")
    True
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

TRAIN_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#ff7f0e"
ACCENT = "#2ca02c"
GREY = "#7f7f7f"
CYCLE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
MAX_POINTS = 2000  # points a scatter shows (an even sample of the rows); more only make the SVG heavy
SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def _chart(kind: str, colours: Sequence[str], *, width: float, height: float, **config: Any):
    """A pygal chart of ``kind`` ("XY", "HorizontalBar", "Histogram", ...) in the report's style; ``width`` and
    ``height`` in inches at 100 pixels each, as the matplotlib figures."""
    import pygal
    from pygal.style import Style

    style = Style(
        background="white",
        plot_background="white",
        foreground="#333333",
        foreground_strong="#111111",
        foreground_subtle="#dddddd",
        font_family=FONT,
        title_font_size=15,
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=12,
        value_font_size=11,
        guide_stroke_color="#e3e3e3",
        major_guide_stroke_color="#e3e3e3",
        guide_stroke_dasharray="none",
        major_guide_stroke_dasharray="none",
        opacity="0.9",
        opacity_hover="0.9",
        colors=tuple(colours) or CYCLE,
    )
    defaults: dict[str, Any] = {
        "style": style,
        "width": int(width * 100),
        "height": int(height * 100),
        "js": [],
        "show_legend": True,
        "legend_at_bottom": True,
        "legend_box_size": 12,
        "truncate_legend": -1,
        "truncate_label": -1,
        "show_x_guides": True,
        "show_y_guides": True,
        "explicit_size": True,
        "margin": 12,
    }
    return getattr(pygal, kind)(**{**defaults, **config})


def svg_text(chart: Any) -> str:
    """The chart's SVG document, from its ``<svg`` on: without the XML declaration (so that documents nest) and
    without pygal's script elements (its tooltips and their configuration: the report runs no script)."""
    svg = SCRIPT.sub("", chart.render(is_unicode=True))
    return svg[svg.index("<svg") :]


def data_uri(svg: str) -> str:
    """An SVG document as a ``data:image/svg+xml;base64`` URI, for an ``<img>`` of the self-contained report."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def to_svg_uri(chart: Any) -> str:
    """The chart as a data URI."""
    return data_uri(svg_text(chart))


def side_by_side(charts: Sequence[Any], *, vertical: bool = False) -> str:
    """Several charts as one figure (one data URI): left to right, or top to bottom when ``vertical``."""
    parts, offset, across = [], 0, 0
    for chart in charts:
        width, height = chart.config.width, chart.config.height
        x, y = (0, offset) if vertical else (offset, 0)
        parts.append(svg_text(chart).replace("<svg", f'<svg x="{x}" y="{y}"', 1))
        offset += height if vertical else width
        across = max(across, width if vertical else height)
    width, height = (across, offset) if vertical else (offset, across)
    return data_uri(
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">' + "".join(parts) + "</svg>"
    )


def _finite(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(-1)


def _points(xs: np.ndarray, ys: np.ndarray) -> list[tuple[float, float] | None]:
    """(x, y) pairs for pygal, a gap (None) where a value is not finite."""
    return [(float(a), float(b)) if np.isfinite(a) and np.isfinite(b) else None for a, b in zip(xs, ys, strict=True)]


def _range(*arrays: np.ndarray, pad: float = 0.05) -> tuple[float, float]:
    values = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([])
    if not values.size:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo or abs(hi) or 1.0
    return lo - pad * span, hi + pad * span


def _log_labels(*log10_arrays: np.ndarray) -> list[dict[str, Any]]:
    """Tick labels for values drawn as their log10: the powers of ten in range (with 2 and 5 times them when the
    range spans fewer than three decades), each labelled with the value itself."""
    lo, hi = _range(*log10_arrays)
    steps = (1, 2, 5) if hi - lo < 3 else (1,)
    ticks = [
        e + np.log10(m)
        for e in range(int(np.floor(lo)), int(np.ceil(hi)) + 1)
        for m in steps
        if lo <= e + np.log10(m) <= hi
    ]
    return [{"label": f"{10**t:.3g}", "value": float(t)} for t in ticks]


def _vertical(chart: Any, x: float, lo: float, hi: float, label: str) -> None:
    chart.add(label, [(x, lo), (x, hi)], show_dots=False, stroke_style={"width": 1.5, "dasharray": "6, 4"})


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
    named = {"train": TRAIN_COLOUR, "training": TRAIN_COLOUR, "validation": VALIDATION_COLOUR}
    colours = [named.get(name, CYCLE[(i + 2) % len(CYCLE)]) for i, name in enumerate(series)]
    arrays = {name: _finite(values) for name, values in series.items()}
    y_labels = None
    if log_y:  # drawn as log10 of the values, labelled with the values (pygal's own log scale is on both axes)
        arrays = {name: np.log10(np.where(v > 0, v, np.nan)) for name, v in arrays.items()}
        y_labels = _log_labels(*arrays.values())
    lo, hi = _range(*arrays.values())
    chart = _chart(
        "XY",
        [*colours, ACCENT],
        width=6.4,
        height=4.0,
        title=title,
        x_title=xlabel,
        y_title=ylabel or None,
        y_labels=y_labels,
        range=(lo, hi),
        show_dots=False,
        stroke_style={"width": 1.8},
    )
    for name, values in arrays.items():
        xs = _finite(x) if x is not None else np.arange(1, len(values) + 1, dtype=float)
        chart.add(name, _points(xs, values))
    if marker_x is not None:
        _vertical(chart, float(marker_x), lo, hi, f"{marker_label} ({marker_x:g})")
    return to_svg_uri(chart)


def confusion_chart(matrix: Sequence[Sequence[float]], labels: Sequence[str], *, title: str) -> str:
    """Confusion matrix as a dot matrix: one row per true class, one column per predicted class, each dot's size
    the share of its true class, its number the rows."""
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    names = [str(label) for label in labels]
    size = max(4.0, min(12.0, 1.4 + 0.7 * len(names)))
    chart = _chart(
        "Dot",
        [TRAIN_COLOUR] * len(names),
        width=size + 1.6,
        height=size,
        title=title,
        x_title="predicted class",
        y_title="true class",
        x_labels=names,
        x_label_rotation=-45 if len(names) > 4 else 0,
        show_legend=False,
        print_values=len(names) <= 30,
        print_values_position="center",
        dots_size=max(6, int(28 - len(names))),
        show_y_labels=True,
    )
    for i, name in enumerate(names):
        chart.add(
            name,
            [
                {"value": float(shares[i, j]), "formatter": lambda _v, n=int(counts[i, j]): f"{n}"}
                for j in range(len(names))
            ],
        )
    return to_svg_uri(chart)


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
    extra = [GREY] if diagonal or reference_y is not None else []
    longest = max([len(str(item["label"])) for item in items] + [len(reference_label)])
    chart = _chart(
        "XY",
        [*CYCLE[: len(items)], *extra],
        width=6.0,
        height=5.0 + (0.2 * (len(items) + 1) if longest > 28 else 0.0),
        legend_at_bottom_columns=1 if longest > 28 else 2,
        title=title,
        x_title=xlabel,
        y_title=ylabel,
        range=(-0.02, 1.02),
        xrange=(-0.02, 1.02),
        show_dots=False,
        stroke_style={"width": 1.8},
    )
    for item in items:
        chart.add(
            str(item["label"]),
            _points(_finite(item["x"]), _finite(item["y"])),
            show_dots=item.get("marker") is not None,
            dots_size=3,
        )
    if diagonal:
        chart.add("random guess", [(0.0, 0.0), (1.0, 1.0)], show_dots=False, stroke_style={"dasharray": "2, 4"})
    if reference_y is not None:
        chart.add(
            reference_label,
            [(0.0, reference_y), (1.0, reference_y)],
            show_dots=False,
            stroke_style={"dasharray": "2, 4"},
        )
    return to_svg_uri(chart)


def calibration_chart(items: list[dict[str, Any]], confidences: np.ndarray, *, title: str, xlabel: str) -> str:
    """Reliability diagram (predicted probability vs observed frequency) above a histogram of the predictions."""
    top = _chart(
        "XY",
        [GREY, *CYCLE[: len(items)]],
        width=6.0,
        height=4.5,
        title=title,
        y_title="observed frequency",
        range=(-0.02, 1.02),
        xrange=(-0.02, 1.02),
        stroke_style={"width": 1.8},
    )
    top.add("perfectly calibrated", [(0.0, 0.0), (1.0, 1.0)], show_dots=False, stroke_style={"dasharray": "2, 4"})
    for item in items:
        top.add(str(item["label"]), _points(_finite(item["x"]), _finite(item["y"])), dots_size=3)
    counts, edges = np.histogram(_finite(confidences), bins=20, range=(0, 1))
    bottom = _chart(
        "Histogram",
        [GREY],
        width=6.0,
        height=2.0,
        x_title=xlabel,
        y_title="rows",
        show_legend=False,
        xrange=(-0.02, 1.02),
        max_scale=4,
    )
    bottom.add("rows", [(int(c), float(a), float(b)) for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True)])
    return side_by_side([top, bottom], vertical=True)


def _sample(n: int) -> np.ndarray:
    """At most MAX_POINTS row positions, evenly spread."""
    return np.arange(n) if n <= MAX_POINTS else np.linspace(0, n - 1, MAX_POINTS).round().astype(int)


def scatter_true_pred(y_true: np.ndarray, y_pred: np.ndarray, *, title: str, unit: str = "") -> str:
    """Predicted vs true values with the y = x line (perfect predictions)."""
    y_true, y_pred = _finite(y_true), _finite(y_pred)
    shown = _sample(len(y_true))
    lo, hi = _range(y_true, y_pred, pad=0.0)
    note = f" ({len(shown):,} of {len(y_true):,} rows shown)" if len(shown) < len(y_true) else ""
    chart = _chart(
        "XY",
        [TRAIN_COLOUR, GREY],
        width=5.5,
        height=5.0,
        title=title + note,
        x_title=f"true value{unit}",
        y_title=f"predicted value{unit}",
        stroke=False,
        dots_size=2.5,
    )
    chart.add("test rows", _points(y_true[shown], y_pred[shown]))
    chart.add(
        "perfect prediction (y = x)",
        [(lo, lo), (hi, hi)],
        stroke=True,
        show_dots=False,
        stroke_style={"dasharray": "2, 4"},
    )
    return to_svg_uri(chart)


def residual_chart(y_true: np.ndarray, y_pred: np.ndarray, *, title: str) -> str:
    """Residuals (true - predicted) against the prediction, and their histogram, side by side."""
    y_true, y_pred = _finite(y_true), _finite(y_pred)
    residuals = y_true - y_pred
    shown = _sample(len(residuals))
    left = _chart(
        "XY",
        [TRAIN_COLOUR, GREY],
        width=5.0,
        height=4.0,
        title=title,
        x_title="predicted value",
        y_title="residual (true - predicted)",
        stroke=False,
        dots_size=2.5,
        show_legend=False,
    )
    left.add("test rows", _points(y_pred[shown], residuals[shown]))
    lo, hi = _range(y_pred, pad=0.0)
    left.add("zero", [(lo, 0.0), (hi, 0.0)], stroke=True, show_dots=False, stroke_style={"dasharray": "2, 4"})
    finite = residuals[np.isfinite(residuals)]
    counts, edges = np.histogram(finite, bins=30) if finite.size else (np.zeros(1, int), np.array([0.0, 1.0]))
    right = _chart(
        "Histogram",
        [TRAIN_COLOUR],
        width=5.0,
        height=4.0,
        title="distribution of residuals",
        x_title="residual (true - predicted)",
        y_title="rows",
        show_legend=False,
    )
    right.add("rows", [(int(c), float(a), float(b)) for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True)])
    return side_by_side([left, right])


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    xlabel: str,
    errors: Sequence[float] | None = None,
    max_bars: int = 30,
) -> str:
    """Horizontal bars, largest at the top (e.g. permutation feature importance with its spread as an interval)."""
    labels, values = [str(label) for label in list(labels)[:max_bars]], _finite(values)[:max_bars]
    errs = None if errors is None else _finite(errors)[:max_bars]
    longest = max((len(label) for label in labels), default=4)
    chart = _chart(
        "HorizontalBar",
        [TRAIN_COLOUR],
        width=7.0 + 0.06 * min(longest, 40),
        height=max(2.5, 0.32 * len(labels) + 1.4),
        title=title,
        x_title=xlabel,
        x_labels=labels[::-1],  # pygal draws the first label at the bottom
        show_legend=False,
    )
    bars = []
    for i in range(len(labels))[::-1]:
        value = float(values[i]) if np.isfinite(values[i]) else None  # pygal leaves a gap for None
        bar: dict[str, Any] = {"value": value, "color": TRAIN_COLOUR if value is None or value >= 0 else GREY}
        if value is not None and errs is not None and np.isfinite(errs[i]):
            bar["ci"] = {"low": float(values[i] - errs[i]), "high": float(values[i] + errs[i])}
        bars.append(bar)
    chart.add(title, bars)
    return to_svg_uri(chart)


def interval_chart(rows: list[dict[str, Any]], *, title: str, xlabel: str) -> str:
    """Point estimates with 95 % intervals, one per row ({"label", "value", "low", "high"}), and a zero line."""
    labels = [str(row["label"]) for row in rows]
    positions = np.arange(len(rows))[::-1].astype(float)
    lows = np.array([float(row["low"]) for row in rows])
    highs = np.array([float(row["high"]) for row in rows])
    lo, hi = _range(lows, highs, np.zeros(1))
    longest = max((len(label) for label in labels), default=4)
    chart = _chart(
        "XY",
        [ACCENT] * len(rows) + [GREY],
        width=7.0 + 0.06 * min(longest, 40),
        height=0.6 * len(rows) + 1.8,
        title=title,
        x_title=xlabel,
        xrange=(lo, hi),
        range=(-0.6, len(rows) - 0.4),
        y_labels=[{"label": label, "value": float(pos)} for label, pos in zip(labels, positions, strict=True)],
        show_legend=False,
        show_y_guides=False,
        stroke_style={"width": 2.5},
    )
    for row, pos in zip(rows, positions, strict=True):
        chart.add(
            str(row["label"]),
            [
                (float(row["low"]), pos),
                {"value": (float(row["value"]), pos), "node": {"r": 5}},
                (float(row["high"]), pos),
            ],
            dots_size=0.01,
        )
    chart.add("zero", [(0.0, -0.6), (0.0, len(rows) - 0.4)], show_dots=False, stroke_style={"dasharray": "2, 4"})
    return to_svg_uri(chart)
