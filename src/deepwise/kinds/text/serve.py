"""``deepwise serve`` for a text run: ``{"texts": [...]}`` (text alone) or ``{"records": [...]}`` (a mixed table: the
text and the other columns of each row) in, one prediction per document out, with the guard's flag and reasons;
``"explain": true`` adds the words that pushed each prediction (occlusion; at most :data:`MAX_EXPLAINED` documents).

Example:
    >>> TestClient(app).post("/predict", json={"texts": ["The striker scored twice."]}).json()["predictions"][0]
    {'prediction': 'sport', 'probabilities': {...}, 'prediction_set': ['sport'], 'ood': False, 'ood_score': 0.4, ...}
"""

# no `from __future__ import annotations`: FastAPI reads the request models of the routes defined below from their
# annotations at run time, and those models are local to the function that adds the routes
import threading
from typing import Any

import pandas as pd
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.concurrency import run_in_threadpool

from deepwise.errors import DataError
from deepwise.serving import (
    GuardSummary,
    Prediction,
    input_schema,
    json_value,
    prediction_rows,
    record_model,
    schema_of,
    warm_up_sizes,
)

MAX_TEXTS = 512  # documents per request: the warm-up compiles every padded batch size up to it
MAX_EXPLAINED = 16  # documents per request with "explain": each costs a few hundred predictions


class TextPrediction(Prediction):
    ood_reasons: str | None = Field(None, description="why the document was flagged (empty when it was not)")
    influential_words: list[tuple[str, float]] | None = Field(
        None, description='with "explain": the words whose removal lowers the prediction most, with that drop'
    )


class TextPredictResponse(BaseModel):
    task: str
    predictions: list[TextPrediction]
    guard: GuardSummary | None = None


def text_record_model(prep: Any) -> Any:
    """One row of a mixed table: its text column(s) (strings, null = empty) and the table columns."""
    base = record_model(prep.tabular)
    fields = {
        f"t{i}": (str | None, Field(alias=name, description="free text (null = empty)", examples=["..."]))
        for i, name in enumerate(prep.text_columns)
    }
    return create_model("TextRecord", __base__=base, **fields) if fields else base


def _rows(records: list[Any], prep: Any) -> pd.DataFrame:
    dumped = [r.model_dump(by_alias=True) for r in records]
    frame = pd.DataFrame(dumped, columns=prep.columns, dtype=object)
    for column in prep.tabular.numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def add_text_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    prep = run.preprocessor
    max_texts = min(limits["max_records"], MAX_TEXTS)
    limits = {"max_body_bytes": limits["max_body_bytes"], "max_texts": max_texts, "max_explained": MAX_EXPLAINED}
    mixed = prep.has_table
    body = '{"records": [{<text and table columns>}, ...]}' if mixed else '{"texts": ["<document>", ...]}'
    app.description = (
        f"Predictions of the deepwise text run '{name}' ({run.task}, target '{run.config.problem.target}'). "
        f"POST /predict takes {body}, up to {max_texts:,} documents; documents unlike the training ones are flagged "
        'with ood and ood_reasons; "explain": true adds the words that pushed each prediction. GET /schema says more.'
    )
    example = "The striker scored twice in the final."
    for size in warm_up_sizes(max_texts):  # compile every batch shape now, not on a request
        if mixed:
            frame = pd.DataFrame({c: [example] * size for c in prep.text_columns})
            for column in prep.tabular.numeric:
                frame[column] = prep.tabular.numeric_stats_[column]["median"]
            for column in prep.tabular.categorical:
                frame[column] = (prep.tabular.vocabularies_[column] or [None])[0]
            run.predict(frame)
        else:
            run.predict([example] * size)
    lock = threading.Lock()
    explain_field = Field(False, description=f"add the influential words of each document (at most {MAX_EXPLAINED})")
    if mixed:
        Record = text_record_model(prep)

        class PredictRequest(BaseModel):
            model_config = ConfigDict(extra="forbid")
            records: list[Record] = Field(  # type: ignore[valid-type]
                min_length=1, max_length=max_texts, description=f"rows to predict, 1 to {max_texts:,}")
            explain: bool = explain_field
    else:

        class PredictRequest(BaseModel):  # type: ignore[no-redef]
            model_config = ConfigDict(extra="forbid")
            texts: list[str] = Field(min_length=1, max_length=max_texts, examples=[[example]],
                                     description=f"documents to predict, 1 to {max_texts:,}")
            explain: bool = explain_field

    def answer(request: Any) -> JSONResponse:
        data = _rows(request.records, prep) if mixed else list(request.texts)
        if request.explain and len(data) > MAX_EXPLAINED:
            raise DataError(f'"explain" was asked for {len(data)} documents.',
                            expected=f"at most {MAX_EXPLAINED} documents per request with explain",
                            fix="send fewer documents with explain, or leave explain out.")
        with lock:
            result = run.predict(data)
            words = run.predictor.explain(data)["words"].tolist() if request.explain else None
        rows = prediction_rows(result, prep.classes_)
        for i, row in enumerate(rows):
            if "ood_reasons" in result:
                row["ood_reasons"] = str(result["ood_reasons"].iloc[i])
            if words is not None:
                row["influential_words"] = [[w, json_value(float(v))] for w, v in words[i]]
        return JSONResponse({"task": run.task, "predictions": rows, "guard": result.attrs.get("guard")})

    @app.post("/predict", response_model=TextPredictResponse, responses=responses)
    async def predict(request: PredictRequest) -> Any:
        """Predict documents; the response keeps their order."""
        return await run_in_threadpool(answer, request)

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """What a request carries, how a document is read, and the limits."""
        tok = prep.tokenizer
        text = {
            "type": "text",
            "json": f"POST /predict with application/json: {body}",
            "text_columns": prep.text_columns,
            "tokens": f"{tok.mode}s, a vocabulary of {tok.vocab_size:,} fitted on the training documents",
            "longer_documents": f"only the first {tok.max_length} tokens are read",
        }
        return schema_of(run, name, prep.classes_, input=text,
                         inputs=input_schema(prep.tabular) if mixed else [], limits=limits)
