"""``deepwise serve`` for a segmentation run: images (base64 in JSON) in, a mask per image out as a base64 PNG holding
the user's class ids (a palette PNG coloured as the legend), with the share of each class and the guard's flag.

Example:
    >>> out = TestClient(app).post("/predict", json={"images": [b64_png]}).json()["masks"][0]
    >>> Image.open(io.BytesIO(base64.b64decode(out["mask_png"]))).size, out["ood"]
    ((512, 512), False)
"""

# no `from __future__ import annotations`: FastAPI reads the request models of the routes defined below from their
# annotations at run time, and those models are local to the function that adds the routes
import base64
import io
import threading
from typing import Any

import numpy as np
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from deepwise.errors import DataError
from deepwise.kinds.images.serve import MAX_IMAGE_PIXELS, NotAnImage, base64_image
from deepwise.serving import json_value, schema_of


def decode_image(data: bytes, where: str) -> np.ndarray:
    """Image bytes (PNG, TIFF, BMP...) -> ``[H, W, C]`` as read in training; a DataError naming the image."""
    import tifffile
    from PIL import Image

    if data[:4] in (b"II*\x00", b"MM\x00*"):
        try:
            array = np.asarray(tifffile.imread(io.BytesIO(data)))
        except Exception as err:  # tifffile raises many kinds of errors for broken files
            raise DataError(
                f"{where} is not a readable TIFF: {err}.", expected="a 2D TIFF", fix="re-encode it."
            ) from None
    else:
        try:
            img = Image.open(io.BytesIO(data))
            if img.size[0] * img.size[1] > MAX_IMAGE_PIXELS:
                raise DataError(
                    f"{where} has {img.size[0] * img.size[1]:,} pixels.",
                    expected=f"at most {MAX_IMAGE_PIXELS:,} pixels per image",
                    fix="predict large images with `deepwise predict` (tiled, bounded memory).",
                )
            img.load()
        except (OSError, ValueError, SyntaxError) as err:
            raise DataError(
                f"{where} could not be decoded: {err}.", expected="an image file", fix="re-encode it."
            ) from None
        if img.mode not in ("L", "I", "I;16", "F", "RGB"):
            img = img.convert("L" if img.mode in ("1", "LA") else "RGB")
        array = np.asarray(img)
    return array if array.ndim == 3 else array[..., None]


def mask_png(mask: np.ndarray, legend: Any) -> str:
    """A mask of class indices as a base64 PNG of the user's class ids."""
    from deepwise.kinds.segmentation.write import mask_image

    buffer = io.BytesIO()
    mask_image(mask, legend).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class MaskResult(BaseModel):
    image: str = Field(description="images[i] for the i-th image sent")
    height: int
    width: int
    mask_png: str = Field(description="the mask as a base64 PNG holding the class ids (palette coloured)")
    shares: dict[str, float] = Field(description="share of the image's pixels predicted as each class")
    ood: bool | None = Field(None, description="true: the image is unlike the training images (still segmented)")
    ood_score: float | None = None
    ood_reasons: str | None = None


class MasksResponse(BaseModel):
    task: str
    masks: list[MaskResult]


def add_segmentation_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    prep = run.preprocessor
    max_images = limits["max_images"]
    app.description = (
        f"Masks from the deepwise run '{name}' (segmentation into {', '.join(prep.classes_)}). POST /predict takes "
        f'{{"images": [...]}}: up to {max_images:,} image files as base64; each mask comes back as a base64 PNG '
        "of class ids, with the guard's flag for images unlike the training images. GET /schema says more."
    )
    lock = threading.Lock()
    predictor = run.predictor

    class MasksRequest(BaseModel):
        images: list[str] = Field(
            min_length=1, max_length=max_images, description=f"1 to {max_images:,} image files, each as base64"
        )

    def segment(images: list[str]) -> JSONResponse:
        arrays = []
        for i, text in enumerate(images):
            try:
                arrays.append(decode_image(base64_image(text), f"images[{i}]"))
            except NotAnImage as err:
                raise DataError(
                    f"images[{i}]: {err}.", expected="base64 image bytes", fix="encode the file again."
                ) from None
        with lock:
            frame, masks = predictor.segment(arrays)
        rows = []
        for i, (row, mask) in enumerate(zip(frame.to_dict(orient="records"), masks, strict=True)):
            rows.append({
                "image": f"images[{i}]",
                "height": row["height"],
                "width": row["width"],
                "mask_png": mask_png(mask, prep.legend),
                "shares": {c: json_value(row[f"share_{c}"]) for c in prep.classes_},
                **{k: json_value(row[k]) for k in ("ood", "ood_score", "ood_reasons") if k in row},
            })  # fmt: skip
        return JSONResponse({"task": run.task, "masks": rows})

    @app.post("/predict", response_model=MasksResponse, responses=responses)
    async def predict(request: MasksRequest) -> Any:
        """Segment images; the response keeps their order."""
        return await run_in_threadpool(segment, request.images)

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The classes, the image channels the run takes and the limits of a request."""
        return schema_of(
            run,
            name,
            prep.classes_,
            input={
                "type": "images",
                "json": 'POST /predict with application/json: {"images": ["<base64 image file>", ...]}',
                "channels": prep.channels,
                "tile": f"images larger than {prep.tile} px a side are predicted in overlapping tiles",
            },
            output={
                "mask_png": "base64 PNG of class ids: "
                + ", ".join(f"{i} = {n}" for i, n in zip(prep.legend.ids, prep.legend.names, strict=True)),
                "ood": "unlike the training images (intensity statistics, U-Net features)",
            },
            limits={"max_images": max_images, "max_body_bytes": limits["max_body_bytes"]},
        )
