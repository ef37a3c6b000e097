"""The report of a series run: the test period over time (true vs forecast, persistence, residuals), then the
sections of what the network outputs; and the model card's words for a series.

Example:
    >>> [s.id for s in forecasting_sections(ctx)][:2]
    ['forecast', 'forecast-residuals']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepwise.errors import DeepwiseError
from deepwise.evaluation import LOWER_IS_BETTER, class_probabilities
from deepwise.render import plots
from deepwise.render.blocks import BASELINE_LABELS, Block, Figure, Paragraph, Section, fmt, metric_label, unavailable
from deepwise.render.card import aligned, md, rows_inputs
from deepwise.render.context import ReportContext
from deepwise.render.outputs import output_sections


@dataclass
class ForecastTest:
    """The test period of a forecasting run: one entry per forecast, in time order."""

    times: np.ndarray  # the time of each forecast's target
    y_true: np.ndarray
    output: np.ndarray  # the network's raw output
    naive: dict[str, np.ndarray]  # persistence (and seasonal persistence), in the network's output format
    classes: list[str]


def forecast_test(ctx: ReportContext) -> ForecastTest | str:
    """The network's and the naive forecasts of the test period with their times (or why they are unavailable)."""
    preds = ctx.test_predictions
    if isinstance(preds, str):
        return preds
    prepared = ctx.prepared
    if isinstance(prepared, str):
        return prepared
    _, data = prepared
    if getattr(data, "target_rows", None) is None or getattr(data.problem, "time", None) is None:
        return "Per-step plots are not available: the rebuilt data has no time axis."
    rows = data.target_rows[data.splits["test"]]
    times = np.asarray(data.problem.time.iloc[rows])
    try:
        naive = {k: np.asarray(v) for k, v in data.naive_outputs("test").items()}
    except DeepwiseError:
        naive = {}
    classes = [str(c) for c in (preds.classes or [])]
    return ForecastTest(times, preds.y_true, preds.output, naive, classes)


def _day(time: Any) -> str:
    """A time as text, without a midnight clock time ('2001-08-18 00:00:00' -> '2001-08-18')."""
    text = str(time)
    return text[: -len(" 00:00:00")] if text.endswith(" 00:00:00") else text


def _forecast_intro(ctx: ReportContext, n: int) -> Paragraph:
    fc = ctx.metrics.get("forecast") or {}
    period = fc.get("test_period") or []
    span = f" from {_day(period[0])} to {_day(period[-1])}" if len(period) == 2 else ""
    season = f"; season length {fc['season_length']} steps" if fc.get("season_length") else ""
    return Paragraph(
        f"{fmt(n)} forecasts of '{ctx.target}' over the test period{span}, each {fc.get('horizon', '?')} step(s) "
        f"ahead from the last {fc.get('window', '?')} step(s) of the series{season}. The test period comes after "
        "every training and validation step, so these forecasts are of a future the network never saw."
    )


def _versus_naive(ctx: ReportContext) -> Paragraph | None:
    """One sentence comparing the network's main test metric with the naive forecasts' (from metrics.json)."""
    main = ctx.main_metric
    test = ctx.metrics.get("test") or {}
    baselines = ctx.metrics.get("baselines") or {}
    parts = [
        f"{BASELINE_LABELS.get(name, name)} {fmt(baselines[name].get(main))}"
        for name in ("persistence", "seasonal_persistence")
        if name in baselines and baselines[name].get(main) is not None
    ]
    if not main or test.get(main) is None or not parts:
        return None
    better = "lower" if main in LOWER_IS_BETTER else "higher"
    return Paragraph(
        f"Test {metric_label(main)} ({better} is better): network {fmt(test[main])}; " + "; ".join(parts) + ". "
        "A network that does not beat persistence has learned nothing the last value did not already say.",
        css="note",
    )


def _zoom(n: int, last: int = 200) -> slice | None:
    """The last ``last`` steps of a long test period (None when the whole period is short enough to read)."""
    return slice(n - last, n) if n > 1.5 * last else None


def forecast_regression_sections(ctx: ReportContext, ft: ForecastTest) -> list[Section]:
    y = ft.y_true.astype(float).reshape(-1)
    pred = ft.output.astype(float).reshape(-1)
    naive = {BASELINE_LABELS.get(k, k): v.astype(float).reshape(-1) for k, v in ft.naive.items()}
    target, n = ctx.target, len(y)
    forecasts = {"network forecast": pred, **naive}
    blocks: list[Block] = [
        _forecast_intro(ctx, n),
        Figure(
            plots.forecast_chart(
                ft.times, y, forecasts, title=f"Test period: '{target}', true vs forecast", ylabel=target
            ),
            alt=f"True '{target}' and the network's and persistence forecasts over the test period",
            caption="Black: the true value at each forecast's target time; blue: the network's forecast; dashed: the "
            "naive forecasts it must beat (persistence repeats the last known value). A network line that trails the "
            "true line by the horizon is just copying the last value.",
        ),
    ]
    zoom = _zoom(n)
    if zoom is not None:
        blocks.append(
            Figure(
                plots.forecast_chart(
                    ft.times[zoom],
                    y[zoom],
                    {k: v[zoom] for k, v in forecasts.items()},
                    title=f"The last {zoom.stop - zoom.start} forecasts",
                    ylabel=target,
                ),
                alt="The end of the test period, enlarged",
            )
        )
    versus = _versus_naive(ctx)
    if versus is not None:
        blocks.append(versus)
    residuals = {"network": y - pred, **{k: y - v for k, v in naive.items()}}
    return [
        Section("forecast", "Forecast over the test period", blocks),
        Section(
            "forecast-residuals",
            "Forecast residuals over time",
            [
                Figure(
                    plots.residuals_over_time(ft.times, residuals, title="Residuals over the test period"),
                    alt="Residuals of the network and persistence forecasts over time",
                    caption="Residual = true - forecast, at each forecast's target time; orange: the network's "
                    "residuals averaged over a few steps. Residuals that drift away from zero mean the series moved "
                    "away from what training saw (a trend or a level shift); waves mean a cycle the window misses; "
                    "spikes are events no past value announced.",
                )
            ],
        ),
    ]


