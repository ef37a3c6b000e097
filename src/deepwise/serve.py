"""``deepwise serve``: an HTTP prediction service over a run (FastAPI; needs the ``serve`` extra).

Endpoints: ``POST /predict``, ``GET /schema`` (the inputs it expects), ``GET /health``, and FastAPI's
``/openapi.json`` and ``/docs``. What ``/predict`` takes depends on the run:

- a table run: ``{"records": [{column: value, ...}, ...]}`` -> one prediction per record, with ``ood`` flags;
- an image run: image files as a multipart upload (field ``files``, one or many) or ``{"images": ["<base64>", ...]}``
  -> one prediction per image, decoded and resized exactly as :meth:`deepwise.predict.Run.predict` does;
- a forecasting run: ``{"records": [...]}``, the most recent rows of the series (time column included, at least the
  model's window) -> the forecast for ``horizon`` steps after the last row, as :meth:`deepwise.predict.Run.forecast`.

The model loads once, when the app is created. Requests are bounded (records or images per request and body bytes:
413 beyond), invalid input gets a 422 that names the field (or the image), and an internal error a generic 500 (the
traceback goes to the server log, never to the client).

Example:
    >>> app = create_app("runs/penguins-20260101-120000")
    >>> from fastapi.testclient import TestClient
    >>> TestClient(app).post("/predict", json={"records": [{"island": "Dream", ...}]}).json()["predictions"][0]
    {'prediction': 'Chinstrap', 'probabilities': {...}, 'ood': False, 'ood_score': 0.41}
    >>> images = create_app("runs/digits-20260101-120000")
    >>> TestClient(images).post("/predict", files=[("files", open("3.png", "rb"))]).json()["predictions"][0]
    {'image': '3.png', 'prediction': '3', 'probabilities': {...}, 'ood': False, 'ood_score': 0.52}
"""

import base64
import binascii
import importlib.util
import io
import ipaddress
import logging
import math
import threading
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from deepwise.errors import DataError, DeepwiseError
from deepwise.models.inference import padded_rows

MAX_RECORDS = 10_000
MAX_IMAGES = 64
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_IMAGE_PIXELS = 50_000_000  # 50 megapixels: larger images are refused before they are decoded
TABLE_TASKS = ("binary", "multiclass", "regression")
log = logging.getLogger("deepwise.serve")


def require_serving() -> None:
    """A clear error when the ``serve`` extra (fastapi, uvicorn) is not installed."""
    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise DeepwiseError(
            f"Serving needs {', '.join(missing)}, which is not installed.",
            expected="the optional serving dependencies",
            fix="install them with `pip install fastapi uvicorn python-multipart` (deepwise's 'serve' extra).",
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


class ImagePrediction(Prediction):
    image: str = Field(description="the uploaded file's name, or images[i] for the i-th base64 image")


class ForecastPrediction(Prediction):
    forecast_for: str | float | None = Field(
        None, description="the time the forecast is for: horizon steps after the last row (ISO date or number)"
    )
    last_time: str | float | None = Field(None, description="the time of the last row sent")


class GuardSummary(BaseModel):
    rows: int
    flagged: int
    out_of_range: dict[str, int]
    unseen_categories: dict[str, dict[str, Any]]


class PredictResponse(BaseModel):
    task: str
    predictions: list[Prediction]
    guard: GuardSummary | None = None


class ImagePredictResponse(BaseModel):
    task: str
    predictions: list[ImagePrediction]
    guard: GuardSummary | None = None


class ForecastResponse(BaseModel):
    task: str
    horizon: int = Field(description="steps (rows) after the last row that the forecast is for")
    predictions: list[ForecastPrediction] = Field(description="one forecast")
    guard: GuardSummary | None = Field(None, description="the guard's check of the last window of rows")


class _BadImages(DataError):
    """Images of a request that could not be decoded; ``items`` names each (for the 422 body)."""

    def __init__(self, bad: list[tuple[str, str]], total: int, formats: list[str]):
        self.items = [{"image": name, "error": error} for name, error in bad]
        listed = "; ".join(f"{name}: {error}" for name, error in bad[:20])
        more = f"; ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        super().__init__(
            f"{len(bad)} of the {total} image(s) sent could not be decoded: {listed}{more}.",
            expected=f"image files ({', '.join(formats)}) of at most {MAX_IMAGE_PIXELS:,} pixels each; in JSON, each "
            "image file's bytes as base64",
            fix="send those images again as they are on disk (not re-encoded as text), or leave them out.",
        )


