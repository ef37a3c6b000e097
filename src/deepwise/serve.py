"""``deepwise serve``: an HTTP prediction service over a run (FastAPI; needs the ``serve`` extra).

Endpoints: ``POST /predict`` (``{"records": [{column: value, ...}, ...]}`` -> predictions with ``ood`` flags),
``GET /schema`` (the inputs it expects), ``GET /health``, and FastAPI's ``/openapi.json`` and ``/docs``.
The model loads once, when the app is created. Requests are bounded (records per request and body bytes: 413
beyond), invalid input gets a 422 that names the field, and an internal error a generic 500 (the traceback goes
to the server log, never to the client).

Example:
    >>> app = create_app("runs/penguins-20260101-120000")
    >>> from fastapi.testclient import TestClient
    >>> TestClient(app).post("/predict", json={"records": [{"island": "Dream", ...}]}).json()["predictions"][0]
    {'prediction': 'Chinstrap', 'probabilities': {...}, 'ood': False, 'ood_score': 0.41}
"""

import importlib.util
import ipaddress
import logging
import math
import threading
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from deepwise.errors import DeepwiseError

MAX_RECORDS = 10_000
MAX_BODY_BYTES = 16 * 1024 * 1024
log = logging.getLogger("deepwise.serve")


def require_serving() -> None:
    """A clear error when the ``serve`` extra (fastapi, uvicorn) is not installed."""
    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise DeepwiseError(
            f"Serving needs {', '.join(missing)}, which is not installed.",
            expected="the optional serving dependencies",
            fix="install them with `pip install fastapi uvicorn` (deepwise's 'serve' extra).",
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _finite(value: Any) -> Any:
    """Plain Python value for JSON; non-finite numbers become null."""
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _BodyLimit:
    """ASGI middleware: reads a request body up to ``max_bytes`` (413 beyond), then replays it to the app."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _too_large(self, send: Any) -> None:
        import json

        body = json.dumps(
            {"detail": f"The request body is larger than {self.max_bytes:,} bytes; send fewer records per request."}
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


class GuardSummary(BaseModel):
    rows: int
    flagged: int
    out_of_range: dict[str, int]
    unseen_categories: dict[str, dict[str, Any]]


class PredictResponse(BaseModel):
    task: str
    predictions: list[Prediction]
    guard: GuardSummary | None = None


BUCKETS = tuple(2**i for i in range(11))  # 1, 2, 4, ..., 1024 (Keras predicts in batches of up to 1024)


def _bucket(n: int) -> int:
    """Padded batch size: the next power of two up to 1024, then a multiple of 1024.

    JAX compiles the model once per input shape; padding to a few sizes keeps every request on a compiled one
    (an unseen size otherwise costs ~0.1 s of compilation).
    """
    return 1 << (n - 1).bit_length() if n <= 1024 else -(-n // 1024) * 1024


def _typical_row(prep: Any) -> pd.DataFrame:
    """One in-range row (medians, most common categories) used to pad batches: never out of range or unseen."""
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


def _record_model(prep: Any) -> Any:
    """A pydantic model of one input row: every input column required (null = missing), extras ignored."""
    from pydantic import ConfigDict, Field, FiniteFloat, create_model

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
    return create_model(  # type: ignore[call-overload]
        "Record",
        __config__=ConfigDict(extra="ignore", populate_by_name=False),
        **fields,
    )


def _field_name(loc: tuple | list) -> str:
    """('body', 'records', 0, 'island') -> 'records[0].island'."""
    parts = [p for p in loc if p != "body"]
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "body"


def create_app(run_path: str | Path, *, max_records: int = MAX_RECORDS, max_body_bytes: int = MAX_BODY_BYTES) -> Any:
    """The FastAPI app for one run; loads the run (model, preprocessing, guard) once, here.

    Example:
        >>> app = create_app("runs/penguins-20260101-120000", max_records=1000)
    """
    require_serving()
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from deepwise import __version__
    from deepwise.predict import load_run

    run = load_run(run_path)
    if run.task not in ("binary", "multiclass", "regression"):
        raise DeepwiseError(
            f"deepwise serve does not serve {run.task} runs yet (only runs trained on a table).",
            expected="a run whose task is binary, multiclass or regression",
            fix=f"use `deepwise predict {run.path} DATA` for this run.",
        )
    prep = run.preprocessor
    _ = run.model, run.guard  # load now, not on the first request
    filler = _typical_row(prep)
    for size in BUCKETS:  # compile the prediction function for every padded batch size now, not per request
        run.predict(pd.concat([filler] * size, ignore_index=True))
    lock = threading.Lock()
    name = run.path.resolve().name
    classes = prep.classes_
    Record = _record_model(prep)

    class PredictRequest(BaseModel):
        records: list[Record] = Field(  # type: ignore[valid-type]
            min_length=1, max_length=max_records, description=f"rows to predict, 1 to {max_records:,}"
        )

    app = FastAPI(
        title=f"deepwise: {name}",
        version=__version__,
        description=f"Predictions of the deepwise run '{name}' ({run.task}, target '{prep.target}'). "
        "GET /schema lists the inputs; rows unlike the training data are flagged with ood.",
    )
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)
    app.state.run = run

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "too_long" and tuple(e.get("loc", ())) == ("body", "records") for e in errors):
            return JSONResponse(
                status_code=413,
                content={"detail": f"Too many records: at most {max_records:,} per request; split the rows."},
            )
        detail = [
            {
                "loc": list(e.get("loc", ())),
                "field": "body" if e.get("type") == "json_invalid" else _field_name(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in errors[:50]
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(DeepwiseError)
    async def deepwise_error(request: Request, exc: DeepwiseError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": exc.message})

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error while serving %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "Internal server error."})

    problem_responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "The body could not be read (e.g. not UTF-8)"},
        413: {"description": "Too many records, or the body is too large"},
        422: {"description": "Invalid input: the message names the field"},
    }

    @app.post("/predict", response_model=PredictResponse, responses=problem_responses)
    def predict(request: PredictRequest) -> Any:
        """Predict rows; the response keeps their order."""
        frame = pd.DataFrame([r.model_dump(by_alias=True) for r in request.records], columns=prep.columns, dtype=object)
        for column in prep.numeric:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        n = len(frame)
        padded = pd.concat([frame, *([filler] * (_bucket(n) - n))], ignore_index=True)
        with lock:
            full = run.predict(padded)
        result = full.iloc[:n]
        predictions = [_finite(v) for v in result["prediction"].tolist()]
        rows: list[dict[str, Any]] = [{"prediction": p} for p in predictions]
        if classes is not None:
            proba = result[[f"proba_{c}" for c in classes]].to_numpy(dtype=float)
            keys = [str(c) for c in classes]
            for row, values in zip(rows, proba.tolist(), strict=True):
                row["probabilities"] = {k: _finite(v) for k, v in zip(keys, values, strict=True)}
        guard = full.attrs.get("guard")
        if guard is not None:  # the filler rows are in range and of known categories: only these two change
            guard = {**guard, "rows": n, "flagged": int(result["ood"].sum())}
        if "ood" in result:
            for row, flag, score in zip(rows, result["ood"].tolist(), result["ood_score"].tolist(), strict=True):
                row["ood"] = bool(flag)
                row["ood_score"] = _finite(float(score))
        return JSONResponse({"task": run.task, "predictions": rows, "guard": guard})

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: the model is loaded and the service answers."""
        return {"status": "ok", "run": name, "task": run.task, "model_loaded": True}

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The inputs a record needs (training ranges and vocabularies), the target and the task."""
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
        guard = run.metrics.get("guard")
        return {
            "run": name,
            "task": run.task,
            "target": prep.target,
            "classes": classes,
            "inputs": inputs,
            "limits": {"max_records": max_records, "max_body_bytes": max_body_bytes},
            "guard": guard,
        }

    return app


def serve(run_path: str | Path, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted."""
    require_serving()
    import uvicorn

    app = create_app(run_path)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
