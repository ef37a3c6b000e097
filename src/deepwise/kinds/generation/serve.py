"""``deepwise serve`` for an image-to-image run: ``{"images": [base64, ...]}`` in, one enhanced PNG (base64, marked
as generated in its metadata) per image out, with the guard's flag; ``GET /schema`` says what the run takes.

Example:
    >>> body = TestClient(app).post("/predict", json={"images": [png_base64]}).json()
    >>> body["outputs"][0]["ood"], body["warning"][:30]
    (False, 'A statistical imagination, not')
"""

# no `from __future__ import annotations`: FastAPI reads the request model of the route below from its annotations
import base64
import tempfile
import threading
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from deepwise.errors import DataError
from deepwise.kinds.generation.data import WARNING
from deepwise.kinds.generation.marking import generation_mark, save_marked_image
from deepwise.kinds.generation.read import load_image
from deepwise.serving import json_value, schema_of


def _decode(items: list[str]) -> list[Any]:
    """Each base64 image as an array (float32 in [0, 1]); a DataError naming the first that is not an image."""
    from deepwise.kinds.images.serve import NotAnImage, base64_image

    images = []
    with tempfile.TemporaryDirectory() as folder:
        for i, text in enumerate(items):
            try:
                raw = base64_image(text)
            except NotAnImage:
                raw = b""
            path = Path(folder) / f"{i}.img"
            path.write_bytes(raw)
            try:
                images.append(load_image(path))
            except DataError:
                raise DataError(
                    f"images[{i}] is not an image deepwise can read.",
                    expected="the bytes of a PNG, JPEG, BMP, GIF or TIFF file as base64",
                    fix="send the image file's bytes base64-encoded.",
                ) from None
    return images


def _png_base64(image: Any, mark: dict[str, Any]) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = save_marked_image(Path(folder) / "out.png", image, mark)
        return base64.b64encode(path.read_bytes()).decode("ascii")


def add_enhancement_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    prep = run.preprocessor
    max_images = limits["max_images"]
    app.description = (
        f"Image-to-image run '{name}': POST /predict takes {{\"images\": [base64, ...]}}, up to {max_images:,} "
        "images; each comes back enhanced as a base64 PNG marked as generated (PNG metadata), with the guard's flag "
        f"(ood: unlike the training inputs, where the network invents most). {WARNING}"
    )
    lock = threading.Lock()
    predictor = run.predictor

    class EnhanceRequest(BaseModel):
        images: list[str] = Field(
            min_length=1, max_length=max_images, description=f"1 to {max_images:,} image files, each as base64 text"
        )

    def answer(items: list[str]) -> JSONResponse:
        images = [predictor.read(img)[1][0] for img in _decode(items)]
        with lock:
            outputs = predictor.enhance(images)
            frame = predictor._frame([f"images[{i}]" for i in range(len(images))], images, outputs, True)
        rows = []
        for i, row in enumerate(frame.to_dict(orient="records")):
            mark = generation_mark("image_to_image", run=name, source=row["image"], out_of_distribution=row.get("ood"))
            rows.append({**{k: json_value(v) for k, v in row.items()}, "png_base64": _png_base64(outputs[i], mark)})
        return JSONResponse({"task": run.task, "outputs": rows, "warning": WARNING})

    @app.post("/predict", responses=responses)
    async def predict(request: EnhanceRequest) -> Any:
        """Enhance images; the response keeps their order."""
        return await run_in_threadpool(answer, request.images)

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """What the run takes and returns, and the limits of a request."""
        return schema_of(
            run,
            name,
            None,
            input={
                "type": "image",
                "json": 'POST /predict with application/json: {"images": ["<base64 of an image file>", ...]}',
                "channels": prep.input_channels,
                "training_size": list(prep.input_shape[:2]),
                "any_size": "the network is fully convolutional: other sizes are padded and cropped back",
            },
            output={
                "png_base64": f"the enhanced image, {prep.output_channels} channel(s), {prep.upscale}x the input's "
                "size, marked as generated in its PNG metadata",
                "ood": "unlike the training inputs: the output there is least trustworthy",
                "warning": WARNING,
            },
            limits={"max_images": max_images, "max_body_bytes": limits["max_body_bytes"]},
        )


__all__ = ["add_enhancement_routes"]
