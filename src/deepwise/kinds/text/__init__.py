"""Text: documents and free-text columns, classified or regressed (``deepwise train bbc/`` for a folder of class
sub-folders of ``.txt`` files; ``deepwise train reviews.csv --target rating`` for a table with a free-text column,
and any other columns it has).

The network: embeddings of the words, pooled (mean + max) into a document vector (or a Conv1D, a small Transformer,
or a frozen pretrained sentence encoder), joined with a mixed table's other columns, and a dense head. Compared on
the same test documents with the majority class and TF-IDF + logistic (ridge) regression; documents unlike the
training ones are flagged (distance in the network's vector space, unknown words, unusual length); the words that
pushed a prediction are found by occlusion (``run.predictor.explain(texts)``).

Modules: ``detect`` (free text or not, reading and cleaning files), ``read`` (the ``claims`` rule, documents),
``tokenize`` (words, characters, subwords; JSON state), ``models`` (pooling, Conv1D, Transformer; the custom layers
registered under ``deepwise_text``), ``pretrained`` (all-MiniLM-L6-v2, offline), ``baselines`` and ``compare``
(TF-IDF models, the verdict), ``explain`` (occlusion), ``guard`` (unknown words, lengths), ``state``
(preprocessing.json), ``data`` (formulate, prepare, the Prepared), ``checks`` (data checks), ``predict``,
``report``, ``serve``. Importing this package imports neither Keras nor the networks (``models`` does).

Example:
    >>> deepwise.kinds.register(TextKind())
    >>> run = deepwise.train("bbc/")                       # bbc/<class>/*.txt
    >>> run.predict(["Shares rose after the results."])["prediction"][0]
    'business'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, SavedRun

NO_IMPORTANCE_TEXT = (
    "Permutation importance is not measured for text alone: there is one input, the document. The section 'Most "
    "confident mistakes and the words behind them' shows the words that pushed individual predictions "
    "(occlusion); `run.predictor.explain(texts)` does the same for any document."
)


class TextKind(DataKind):
    name: ClassVar[str] = "text"
    title: ClassVar[str] = "text documents"
    unit: ClassVar[str] = "documents"
    total_unit: ClassVar[str] = "documents"
    data_noun: ClassVar[str] = "documents"
    request_items: ClassVar[str] = "texts"
    no_importance_note: ClassVar[str | None] = NO_IMPORTANCE_TEXT
    model_types: ClassVar[tuple[str, ...]] = ("pooling", "conv1d", "transformer", "pretrained")

    def claims(self, config: Config) -> bool:
        from deepwise.kinds.text.read import claims_text

        return claims_text(config)

    def formulate(self, config: Config):
        from deepwise.kinds.text.data import formulate_text

        return formulate_text(config)

    def prepare(self, config: Config):
        from deepwise.kinds.text.data import prepare_text

        return prepare_text(config)

    def custom_objects(self) -> dict[str, Any]:
        """The Keras classes a saved text network needs (its layers registered under ``deepwise_text``); importing
        :mod:`deepwise.kinds.text.models` registers them with Keras."""
        from deepwise.kinds.text import models

        return {f"deepwise_text>{cls.__name__}": cls
                for cls in (models.MaskedPooling, models.PositionEmbedding, models.PaddingMask)}

    def load_preprocessor(self, state: dict[str, Any]):
        from deepwise.kinds.text.state import TextPreprocessor

        self.custom_objects()  # the run's model is loaded next: its layers must be known to Keras
        return TextPreprocessor.from_dict(state)

    def predictor(self, run: SavedRun):
        from deepwise.kinds.text.predict import TextPredictor

        self.custom_objects()
        return TextPredictor(run)

    # ---------------------------------------------------------------------------------------------- the report
    def report_sections(self, ctx):
        from deepwise.kinds.text.report import text_sections

        self.custom_objects()
        return text_sections(ctx)

    def task_label(self, ctx) -> str:
        return f"text {'regression' if ctx.output == 'regression' else f'classification ({ctx.output})'}"

    def guard_text(self, guard: dict[str, Any]) -> str:
        from deepwise.kinds.text.report import text_guard_text

        return text_guard_text(guard)

    def card_source(self, ctx, n_inputs: int) -> str:
        from deepwise.kinds.text.report import text_card_source

        return text_card_source(ctx)

    def card_inputs(self, ctx) -> list[list[str]]:
        from deepwise.kinds.text.report import text_card_inputs

        return text_card_inputs(ctx)

    def card_usage(self, ctx, columns: str, proba_note: str):
        from deepwise.kinds.text.report import text_card_usage

        return text_card_usage(ctx, columns, proba_note)

    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str:
        from deepwise.kinds.text.report import text_card_guard_limit

        return text_card_guard_limit(guard, rate, observed)

    def card_scope_limit(self) -> str:
        from deepwise.kinds.text.report import SCOPE

        return SCOPE

    # --------------------------------------------------------------------------------------------- sharing it
    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        from deepwise.kinds.text.serve import add_text_routes  # FastAPI only when serving

        add_text_routes(app, run, Path(run.path).resolve().name, responses, limits)

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        """Random documents of the network's shape: token ids (a random length each, then padding) or unit
        vectors (pretrained), and table columns from the training ranges (a mixed table)."""
        from deepwise.kinds.table import sample_rows
        from deepwise.kinds.text.state import SENTENCE, TABLE, TOKENS

        prep = run.preprocessor
        rng = np.random.default_rng(seed)
        if prep.pretrained:
            vectors = rng.normal(size=(n, int(prep.encoder["dim"]))).astype(np.float32)
            arrays = {SENTENCE: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)}
        else:
            length = int(prep.tokenizer.max_length)
            ids = rng.integers(2, max(3, prep.tokenizer.vocab_size), (n, length)).astype(np.int32)
            ids[np.arange(length)[None, :] >= rng.integers(1, length + 1, n)[:, None]] = 0
            arrays = {TOKENS: ids}
        if prep.has_table:
            arrays[TABLE] = prep.table_features(sample_rows(prep.tabular, n, seed))
        return arrays, arrays

    def export_input_text(self, inputs: str) -> str:
        from deepwise.kinds.text.report import TEXT_INPUT

        return TEXT_INPUT.format(inputs=inputs)


__all__ = ["TextKind"]
