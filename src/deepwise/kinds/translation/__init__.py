"""Translation (sequence to sequence): sentence pairs in, a network that translates, and the truth about it out.

The data: a table with a source and a target text column (``deepwise train pairs.csv --target fr --task
translation``), or two aligned text files (``data.path``: the source lines, ``translation.target_path``: the target
lines). The network: a GRU encoder-decoder with attention (or a small Transformer) on characters or BPE subwords,
trained with teacher forcing and decoded autoregressively (greedy or beam search). Compared on the same test pairs
with copying the source and nearest-neighbour retrieval (chrF, paired bootstrap); outputs that invent numbers,
dates or names are flagged, and sources unlike the training ones are guarded.

Modules: ``read`` (pairs and bad input), ``detect`` (the ``claims`` rule), ``tokenize`` (characters or BPE),
``models`` (GRU + attention, Transformer), ``fit`` (teacher forcing), ``decode`` (greedy, beam), ``baselines``
(copy, retrieval), ``metrics`` (chrF, BLEU, bootstrap, verdict), ``invented`` (content absent from the source),
``guard`` (inputs far from training), ``checks`` (data checks), ``state`` (preprocessing.json), ``data`` (the
Prepared), ``predict``, ``report``, ``serve``.

Example:
    >>> deepwise.kinds.register(TranslationKind())
    >>> run = deepwise.train("dates.csv", target="fr", overrides={"problem.task": "translation"})
    >>> run.predict(["Tuesday, March 5, 2024"])["translation"][0]
    'mardi 5 mars 2024'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepwise.config import Config
from deepwise.kinds.base import DataKind, SavedRun

if TYPE_CHECKING:
    from deepwise.kinds.translation.data import TranslationData, TranslationProblem
    from deepwise.kinds.translation.state import TranslationPreprocessor

MODEL_TYPES = ("gru",)
NO_IMPORTANCE = (
    "Permutation importance is not measured for translation: one token of a sentence is not an input to shuffle. "
    "The attention maps and the worst translations above show what the network reads and where it fails."
)


class TranslationKind(DataKind):
    name: ClassVar[str] = "translation"
    title: ClassVar[str] = "sentence pairs"
    unit: ClassVar[str] = "pairs"
    total_unit: ClassVar[str] = "sentence pairs"
    data_noun: ClassVar[str] = "sentences"
    request_items: ClassVar[str] = "sentences"
    no_importance_note: ClassVar[str | None] = NO_IMPORTANCE
    model_types: ClassVar[tuple[str, ...]] = MODEL_TYPES

    def claims(self, config: Config) -> bool:
        from deepwise.kinds.translation.detect import claims_translation

        return claims_translation(config)

    def formulate(self, config: Config) -> TranslationProblem:
        from deepwise.kinds.translation.data import formulate_translation

        return formulate_translation(config)

    def prepare(self, config: Config) -> TranslationData:
        from deepwise.kinds.translation.data import prepare_translation

        return prepare_translation(config)

    def metrics_task(self, prepared) -> dict[str, str]:
        return {"task": "translation"}

    def load_preprocessor(self, state: dict[str, Any]) -> TranslationPreprocessor:
        from deepwise.kinds.translation.state import TranslationPreprocessor

        return TranslationPreprocessor.from_dict(state)

    def predictor(self, run: SavedRun):
        from deepwise.kinds.translation.predict import TranslationPredictor

        return TranslationPredictor(run)

    def report_sections(self, ctx):
        from deepwise.kinds.translation.report import translation_sections

        return translation_sections(ctx)

    def task_label(self, ctx) -> str:
        return "translation (sequence to sequence)"

    def guard_text(self, guard: dict[str, Any]) -> str:
        from deepwise.kinds.translation.report import translation_guard_text

        return translation_guard_text(guard)

    def card_source(self, ctx, n_inputs: int) -> str:
        source = (ctx.preprocessing or {}).get("source_column", "the source")
        return f"one sentence ('{source}')"

    def card_inputs(self, ctx) -> list[list[str]]:
        from deepwise.kinds.translation.report import translation_card_inputs

        return translation_card_inputs(ctx)

    def card_usage(self, ctx, columns: str, proba_note: str):
        from deepwise.kinds.translation.report import translation_card_usage

        return translation_card_usage(ctx)

    def card_guard_limit(self, guard: dict[str, Any], rate: float, observed: list[str]) -> str:
        from deepwise.kinds.translation.report import translation_card_guard_limit

        return translation_card_guard_limit(guard, rate, observed)

    def card_scope_limit(self) -> str:
        from deepwise.kinds.translation.report import TRANSLATION_SCOPE

        return TRANSLATION_SCOPE

    def add_routes(self, app: Any, run: SavedRun, responses: dict, limits: dict[str, int]) -> None:
        from deepwise.kinds.translation.serve import add_translation_routes  # FastAPI only when serving

        add_translation_routes(app, run, Path(run.path).resolve().name, responses, limits)

    def sample_inputs(self, run: SavedRun, n: int, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
        """Random token ids of the network's shape: a source (ids, end, padding) and a decoder input (start, ids)."""
        from deepwise.kinds.translation.tokenize import END, START

        state = run.preprocessor.network
        rng = np.random.default_rng(seed)
        source = rng.integers(4, state["source_vocab"], (n, state["source_len"])).astype(np.int32)
        lengths = rng.integers(1, state["source_len"], n)
        for row, size in enumerate(lengths):
            source[row, size - 1] = END
            source[row, size:] = 0
        decoder = rng.integers(4, state["target_vocab"], (n, state["target_len"])).astype(np.int32)
        decoder[:, 0] = START
        arrays = {"source": source, "decoder_input": decoder}
        return arrays, arrays

    def export_input_text(self, inputs: str) -> str:
        from deepwise.kinds.translation.report import TRANSLATION_INPUT

        return TRANSLATION_INPUT.format(inputs=inputs)


__all__ = ["TranslationKind"]