def forecast_classification_sections(ctx: ReportContext, ft: ForecastTest) -> list[Section]:
    proba = class_probabilities(ctx.output, ft.output)
    y = ft.y_true.astype(int).reshape(-1)
    classes = ft.classes or [str(i) for i in range(proba.shape[1])]
    blocks: list[Block] = [_forecast_intro(ctx, len(y))]
    persistence = ft.naive.get("persistence")
    if ctx.output == "binary":
        naive = {BASELINE_LABELS.get(k, k): v.astype(float).reshape(-1) for k, v in ft.naive.items()}
        blocks.append(
            Figure(
                plots.forecast_probability_chart(
                    ft.times,
                    proba[:, 1],
                    y,
                    positive=classes[1],
                    negative=classes[0],
                    naive=naive,
                    title=f"Test period: forecast probability of '{ctx.target}' = '{classes[1]}'",
                ),
                alt=f"Forecast probability of '{classes[1]}' over the test period with the true class",
                caption=f"Blue: the network's probability that '{ctx.target}' is '{classes[1]}' at each target "
                f"time; dots: the true class (at 1 for '{classes[1]}', at 0 for '{classes[0]}'), green where the "
                "0.5 threshold forecast it right, red where not; dashed: persistence (the last known class).",
            )
        )
    else:
        naive_class = None if persistence is None else np.asarray(persistence).argmax(axis=1)
        blocks.append(
            Figure(
                plots.forecast_class_chart(
                    ft.times,
                    proba,
                    y,
                    classes,
                    naive=naive_class,
                    naive_label="persistence (the last known class)",
                    title=f"Test period: forecast probability of each class of '{ctx.target}'",
                ),
                alt="Forecast probability of each class over the test period with the true class",
                caption="Colour: the network's probability of each class (one row per class) at each target time; "
                "dots: the true class, green where the most probable class was right, red where not; grey crosses: "
                "the class persistence forecasts (the last known one).",
            )
        )
    versus = _versus_naive(ctx)
    if versus is not None:
        blocks.append(versus)
    return [Section("forecast", "Forecast over the test period", blocks)]


def forecasting_sections(ctx: ReportContext) -> list[Section]:
    """A forecasting run's test period over time (true vs forecast, persistence, residuals), then the plots of the
    table task it outputs (regression or classification)."""
    ft = forecast_test(ctx)
    regression = ctx.output == "regression"
    if isinstance(ft, str):
        over_time = [unavailable("forecast", "Forecast over the test period", ft)]
        if regression:
            over_time.append(unavailable("forecast-residuals", "Forecast residuals over time", ft))
    elif regression:
        over_time = forecast_regression_sections(ctx, ft)
    else:
        over_time = forecast_classification_sections(ctx, ft)
    return over_time + output_sections(ctx)


def series_card_inputs(ctx: ReportContext) -> list[list[str]]:
    """The time column, then the per-step columns."""
    prep = ctx.preprocessing or {}
    rows: list[list[str]] = []
    if prep.get("time_column"):
        period = (ctx.metrics.get("forecast") or {}).get("test_period") or []
        rows.append([md(prep["time_column"]), "time", md(f"before {period[0]}" if period else "-")])
    return rows + rows_inputs(prep.get("tabular") or {})


def series_card_usage(ctx: ReportContext, columns: str, proba_note: str) -> tuple[list[str], str, str]:
    path = str(ctx.path)
    prep = ctx.preprocessing or {}
    window, horizon = prep.get("window", "?"), prep.get("horizon", "?")
    commands = [
        (f"deepwise predict {path} recent_rows.csv", f"the forecast {horizon} step(s) after the last row"),
        (f"deepwise evaluate {path} later_rows.csv", "re-measure on a later stretch of the series"),
        (f"deepwise export {path} --format onnx", "or keras / saved_model"),
    ]
    python = (
        f'import deepwise\nimport pandas as pd\n\nrun = deepwise.load_run("{path}")\n'
        'forecast = run.predict(pd.read_csv("recent_rows.csv"))  # one row: the forecast after the last time\n'
        "print(forecast)"
    )
    note = (
        f"Pass at least the last {window} row(s) of the series, with the columns {columns}; rows are put in time "
        f"order, and the forecast is for {horizon} step(s) after the last one."
    )
    return aligned(commands), python, note


def series_card_source(ctx: ReportContext) -> str:
    forecast = ctx.metrics.get("forecast") or {}
    return (
        f"the last {forecast.get('window', '?')} time step(s) of a series, {forecast.get('horizon', '?')} "
        f"step(s) ahead (test period {' to '.join(map(str, forecast.get('test_period') or ['?']))})"
    )


SERIES_SCOPE = (
    "The metrics come from one test period at the end of one series; they say nothing about other seasons, "
    "about a future that behaves differently (a trend break, a new regime), or about other series."
)