WARM_UP_ROWS = 1024  # batch shapes compiled at start-up: every padded size up to this many rows


def _warm_up_sizes(largest: int) -> list[int]:
    """The batch shapes requests of 1 to ``largest`` rows meet (Run.predict pads a batch to a power of two from 8,
    so a request never waits for a compilation, ~0.1 s each): 8, 16, ..., padded_rows(largest)."""
    top = padded_rows(min(largest, WARM_UP_ROWS))
    return [2**i for i in range(3, top.bit_length())]


def _typical_row(prep: Any) -> pd.DataFrame:
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


def _record_model(prep: Any, time_column: str | None = None, time_example: Any = None) -> Any:
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


def _field_name(loc: tuple | list) -> str:
    """('body', 'records', 0, 'island') -> 'records[0].island'."""
    parts = [p for p in loc if p != "body"]
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "body"


def _records_frame(records: list[Any], prep: Any, time_column: str | None = None) -> pd.DataFrame:
    """Validated records as raw rows: numeric columns as numbers, categories as given, the time as sent."""
    dumped = [r.model_dump(by_alias=True) for r in records]
    frame = pd.DataFrame(dumped, columns=prep.columns, dtype=object)
    for column in prep.numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if time_column is not None:  # its own dtype: whole numbers stay integers (YYYYMMDD dates are read as dates)
        frame[time_column] = pd.Series([r[time_column] for r in dumped]).infer_objects()
    return frame


def _prediction_rows(result: pd.DataFrame, classes: list | None) -> list[dict[str, Any]]:
    """``prediction``, ``probabilities`` (classification) and ``ood``/``ood_score`` of each row of a result."""
    rows: list[dict[str, Any]] = [{"prediction": _finite(v)} for v in result["prediction"].tolist()]
    if classes is not None:
        proba = result[[f"proba_{c}" for c in classes]].to_numpy(dtype=float)
        keys = [str(c) for c in classes]
        for row, values in zip(rows, proba.tolist(), strict=True):
            row["probabilities"] = {k: _finite(v) for k, v in zip(keys, values, strict=True)}
    if "ood" in result:
        for row, flag, score in zip(rows, result["ood"].tolist(), result["ood_score"].tolist(), strict=True):
            row["ood"] = bool(flag)
            row["ood_score"] = _finite(float(score))
    return rows


def _input_schema(prep: Any) -> list[dict[str, Any]]:
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


def create_app(
    run_path: str | Path,
    *,
    max_records: int = MAX_RECORDS,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_images: int = MAX_IMAGES,
) -> Any:
    """The FastAPI app for one run (a table, image or forecasting run); loads the run once, here.

    ``max_records`` bounds the rows of a table or forecasting request, ``max_images`` the images of an image request,
    ``max_body_bytes`` the body of any request.

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
    if run.task not in (*TABLE_TASKS, "forecasting", "image_classification"):
        raise DeepwiseError(
            f"deepwise serve does not serve {run.task} runs.",
            expected="a run trained on a table, a time series or images",
            fix=f"use `deepwise predict {run.path} DATA` for this run.",
        )
    _ = run.model, run.guard  # load now, not on the first request
    name = run.path.resolve().name
    kind = "images" if run.images else "records"
    too_many = {
        ("body", "records"): f"Too many records: at most {max_records:,} per request; split the rows.",
        ("body", "images"): f"Too many images: at most {max_images:,} per request; send them in several requests.",
    }
    app = FastAPI(
        title=f"deepwise: {name}",
        version=__version__,
        description=_description(run, name, max_images),
    )
    advice = "send fewer or smaller images per request." if run.images else "send fewer records per request."
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes, advice=advice)
    app.state.run = run

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        for e in errors:
            if e.get("type") == "too_long" and tuple(e.get("loc", ())) in too_many:
                return JSONResponse(status_code=413, content={"detail": too_many[tuple(e["loc"])]})
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
        content: dict[str, Any] = {"detail": exc.message}
        if isinstance(exc, _BadImages):
            content["invalid"] = exc.items
        return JSONResponse(status_code=422, content=content)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error while serving %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "Internal server error."})

    problem_responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "The body could not be read (e.g. not UTF-8)"},
        413: {"description": f"Too many {kind}, or the body is too large"},
        422: {"description": f"Invalid input: the message names the field{' or the image' if run.images else ''}"},
    }

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: the model is loaded and the service answers."""
        return {"status": "ok", "run": name, "task": run.task, "model_loaded": True}

    limits = {"max_body_bytes": max_body_bytes}
    if run.images:
        _image_routes(app, run, name, problem_responses, {**limits, "max_images": max_images})
    elif run.forecasting:
        _forecast_routes(app, run, name, problem_responses, {**limits, "max_records": max_records})
    else:
        _table_routes(app, run, name, problem_responses, {**limits, "max_records": max_records})
    return app


