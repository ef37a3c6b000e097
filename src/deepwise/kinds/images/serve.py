"""``deepwise serve`` for an image run: image files (multipart) or base64 images (JSON) in, a class per image out.

Example:
    >>> TestClient(app).post("/predict", files=[("files", open("3.png", "rb"))]).json()["predictions"][0]
    {'image': '3.png', 'prediction': '3', 'probabilities': {...}, 'ood': False, 'ood_score': 0.52}
"""

# no `from __future__ import annotations`: FastAPI reads the request models of the routes defined below from their
# annotations at run time, and those models are local to the function that adds the routes
import base64
import binascii
import importlib.util
import io
import threading
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from deepwise.data.images import IMAGE_SUFFIXES
from deepwise.errors import DataError
from deepwise.serving import (
    GuardSummary,
    InvalidItems,
    Prediction,
    prediction_rows,
    schema_of,
    warm_up_sizes,
)

MAX_IMAGE_PIXELS = 50_000_000  # 50 megapixels: larger images are refused before they are decoded


class ImagePrediction(Prediction):
    image: str = Field(description="the uploaded file's name, or images[i] for the i-th base64 image")


class ImagePredictResponse(BaseModel):
    task: str
    predictions: list[ImagePrediction]
    guard: GuardSummary | None = None


class BadImages(InvalidItems):
    """Images of a request that could not be decoded; ``items`` names each (for the 422 body)."""

    def __init__(self, bad: list[tuple[str, str]], total: int, formats: list[str]):
        listed = "; ".join(f"{name}: {error}" for name, error in bad[:20])
        more = f"; ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        super().__init__(
            f"{len(bad)} of the {total} image(s) sent could not be decoded: {listed}{more}.",
            [{"image": name, "error": error} for name, error in bad],
            expected=f"image files ({', '.join(formats)}) of at most {MAX_IMAGE_PIXELS:,} pixels each; in JSON, each "
            "image file's bytes as base64",
            fix="send those images again as they are on disk (not re-encoded as text), or leave them out.",
        )


def image_formats() -> dict[str, list[str]]:
    """Pillow format name -> file extensions, for the image files training accepts (jpg, png, bmp, gif, tiff, ...)."""
    from PIL import Image

    Image.init()
    formats: dict[str, list[str]] = {}
    for suffix, fmt in sorted(Image.registered_extensions().items()):
        if suffix in IMAGE_SUFFIXES:
            formats.setdefault(fmt, []).append(suffix)
    return formats


class NotAnImage(ValueError):
    """What is wrong with one image of a request, in words for the client."""


def check_image(data: bytes, formats: list[str]) -> None:
    """Reads only the header: an image of an accepted format and size, or :class:`NotAnImage` saying why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=formats) as img:
            width, height = img.size
    except UnidentifiedImageError:
        raise NotAnImage(f"not an image file of an accepted format ({', '.join(formats)})") from None
    except Image.DecompressionBombError:
        raise NotAnImage(f"more than {MAX_IMAGE_PIXELS:,} pixels; send a smaller image") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise NotAnImage(f"{width}x{height} is more than {MAX_IMAGE_PIXELS:,} pixels; send a smaller image")


def base64_image(text: str) -> bytes:
    """The bytes of a base64 string (whitespace and a ``data:image/...;base64,`` prefix allowed)."""
    if text.startswith("data:") and "," in text[:200]:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise NotAnImage("not valid base64") from None


def example_image(prep: Any) -> str:
    """A plain grey image of the model's size, as base64 PNG: the example in the API docs."""
    from PIL import Image

    h, w = prep.image_size
    mode, fill = ("L", 128) if prep.channels == 1 else ("RGB", (128, 128, 128))
    buffer = io.BytesIO()
    Image.new(mode, (w, h), fill).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# One piece: the routes are closures over one loaded run, its lock, its size and formats and its request model;
# FastAPI reads the request model from the annotations of the functions defined here.
def add_image_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    limits = {key: limits[key] for key in ("max_body_bytes", "max_images")}
    prep = run.preprocessor
    max_images = limits["max_images"]
    app.description = (
        f"Predictions of the deepwise run '{name}' (image classification, target '{run.config.problem.target}'). "
        f"POST /predict takes up to {max_images:,} images: files in a multipart upload (field 'files') or base64 in "
        'JSON ({"images": [...]}); GET /schema gives the size and formats. Images unlike the training images are '
        "flagged with ood."
    )
    h, w = prep.image_size
    channels = prep.channels
    formats = image_formats()
    format_names = sorted(formats)
    blank = np.zeros((1, h, w, channels), dtype=np.uint8)
    # compile the model and the guard's embedding for every batch shape now, not on a request
    for size in warm_up_sizes(min(max_images, run.predictor.image_chunk)):
        run.predict(np.repeat(blank, size, axis=0))
    lock = threading.Lock()
    classes = prep.classes_
    example = example_image(prep)

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

    async def uploaded(request: Request) -> list[tuple[str, bytes | NotAnImage]] | JSONResponse:
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
            items: list[tuple[str, bytes | NotAnImage]] = []
            for i, value in enumerate(values):
                if isinstance(value, str):
                    items.append((f"files[{i}]", NotAnImage("a text field, not a file")))
                else:
                    items.append(((value.filename or "")[:200] or f"files[{i}]", await value.read()))
            return items
        finally:
            await form.close()

    def from_json(body: bytes) -> list[tuple[str, bytes | NotAnImage]]:
        try:
            request = ImagesRequest.model_validate_json(body)
        except ValidationError as err:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e.get("loc", ()))} for e in err.errors(include_url=False)]
            ) from None
        items: list[tuple[str, bytes | NotAnImage]] = []
        for i, text in enumerate(request.images):
            try:
                items.append((f"images[{i}]", base64_image(text)))
            except NotAnImage as err:
                items.append((f"images[{i}]", err))
        return items

    def predict_items(items: list[tuple[str, bytes | NotAnImage]]) -> JSONResponse:
        n = len(items)
        pixels = np.zeros((n, h, w, channels), dtype=np.uint8)
        bad: list[tuple[str, str]] = []
        for k, (label, data) in enumerate(items):
            try:
                if isinstance(data, NotAnImage):  # not base64, or a text field instead of a file
                    raise data
                check_image(data, format_names)
                pixels[k] = prep.decode(data)
            except Exception as err:  # undecodable bytes are the client's problem, whatever Pillow raises
                message = str(err) if isinstance(err, NotAnImage) else f"damaged or truncated image ({err})"
                bad.append((label, message.replace("\n", " ")[:300]))
        if bad:
            raise BadImages(bad, n, format_names)
        with lock:
            result = run.predict(pixels)  # it pads the batch for the network itself
        rows = [
            {"image": label, **row} for (label, _), row in zip(items, prediction_rows(result, classes), strict=True)
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
        return schema_of(
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
