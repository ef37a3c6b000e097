"""``deepwise serve`` for a series run: the most recent rows in, the forecast after the last one out.

Example:
    >>> TestClient(app).post("/predict", json={"records": recent_rows}).json()["predictions"][0]["forecast_for"]
    '2010-01-02T00:00:00'
"""

# no `from __future__ import annotations`: FastAPI reads the request models of the routes defined below from their
# annotations at run time, and those models are local to the function that adds the routes
import threading
from typing import Any

import pandas as pd
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from deepwise.data.series import parse_time
from deepwise.errors import DataError, DeepwiseError
from deepwise.serving import (
    GuardSummary,
    Prediction,
    input_schema,
    json_value,
    prediction_rows,
    record_model,
    records_frame,
    schema_of,
    typical_row,
)


class ForecastPrediction(Prediction):
    forecast_for: str | float | None = Field(
        None, description="the time the forecast is for: horizon steps after the last row (ISO date or number)"
    )
    last_time: str | float | None = Field(None, description="the time of the last row sent")


class ForecastResponse(BaseModel):
    task: str
    horizon: int = Field(description="steps (rows) after the last row that the forecast is for")
    predictions: list[ForecastPrediction] = Field(description="one forecast")
    guard: GuardSummary | None = Field(None, description="the guard's check of the last window of rows")


def time_value(value: Any) -> Any:
    """A time for JSON: an ISO date-time for dates, a plain number otherwise (null if missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return json_value(value)


def history_example(run: Any) -> list[dict[str, Any]]:
    """``window`` typical rows at consecutive time steps ending at the test period's end: the docs' example."""
    prep = run.preprocessor
    row = typical_row(prep.tabular).iloc[0].to_dict()
    rows = [{k: json_value(v) for k, v in row.items()} for _ in range(prep.window)]
    if prep.time_column is None:
        return rows
    if prep.use_calendar_:
        end = pd.Timestamp(run.metrics.get("forecast", {}).get("test_period", ["", "2024-01-31"])[-1])
        times: list[Any] = [t.date().isoformat() for t in pd.date_range(end=end, periods=prep.window, freq="D")]
    else:
        times = list(range(prep.window))
    for r, t in zip(rows, times, strict=True):
        r[prep.time_column] = t
    return rows


# One piece: the routes are closures over one loaded run, its lock and its request model (built from the run's
# columns), which FastAPI reads from the annotations of the functions defined here.
def add_forecast_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    limits = {key: limits[key] for key in ("max_body_bytes", "max_records")}
    prep = run.preprocessor
    tab = prep.tabular
    window, horizon, time_column = prep.window, prep.horizon, prep.time_column
    max_records = max(limits["max_records"], window)
    app.description = (
        f"Forecasts of the deepwise run '{name}' (target '{run.config.problem.target}'). POST /predict takes the most "
        "recent rows of the series (GET /schema: the columns and how many rows) and forecasts the target after the "
        "last one."
    )
    example = history_example(run)
    run.predictor.forecast(pd.DataFrame(example))  # compile the prediction function now, not on the first request
    lock = threading.Lock()
    classes = prep.classes_
    Record = record_model(tab, time_column, example[-1][time_column] if time_column else None)

    class ForecastRequest(BaseModel):
        records: list[Record] = Field(  # type: ignore[valid-type]
            min_length=1,
            max_length=max_records,
            description=f"the most recent rows of the series, at least {window} (the model's window) and at most "
            f"{max_records:,}, in any order (sorted by '{time_column}'); the forecast is for {horizon} step(s) after "
            "the last",
            examples=[example],
        )

    def read_time(frame: pd.DataFrame) -> None:
        """The time column must read as times (dates if the model was trained on dates): 422 otherwise."""
        try:
            time = parse_time(frame[time_column])
        except DeepwiseError:
            raise
        except Exception as err:  # pandas raises several kinds for absurd dates and numbers
            raise DataError(
                f"The time column '{time_column}' holds values that could not be read as times ({err}).",
                expected="dates (e.g. 2024-01-31) or an ordered number in every row",
                fix=f"send '{time_column}' as the training data has it.",
            ) from None
        if prep.use_calendar_ and not pd.api.types.is_datetime64_any_dtype(time):
            shown = ", ".join(map(repr, frame[time_column].head(3).tolist()))
            raise DataError(
                f"The time column '{time_column}' holds numbers ({shown}), but the model was trained on dates.",
                expected="dates, e.g. 2024-01-31 (or 20240131)",
                fix=f"send each row's date in '{time_column}'.",
            )

    @app.post(
        "/predict",
        response_model=ForecastResponse,
        responses=responses,
        openapi_extra={"requestBody": {"content": {"application/json": {"example": {"records": example}}}}},
    )
    def predict(request: ForecastRequest) -> Any:
        """Forecast the target `horizon` steps after the last of the rows sent (at least the model's window)."""
        frame = records_frame(request.records, tab, time_column)
        if time_column is not None:
            read_time(frame)
        with lock:
            result = run.predictor.forecast(frame)
        row = prediction_rows(result, classes)[0]
        row["forecast_for"] = time_value(result["forecast_for"].iloc[0])
        row["last_time"] = time_value(result["last_time"].iloc[0])
        guard = result.attrs.get("guard")
        return JSONResponse({"task": run.task, "horizon": horizon, "predictions": [row], "guard": guard})

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The columns a row of the series needs, how many rows, the time column, the horizon and the limits."""
        return schema_of(
            run,
            name,
            classes,
            output=run.output,
            time_column=time_column,
            time=(
                None
                if time_column is None
                else {
                    "name": time_column,
                    "type": "date" if prep.use_calendar_ else "number",
                    "missing": "not allowed; each time once",
                }
            ),
            window=window,
            horizon=horizon,
            min_records=window,
            history=f"send at least the last {window} row(s) of the series (every input column, the target's "
            f"past values included); the forecast is for {horizon} step(s) after the last row",
            inputs=input_schema(tab),
            limits={**limits, "max_records": max_records},
        )