def _description(run: Any, name: str, max_images: int) -> str:
    target = run.config.problem.target
    if run.images:
        return (
            f"Predictions of the deepwise run '{name}' (image classification, target '{target}'). POST /predict takes "
            f"up to {max_images:,} images: files in a multipart upload (field 'files') or base64 in JSON "
            '({"images": [...]}); GET /schema gives the size and formats. Images unlike the training images are '
            "flagged with ood."
        )
    if run.forecasting:
        return (
            f"Forecasts of the deepwise run '{name}' (target '{target}'). POST /predict takes the most recent rows "
            "of the series (GET /schema: the columns and how many rows) and forecasts the target after the last one."
        )
    return (
        f"Predictions of the deepwise run '{name}' ({run.task}, target '{target}'). "
        "GET /schema lists the inputs; rows unlike the training data are flagged with ood."
    )


# ------------------------------------------------------------------------------------------------------------- tables
def _table_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    from fastapi.responses import JSONResponse

    prep = run.preprocessor
    max_records = limits["max_records"]
    filler = _typical_row(prep)
    for size in _warm_up_sizes(max_records):  # compile every batch shape now, not on a request
        run.predict(pd.concat([filler] * size, ignore_index=True))
    lock = threading.Lock()
    classes = prep.classes_
    Record = _record_model(prep)

    class PredictRequest(BaseModel):
        records: list[Record] = Field(  # type: ignore[valid-type]
            min_length=1, max_length=max_records, description=f"rows to predict, 1 to {max_records:,}"
        )

    @app.post("/predict", response_model=PredictResponse, responses=responses)
    def predict(request: PredictRequest) -> Any:
        """Predict rows; the response keeps their order."""
        frame = _records_frame(request.records, prep)
        with lock:
            result = run.predict(frame)  # it pads the batch for the network itself
        rows = _prediction_rows(result, classes)
        return JSONResponse({"task": run.task, "predictions": rows, "guard": result.attrs.get("guard")})

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The inputs a record needs (training ranges and vocabularies), the target and the task."""
        return _schema(run, name, classes, inputs=_input_schema(prep), limits=limits)


# ------------------------------------------------------------------------------------------------------------- images
def _image_formats() -> dict[str, list[str]]:
    """Pillow format name -> file extensions, for the image files training accepts (jpg, png, bmp, gif, tiff, ...)."""
    from PIL import Image

    from deepwise.data.images import IMAGE_SUFFIXES

    Image.init()
    formats: dict[str, list[str]] = {}
    for suffix, fmt in sorted(Image.registered_extensions().items()):
        if suffix in IMAGE_SUFFIXES:
            formats.setdefault(fmt, []).append(suffix)
    return formats


class _NotAnImage(ValueError):
    """What is wrong with one image of a request, in words for the client."""


def _check_image(data: bytes, formats: list[str]) -> None:
    """Reads only the header: an image of an accepted format and size, or :class:`_NotAnImage` saying why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=formats) as img:
            width, height = img.size
    except UnidentifiedImageError:
        raise _NotAnImage(f"not an image file of an accepted format ({', '.join(formats)})") from None
    except Image.DecompressionBombError:
        raise _NotAnImage(f"more than {MAX_IMAGE_PIXELS:,} pixels; send a smaller image") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise _NotAnImage(f"{width}x{height} is more than {MAX_IMAGE_PIXELS:,} pixels; send a smaller image")


def _base64_image(text: str) -> bytes:
    """The bytes of a base64 string (whitespace and a ``data:image/...;base64,`` prefix allowed)."""
    if text.startswith("data:") and "," in text[:200]:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _NotAnImage("not valid base64") from None


