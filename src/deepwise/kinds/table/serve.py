"""``deepwise serve`` for a table run: ``{"records": [...]}`` in, one prediction per record out (with ``ood``).

Example:
    >>> TestClient(app).post("/predict", json={"records": [{"island": "Dream", ...}]}).json()["predictions"][0]
    {'prediction': 'Chinstrap', 'probabilities': {...}, 'ood': False, 'ood_score': 0.41}
"""

# no `from __future__ import annotations`: FastAPI reads the request models of the routes defined below from their
# annotations at run time, and those models are local to the function that adds the routes
import threading
from typing import Any

import pandas as pd
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from deepwise.serving import (
    PredictResponse,
    input_schema,
    prediction_rows,
    record_model,
    records_frame,
    schema_of,
    typical_row,
    warm_up_sizes,
)


def add_table_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    limits = {key: limits[key] for key in ("max_body_bytes", "max_records")}
    prep = run.preprocessor
    max_records = limits["max_records"]
    app.description = (
        f"Predictions of the deepwise run '{name}' ({run.task}, target '{run.config.problem.target}'). "
        "GET /schema lists the inputs; rows unlike the training data are flagged with ood."
    )
    filler = typical_row(prep)
    for size in warm_up_sizes(max_records):  # compile every batch shape now, not on a request
        run.predict(pd.concat([filler] * size, ignore_index=True))
    lock = threading.Lock()
    classes = prep.classes_
    Record = record_model(prep)

    class PredictRequest(BaseModel):
        records: list[Record] = Field(  # type: ignore[valid-type]
            min_length=1, max_length=max_records, description=f"rows to predict, 1 to {max_records:,}"
        )

    @app.post("/predict", response_model=PredictResponse, responses=responses)
    def predict(request: PredictRequest) -> Any:
        """Predict rows; the response keeps their order."""
        frame = records_frame(request.records, prep)
        with lock:
            result = run.predict(frame)  # it pads the batch for the network itself
        rows = prediction_rows(result, classes)
        return JSONResponse({"task": run.task, "predictions": rows, "guard": result.attrs.get("guard")})

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The inputs a record needs (training ranges and vocabularies), the target and the task."""
        return schema_of(run, name, classes, inputs=input_schema(prep), limits=limits)
