"""``deepwise serve``: an HTTP prediction service over a run (FastAPI; needs the ``serve`` extra).

Endpoints: ``POST /predict``, ``GET /schema`` (the inputs it expects), ``GET /health``, and FastAPI's
``/openapi.json`` and ``/docs``. What ``/predict`` takes depends on the run:

- a table run: ``{"records": [{column: value, ...}, ...]}`` -> one prediction per record, with ``ood`` flags;
- an image run: image files as a multipart upload (field ``files``, one or many) or ``{"images": ["<base64>", ...]}``
  -> one prediction per image, decoded and resized exactly as :meth:`deepwise.run.Run.predict` does;
- a forecasting run: ``{"records": [...]}``, the most recent rows of the series (time column included, at least the
  model's window) -> the forecast for ``horizon`` steps after the last row, as the series' predictor.

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

import importlib.util
import ipaddress
import logging
from pathlib import Path
from typing import Any

from deepwise.errors import DeepwiseError
from deepwise.run import load_run
from deepwise.serving import MAX_BODY_BYTES, MAX_IMAGES, MAX_RECORDS, BodyLimit, InvalidItems, field_name

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


# One piece: the exception handlers and the limits are closures over the one app and its run; the kind adds its
# routes at the end.
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

    run = load_run(run_path)
    _ = run.model, run.guard  # load now, not on the first request
    name = run.path.resolve().name
    items = run.kind.request_items
    too_many = {
        ("body", "records"): f"Too many records: at most {max_records:,} per request; split the rows.",
        ("body", "images"): f"Too many images: at most {max_images:,} per request; send them in several requests.",
    }
    app = FastAPI(
        title=f"deepwise: {name}",
        version=__version__,
        description=f"Predictions of the deepwise run '{name}' ({run.kind.title}, target "  # kinds say more
        f"'{run.config.problem.target}'): POST /predict.",
    )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, advice=f"send fewer or smaller {items} per request.")
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
                "field": "body" if e.get("type") == "json_invalid" else field_name(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in errors[:50]
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(DeepwiseError)
    async def deepwise_error(request: Request, exc: DeepwiseError) -> JSONResponse:
        content: dict[str, Any] = {"detail": exc.message}
        if isinstance(exc, InvalidItems):
            content["invalid"] = exc.items
        return JSONResponse(status_code=422, content=content)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error while serving %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "Internal server error."})

    problem_responses: dict[int | str, dict[str, Any]] = {
        400: {"description": "The body could not be read (e.g. not UTF-8)"},
        413: {"description": f"Too many {items}, or the body is too large"},
        422: {"description": "Invalid input: the message names the field (or the item that could not be read)"},
    }

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: the model is loaded and the service answers."""
        return {"status": "ok", "run": name, "task": run.task, "model_loaded": True}

    limits = {"max_body_bytes": max_body_bytes, "max_records": max_records, "max_images": max_images}
    run.kind.add_routes(app, run, problem_responses, limits)  # each kind takes the limits of what it receives
    return app


def serve(run_path: str | Path, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted."""
    require_serving()
    import uvicorn

    app = create_app(run_path)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
