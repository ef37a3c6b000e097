"""The pieces of ``deepwise serve`` that every kind of data shares: body limits, the prediction and guard models of
the JSON responses, input records validated against the training ranges, and warm-up batch sizes.

Each kind adds its own routes (:meth:`deepwise.kinds.base.DataKind.add_routes`) from these; :mod:`deepwise.serve`
builds the app.

Example:
    >>> Record = record_model(run.preprocessor)      # one input row: every column, training ranges in the docs
    >>> prediction_rows(run.predict(frame), run.preprocessor.classes_)[0]
    {'prediction': 'Adelie', 'probabilities': {...}, 'ood': False, 'ood_score': 0.41}
"""

# no `from __future__ import annotations`: FastAPI reads the request models of the routes defined below from their
# annotations at run time, and those models are local to the function that adds the routes
import math
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from deepwise.errors import DataError
from deepwise.models.inference import padded_rows

MAX_RECORDS = 10_000
MAX_IMAGES = 64
MAX_BODY_BYTES = 16 * 1024 * 1024


def json_value(value: Any) -> Any:
    """Plain Python value for JSON; non-finite numbers become null."""
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class BodyLimit:
    """ASGI middleware: reads a request body up to ``max_bytes`` (413 beyond), then replays it to the app."""

    def __init__(self, app: Any, max_bytes: int, advice: str = "send fewer records per request."):
        self.app = app
        self.max_bytes = max_bytes
        self.advice = advice

    async def _too_large(self, send: Any) -> None:
        import json

        body = json.dumps(
            {"detail": f"The request body is larger than {self.max_bytes:,} bytes; {self.advice}"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._too_large(send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Prediction(BaseModel):
    prediction: str | int | float | bool | None = Field(
        description="the predicted class, or the predicted number (null if not finite)"
    )
    probabilities: dict[str, float | None] | None = Field(None, description="classification: P(class)")
    ood: bool | None = Field(None, description="true: unlike the training data (still predicted)")
    ood_score: float | None = Field(None, description="distance to the training data / alarm threshold; > 1 flags")
    ood_reason: str | None = Field(None, description="images: why the guard flagged it (empty when not flagged)")
    interval: list[float | None] | None = Field(
        None, description="numbers: the conformal interval [lower, upper]; it holds the truth as often as the run's "
        "uncertainty.coverage says (90 % by default; GET /schema: the measured test coverage)"
    )
    prediction_set: list[str] | None = Field(
        None, description="classes: the conformal set of classes; it holds the true one as often as the run's "
        "uncertainty.coverage says (90 % by default)"
    )


class GuardSummary(BaseModel):
    rows: int
    flagged: int
    out_of_range: dict[str, int]
    unseen_categories: dict[str, dict[str, Any]]


class InvalidItems(DataError):
    """Items of a request that could not be read; ``items`` names each (the 422 body lists them as "invalid")."""

    def __init__(self, problem: str, items: list[dict[str, str]], *, expected: str, fix: str):
        self.items = items
        super().__init__(problem, expected=expected, fix=fix)


class PredictResponse(BaseModel):
    task: str
    predictions: list[Prediction]
    guard: GuardSummary | None = None


WARM_UP_ROWS = 1024  # batch shapes compiled at start-up: every padded size up to this many rows


def warm_up_sizes(largest: int) -> list[int]:
    """The batch shapes requests of 1 to ``largest`` rows meet (Run.predict pads a batch to a power of two from 8,
    so a request never waits for a compilation, ~0.1 s each): 8, 16, ..., padded_rows(largest)."""
    top = padded_rows(min(largest, WARM_UP_ROWS))
    return [2**i for i in range(3, top.bit_length())]


def typical_row(prep: Any) -> pd.DataFrame:
    """One in-range row (medians, most common categories), never out of range or unseen: warm-up batches."""
    row: dict[str, Any] = {name: prep.numeric_stats_[name]["median"] for name in prep.numeric}
    for name in prep.categorical:
        vocab = prep.vocabularies_[name]
        row[name] = vocab[0] if vocab else None
    return pd.DataFrame([row], columns=prep.columns)


def input_limit(stats: dict[str, float]) -> float:
    """Largest accepted magnitude of a numeric input: a million times the training scale.

    Anything beyond is a unit or typing error, and would overflow float32 after standardizing.
    """
    return 1e6 * max(abs(stats["min"]), abs(stats["max"]), stats["std"], 1.0)


def record_model(prep: Any, time_column: str | None = None, time_example: Any = None) -> Any:
    """A pydantic model of one input row: every input column required (null = missing), extras ignored.

    With ``time_column`` (forecasting) the row also needs its time: a date or a number, never missing.
    """
    from pydantic import ConfigDict, Field, FiniteFloat, StrictInt, create_model

    fields: dict[str, Any] = {}
    for i, name in enumerate(prep.numeric):
        stats = prep.numeric_stats_[name]
        limit = input_limit(stats)
        fields[f"n{i}"] = (
            Annotated[
                Annotated[FiniteFloat, Field(ge=-limit, le=limit, strict=True)] | None,
                Field(
                    alias=name,
                    description=f"number (training range {stats['min']:g} to {stats['max']:g}; null = missing; "
                    f"beyond ±{limit:g} is rejected as a unit or typing error)",
                    examples=[stats["median"]],
                ),
            ],
            ...,
        )
    for i, name in enumerate(prep.categorical):
        vocab = prep.vocabularies_[name]
        shown = ", ".join(map(str, vocab[:30])) + (" ..." if len(vocab) > 30 else "")
        fields[f"c{i}"] = (
            Annotated[
                str | int | FiniteFloat | bool | None,
                Field(
                    alias=name,
                    description=f"category seen in training: {shown} (another value is allowed, flagged ood; "
                    "null = missing)",
                    examples=[vocab[0] if vocab else "?"],
                ),
            ],
            ...,
        )
    if time_column is not None:
        fields["time"] = (
            Annotated[
                str | StrictInt | FiniteFloat,
                Field(
                    alias=time_column,
                    description="the row's time: a date (e.g. 2024-01-31, or 20240131) or an ordered number; "
                    "one row per time step, no duplicates",
                    examples=[time_example] if time_example is not None else None,
                ),
            ],
            ...,
        )
    return create_model(  # type: ignore[call-overload]
        "Record",
        __config__=ConfigDict(extra="ignore", populate_by_name=False),
        **fields,
    )


def field_name(loc: tuple | list) -> str:
    """('body', 'records', 0, 'island') -> 'records[0].island'."""
    parts = [p for p in loc if p != "body"]
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "body"


def records_frame(records: list[Any], prep: Any, time_column: str | None = None) -> pd.DataFrame:
    """Validated records as raw rows: numeric columns as numbers, categories as given, the time as sent."""
    dumped = [r.model_dump(by_alias=True) for r in records]
    frame = pd.DataFrame(dumped, columns=prep.columns, dtype=object)
    for column in prep.numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if time_column is not None:  # its own dtype: whole numbers stay integers (YYYYMMDD dates are read as dates)
        frame[time_column] = pd.Series([r[time_column] for r in dumped]).infer_objects()
    return frame


def prediction_rows(result: pd.DataFrame, classes: list | None) -> list[dict[str, Any]]:
    """``prediction``, ``probabilities`` (classification) and ``ood``/``ood_score``/``ood_reason`` of each row."""
    rows: list[dict[str, Any]] = [{"prediction": json_value(v)} for v in result["prediction"].tolist()]
    if classes is not None:
        proba = result[[f"proba_{c}" for c in classes]].to_numpy(dtype=float)
        keys = [str(c) for c in classes]
        for row, values in zip(rows, proba.tolist(), strict=True):
            row["probabilities"] = {k: json_value(v) for k, v in zip(keys, values, strict=True)}
    lower = next((c for c in result.columns if c.startswith("lower_")), None)
    if lower is not None:  # the conformal interval (numbers)
        upper = "upper_" + lower.removeprefix("lower_")
        for row, lo, hi in zip(rows, result[lower].tolist(), result[upper].tolist(), strict=True):
            row["interval"] = [json_value(lo), json_value(hi)]
    sets = next((c for c in result.columns if c.startswith("set_")), None)
    if sets is not None:  # the conformal set (classes)
        for row, members in zip(rows, result[sets].tolist(), strict=True):
            row["prediction_set"] = str(members).split("|")
    if "ood" in result:
        for row, flag, score in zip(rows, result["ood"].tolist(), result["ood_score"].tolist(), strict=True):
            row["ood"] = bool(flag)
            row["ood_score"] = json_value(float(score))
    if "ood_reason" in result:  # images: why the guard flagged it ("" when not flagged)
        for row, reason in zip(rows, result["ood_reason"].tolist(), strict=True):
            row["ood_reason"] = str(reason)
    return rows


def input_schema(prep: Any) -> list[dict[str, Any]]:
    """The inputs of a record (training ranges and vocabularies), for ``GET /schema``."""
    inputs: list[dict[str, Any]] = []
    for column in prep.numeric:
        stats = prep.numeric_stats_[column]
        inputs.append(
            {
                "name": column,
                "type": "numeric",
                "training_min": stats["min"],
                "training_max": stats["max"],
                "median": stats["median"],
                "accepted_range": [-input_limit(stats), input_limit(stats)],
                "missing": "allowed (null): filled with the training median",
            }
        )
    for column in prep.categorical:
        inputs.append(
            {
                "name": column,
                "type": "categorical",
                "categories": prep.vocabularies_[column],
                "missing": "allowed (null)",
                "unseen": "allowed: treated as 'unknown' and flagged ood",
            }
        )
    return inputs


def schema_of(run: Any, name: str, classes: list | None, **parts: Any) -> dict[str, Any]:
    """GET /schema for every kind of run: what it is, its target and classes, then the kind's own parts."""
    return {
        "run": name,
        "task": run.task,
        "target": run.config.problem.target,
        "classes": classes,
        **parts,
        "guard": run.metrics.get("guard"),
        "uncertainty": run.metrics.get("conformal"),
    }