def _example_image(prep: Any) -> str:
    """A plain grey image of the model's size, as base64 PNG: the example in the API docs."""
    from PIL import Image

    h, w = prep.image_size
    mode, fill = ("L", 128) if prep.channels == 1 else ("RGB", (128, 128, 128))
    buffer = io.BytesIO()
    Image.new(mode, (w, h), fill).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import ValidationError
    from starlette.concurrency import run_in_threadpool

    prep = run.preprocessor
    max_images = limits["max_images"]
    h, w = prep.image_size
    channels = prep.channels
    formats = _image_formats()
    format_names = sorted(formats)
    blank = np.zeros((1, h, w, channels), dtype=np.uint8)
    for size in _warm_up_sizes(min(max_images, run.image_chunk)):  # model and guard embedding, not on a request
        run.predict_images(np.repeat(blank, size, axis=0))
    lock = threading.Lock()
    classes = prep.classes_
    example = _example_image(prep)

    class ImagesRequest(BaseModel):
        images: list[str] = Field(
            min_length=1,
            max_length=max_images,
            description=f"1 to {max_images:,} image files ({', '.join(format_names)}), each as base64 text",
            examples=[[example]],
        )

    multipart_schema = {
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "items": {"type": "string", "format": "binary"},
                "minItems": 1,
                "maxItems": max_images,
                "description": f"1 to {max_images:,} image files ({', '.join(format_names)})",
            }
        },
        "required": ["files"],
    }
    request_body = {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": multipart_schema},
            "application/json": {"schema": ImagesRequest.model_json_schema(), "example": {"images": [example]}},
        },
    }

    def unreadable(problem: str) -> DataError:
        return DataError(
            problem,
            expected="multipart/form-data with the images as files in the field 'files', or JSON "
            '{"images": ["<base64>", ...]}',
            fix="e.g. `curl -F files=@cat.jpg -F files=@dog.jpg URL/predict`.",
        )

    def too_many(n: int) -> JSONResponse:
        return JSONResponse(
            status_code=413,
            content={
                "detail": f"Too many images: {n:,} sent, at most {max_images:,} per request; send them in "
                "several requests."
            },
        )

    async def uploaded(request: Request) -> list[tuple[str, bytes | _NotAnImage]] | JSONResponse:
        if importlib.util.find_spec("python_multipart") is None:
            raise unreadable("This server cannot read multipart uploads: python-multipart is not installed.")
        try:
            form = await request.form(max_files=10 * max_images + 10, max_fields=10 * max_images + 10)
        except Exception as err:  # starlette's HTTPException / MultiPartException, or a parser error
            reason = str(getattr(err, "detail", err)).rstrip(".")
            raise unreadable(f"The multipart body could not be read: {reason}.") from None
        try:
            values = form.getlist("files")
            if not values:
                received = ", ".join(sorted({f"'{k}'" for k in form.keys()})) or "none"
                raise unreadable(f"The upload has no field 'files' (fields received: {received}).")
            if len(values) > max_images:
                return too_many(len(values))
            items: list[tuple[str, bytes | _NotAnImage]] = []
            for i, value in enumerate(values):
                if isinstance(value, str):
                    items.append((f"files[{i}]", _NotAnImage("a text field, not a file")))
                else:
                    items.append(((value.filename or "")[:200] or f"files[{i}]", await value.read()))
            return items
        finally:
            await form.close()

    def from_json(body: bytes) -> list[tuple[str, bytes | _NotAnImage]]:
        try:
            request = ImagesRequest.model_validate_json(body)
        except ValidationError as err:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e.get("loc", ()))} for e in err.errors(include_url=False)]
            ) from None
        items: list[tuple[str, bytes | _NotAnImage]] = []
        for i, text in enumerate(request.images):
            try:
                items.append((f"images[{i}]", _base64_image(text)))
            except _NotAnImage as err:
                items.append((f"images[{i}]", err))
        return items

    def predict_items(items: list[tuple[str, bytes | _NotAnImage]]) -> JSONResponse:
        n = len(items)
        pixels = np.zeros((n, h, w, channels), dtype=np.uint8)
        bad: list[tuple[str, str]] = []
        for k, (label, data) in enumerate(items):
            try:
                if isinstance(data, _NotAnImage):  # not base64, or a text field instead of a file
                    raise data
                _check_image(data, format_names)
                pixels[k] = prep.decode(data)
            except Exception as err:  # undecodable bytes are the client's problem, whatever Pillow raises
                message = str(err) if isinstance(err, _NotAnImage) else f"damaged or truncated image ({err})"
                bad.append((label, message.replace("\n", " ")[:300]))
        if bad:
            raise _BadImages(bad, n, format_names)
        with lock:
            result = run.predict_images(pixels)  # it pads the batch for the network itself
        rows = [
            {"image": label, **row} for (label, _), row in zip(items, _prediction_rows(result, classes), strict=True)
        ]
        guard = None
        if "ood" in result:
            guard = {"rows": n, "flagged": int(result["ood"].sum()), "out_of_range": {}, "unseen_categories": {}}
        return JSONResponse({"task": run.task, "predictions": rows, "guard": guard})

    @app.post(
        "/predict",
        response_model=ImagePredictResponse,
        responses={**responses, 415: {"description": "Neither multipart/form-data nor JSON"}},
        openapi_extra={"requestBody": request_body},
    )
    async def predict(request: Request) -> Any:
        """Predict images: files in a multipart upload (field `files`), or `{"images": [base64, ...]}` in JSON.

        Each image is converted and resized to what the model was trained on, exactly as `deepwise predict` does;
        the response keeps their order.
        """
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media == "multipart/form-data":
            items = await uploaded(request)
            if isinstance(items, JSONResponse):
                return items
        elif media in ("", "application/json") or media.endswith("+json"):
            items = await run_in_threadpool(from_json, await request.body())
        else:
            return JSONResponse(
                status_code=415,
                content={
                    "detail": f"The body is {media}, which this service does not read. Expected: multipart/form-data "
                    '(image files in the field \'files\') or application/json ({"images": ["<base64>", ...]}). '
                    "Fix: set the Content-Type header to one of these."
                },
            )
        return await run_in_threadpool(predict_items, items)

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The images the model takes (size, channels, formats), how to send them, its classes and the limits."""
        return _schema(
            run,
            name,
            classes,
            input={
                "type": "images",
                "image_size": [h, w],
                "height": h,
                "width": w,
                "channels": channels,
                "color": "grayscale" if channels == 1 else "RGB",
                "formats": format_names,
                "extensions": sorted(s for suffixes in formats.values() for s in suffixes),
                "preprocessing": f"every image is converted to {'grayscale' if channels == 1 else 'RGB'} and resized "
                f"to {h}x{w} pixels (bilinear), as in training; any size is accepted",
                "multipart": "POST /predict with multipart/form-data: one or more files in the field 'files'",
                "json": 'POST /predict with application/json: {"images": ["<base64 of an image file>", ...]}',
            },
            limits={**limits, "max_image_pixels": MAX_IMAGE_PIXELS},
        )


# -------------------------------------------------------------------------------------------------------- forecasting
def _time_value(value: Any) -> Any:
    """A time for JSON: an ISO date-time for dates, a plain number otherwise (null if missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return _finite(value)


def _history_example(run: Any) -> list[dict[str, Any]]:
    """``window`` typical rows at consecutive time steps ending at the test period's end: the docs' example."""
    prep = run.preprocessor
    row = _typical_row(prep.tabular).iloc[0].to_dict()
    rows = [{k: _finite(v) for k, v in row.items()} for _ in range(prep.window)]
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


def _forecast_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    from fastapi.responses import JSONResponse

    from deepwise.data.series import parse_time

    prep = run.preprocessor
    tab = prep.tabular
    window, horizon, time_column = prep.window, prep.horizon, prep.time_column
    max_records = max(limits["max_records"], window)
    example = _history_example(run)
    run.forecast(pd.DataFrame(example))  # compile the prediction function now, not on the first request
    lock = threading.Lock()
    classes = prep.classes_
    Record = _record_model(tab, time_column, example[-1][time_column] if time_column else None)

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
        frame = _records_frame(request.records, tab, time_column)
        if time_column is not None:
            read_time(frame)
        with lock:
            result = run.forecast(frame)
        row = _prediction_rows(result, classes)[0]
        row["forecast_for"] = _time_value(result["forecast_for"].iloc[0])
        row["last_time"] = _time_value(result["last_time"].iloc[0])
        guard = result.attrs.get("guard")
        return JSONResponse({"task": run.task, "horizon": horizon, "predictions": [row], "guard": guard})

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The columns a row of the series needs, how many rows, the time column, the horizon and the limits."""
        return _schema(
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
            inputs=_input_schema(tab),
            limits={**limits, "max_records": max_records},
        )


def _schema(run: Any, name: str, classes: list | None, **parts: Any) -> dict[str, Any]:
    """GET /schema for every kind of run: what it is, its target and classes, then the kind's own parts."""
    return {
        "run": name,
        "task": run.task,
        "target": run.config.problem.target,
        "classes": classes,
        **parts,
        "guard": run.metrics.get("guard"),
    }


def serve(run_path: str | Path, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted."""
    require_serving()
    import uvicorn

    app = create_app(run_path)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
