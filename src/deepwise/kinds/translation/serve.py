"""``deepwise serve`` for a translation run: ``{"sources": [...]}`` in, one translation per sentence out, each with
its invented-content and guard flags; ``GET /schema`` says what the run takes.

Example:
    >>> TestClient(app).post("/predict", json={"sources": ["Tuesday, March 5, 2024"]}).json()["translations"][0]
    {'source': 'Tuesday, March 5, 2024', 'translation': 'mardi 5 mars 2024', 'invented': False, ..., 'ood': False}
"""

# no `from __future__ import annotations`: FastAPI reads the request models of the routes defined below from their
# annotations at run time, and those models are local to the function that adds the routes
import threading
from typing import Annotated, Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from deepwise.kinds.translation.decode import CHUNK, SMALLEST
from deepwise.serving import GuardSummary, json_value, schema_of

MAX_SOURCES = 256  # sentences per request: greedy decoding of 256 short sentences takes about a second on a CPU


class Translation(BaseModel):
    source: str
    translation: str = Field(description="the network's translation")
    invented: bool = Field(description="true: the translation holds a number, date or name the source does not support")
    invented_content: str = Field(description="what was invented (and numbers guessed, e.g. a century), in words")
    ood: bool | None = Field(None, description="true: the sentence is unlike the training sources (still translated)")
    ood_score: float | None = Field(None, description="character n-gram distance to the nearest training source")
    ood_reasons: str | None = Field(None, description="why the sentence was flagged")


class TranslateResponse(BaseModel):
    task: str
    translations: list[Translation]
    guard: GuardSummary | None = None


def warm_up_sizes(largest: int) -> list[int]:
    """The batch shapes decoding meets for 1 to ``largest`` sentences: a short chunk is padded to a power of two
    from 8 (:mod:`deepwise.kinds.translation.decode`), so 8, 16, ..., up to the padded ``largest``."""
    top = max(SMALLEST, 1 << (min(largest, CHUNK) - 1).bit_length())
    return [2**i for i in range(SMALLEST.bit_length() - 1, top.bit_length())]


def add_translation_routes(app: Any, run: Any, name: str, responses: dict, limits: dict[str, int]) -> None:
    prep = run.preprocessor
    max_sources = min(limits["max_records"], MAX_SOURCES)
    limits = {"max_body_bytes": limits["max_body_bytes"], "max_sources": max_sources, "max_chars": prep.max_chars}
    app.description = (
        f"Translations of the deepwise run '{name}' ('{prep.source_column}' -> '{run.config.problem.target}'). "
        f'POST /predict takes {{"sources": [...]}}, up to {max_sources:,} sentences of at most {prep.max_chars:,} '
        "characters; each translation says whether it invents content (a number, date or name absent from the "
        "source) and whether the sentence is unlike the training sources (ood). GET /schema says more."
    )
    example = prep.guard_sources[0] if prep.guard_sources else "..."
    for size in warm_up_sizes(max_sources):  # compile decoding for every batch shape now, not on a request
        run.predict([example] * size, guard=False)
    lock = threading.Lock()
    Sentence = Annotated[str, Field(min_length=1, max_length=prep.max_chars)]

    class TranslateRequest(BaseModel):
        sources: list[Sentence] = Field(  # type: ignore[valid-type]
            min_length=1,
            max_length=max_sources,
            description=f"1 to {max_sources:,} sentences in the source language, at most {prep.max_chars:,} "
            "characters each",
            examples=[[example]],
        )

    def translate(sources: list[str]) -> JSONResponse:
        with lock:
            result = run.predict(sources)
        keep = [c for c in Translation.model_fields if c in result.columns]
        rows = [{k: json_value(v) for k, v in row.items()} for row in result[keep].to_dict(orient="records")]
        return JSONResponse({"task": run.task, "translations": rows, "guard": result.attrs.get("guard")})

    @app.post("/predict", response_model=TranslateResponse, responses=responses)
    async def predict(request: TranslateRequest) -> Any:
        """Translate sentences; the response keeps their order."""
        return await run_in_threadpool(translate, request.sources)

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """What the run translates, how it reads a sentence, and the limits of a request."""
        tok = prep.tokenizer
        return schema_of(
            run,
            name,
            None,
            input={
                "type": "text",
                "source": prep.source_column,
                "json": 'POST /predict with application/json: {"sources": ["<sentence>", ...]}',
                "tokens": {"why": tok.why, "source": tok.source.describe(), "target": tok.target.describe()},
                "longer_sentences": f"a sentence longer than {tok.source.max_len:,} source tokens is cut, and "
                "flagged ood",
                "decoding": prep.decoding + (f" (beam {prep.beam})" if prep.decoding == "beam" else ""),
            },
            output={
                "translation": "text in the target language",
                "invented": "a number, date or name the source does not support",
                "ood": "unlike the training sources (unknown characters, unusual length, far from every one)",
            },
            limits=limits,
        )
