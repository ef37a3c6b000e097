"""Step 8 for translation: sentences in, translations out, each with its invented-content and guard flags.

Sentences come as a list of strings, a pandas Series or DataFrame (the run's source column), a table file (CSV,
TSV, Parquet) or a text file (one sentence a line). The output has one row per sentence, in order: ``source``,
``translation``, ``invented`` (the output holds a number, date or name the source does not support) with
``invented_content`` (what), then ``ood``, ``ood_score`` and ``ood_reasons`` from the guard.

Example:
    >>> TranslationPredictor(run).predict(["Tuesday, March 5, 2024"])[["translation", "invented", "ood"]]
           translation  invented    ood
    0  mardi 5 mars 2024     False  False
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.errors import DataError
from deepwise.kinds.base import Predictor
from deepwise.kinds.translation.baselines import RetrievalBaseline
from deepwise.kinds.translation.decode import translate
from deepwise.kinds.translation.guard import TranslationGuard
from deepwise.kinds.translation.invented import Finding
from deepwise.kinds.translation.metrics import corpus_scores
from deepwise.kinds.translation.models import Seq2Seq, from_trained
from deepwise.kinds.translation.read import Pairs, check_sources, read_aligned, read_pairs, read_sources


def invented_text(finding: Finding) -> str:
    """What the flagger found, in words: "number 2042; word lundi" (guesses marked)."""
    parts = [f"{kind} {text}" for kind, text in finding.invented]
    parts += [f"guessed {kind} {text} (from {base})" for kind, text, base in finding.guessed]
    return "; ".join(parts)


def _exists(text: str) -> bool:
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # a name too long, or with a NUL: not a file
        return False


class TranslationPredictor(Predictor):
    """Translations with a saved run (the network, its tokenizers, flagger and guard are loaded once)."""

    @property
    def prep(self):
        return self.run.preprocessor

    @cached_property
    def network(self) -> Seq2Seq:
        """The encoder and one-step decoder around the weights of the run's model.keras."""
        return from_trained(self.prep.network, self.run.model)

    @cached_property
    def guard(self) -> TranslationGuard | None:
        """The run's guard (its state is in guard.npz's calibration), with the training sources' index."""
        record = self.run.guard
        if record is None or "translation_guard" not in record.calibration_:
            return None
        index = RetrievalBaseline().fit(self.prep.guard_sources, self.prep.guard_sources)
        return TranslationGuard.from_json(record.calibration_["translation_guard"], self.prep.tokenizer.source, index)

    # ------------------------------------------------------------------------------------------------- reading
    def sources(self, data: Any) -> tuple[list[str], Any]:
        """The sentences to translate in ``data`` and the index of the result."""
        prep = self.prep
        column = prep.source_column
        if isinstance(data, str) and not _exists(data):
            raise DataError(
                f"predict() received the text {data[:60]!r}, which is not a file.",
                expected="a list of sentences, or the path of a table or text file",
                fix=f"to translate one sentence, pass a list: run.predict([{data[:30]!r}]).",
            )
        if isinstance(data, (str, Path)):
            sources, _ = read_sources(data, column, max_chars=prep.max_chars)
            return sources, pd.RangeIndex(len(sources))
        if isinstance(data, pd.DataFrame):
            if column not in data.columns and len(data.columns) != 1:
                raise DataError(
                    f"The table has no column {column!r} to translate (it has: {', '.join(map(str, data.columns))}).",
                    expected=f"the run's source column {column!r}, or a table of that one column",
                    fix=f"rename the column with the sentences to {column!r}.",
                )
            data = data[column] if column in data.columns else data.iloc[:, 0]
        if isinstance(data, pd.Series):
            values, index = data.tolist(), data.index
        elif isinstance(data, (list, tuple, np.ndarray)):
            values, index = list(np.asarray(data, dtype=object).reshape(-1)), None
        else:
            raise DataError(
                f"predict() received {type(data).__name__}.",
                expected="sentences: a list of strings, a pandas Series or DataFrame with the source column, or the "
                "path of a table or text file",
                fix="pass the sentences as a list of strings.",
            )
        labels = [f"sources[{i}]" for i in range(len(values))]
        wrong = [labels[i] for i, v in enumerate(values) if not isinstance(v, str)]
        if wrong:
            raise DataError(
                f"{len(wrong):,} item(s) to translate are not text ({', '.join(wrong[:5])}).",
                expected="one string per sentence",
                fix="convert the items to text, and leave out missing ones.",
            )
        sources = [v.strip() for v in values]
        check_sources(sources, labels, "The sentences to translate", prep.max_chars)
        return sources, index if index is not None else pd.RangeIndex(len(sources))

    def labelled(self, data: Any) -> Pairs:
        """Sentence pairs to evaluate on: a table with the source and target columns (frame or file), or two aligned
        files as a (sources, targets) pair of paths."""
        prep = self.prep
        if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(d, (str, Path)) for d in data):
            return read_aligned(data[0], data[1], max_chars=prep.max_chars)
        if isinstance(data, pd.DataFrame):
            missing = [c for c in (prep.source_column, prep.target_column) if c not in data.columns]
            if missing:
                raise DataError(
                    f"The labelled table lacks the column(s) {', '.join(map(repr, missing))}.",
                    expected=f"the source column {prep.source_column!r} and the target {prep.target_column!r}",
                    fix="rename the columns as in training.",
                )
            sources = [str(s).strip() for s in data[prep.source_column]]
            targets = [str(t).strip() for t in data[prep.target_column]]
            return Pairs(sources, targets, list(range(len(sources))), prep.source_column, prep.target_column, "table")
        if isinstance(data, (str, Path)):
            if prep.aligned and Path(data).suffix.lower() not in (".csv", ".tsv", ".tab", ".parquet", ".pq"):
                raise DataError(
                    f"'{data}' is one text file; this run translates aligned files.",
                    expected="two aligned files: evaluate((sources_path, targets_path)) in Python",
                    fix="pass both files, or a table with the columns "
                    f"{prep.source_column!r} and {prep.target_column!r}.",
                )
            return read_pairs(data, target=prep.target_column, source=prep.source_column, max_chars=prep.max_chars)
        raise DataError(
            f"evaluate() received {type(data).__name__}.",
            expected="a table (DataFrame or file) with the source and target columns, or (sources, targets) paths",
            fix="pass a labelled table.",
        )

    # ---------------------------------------------------------------------------------------------- translating
    def translate(self, sources: list[str]) -> list[str]:
        """The network's translations (the run's decoding: greedy or beam search)."""
        prep = self.prep
        return translate(self.network, prep.tokenizer, sources, prep.decoding, prep.beam)

    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        sources, index = self.sources(data)
        outputs = self.translate(sources)
        findings = self.prep.flagger.check_all(sources, outputs)
        result = pd.DataFrame(
            {
                "source": sources,
                "translation": outputs,
                "invented": [f.flagged for f in findings],
                "invented_content": [invented_text(f) for f in findings],
            },
            index=index,
        )
        if guard and self.guard is not None:
            report = self.guard.check(sources)
            result["ood"] = report["ood"]
            result["ood_score"] = report["ood_score"]
            result["ood_reasons"] = ["; ".join(r) for r in report["reasons"]]
            result.attrs["guard"] = {
                "rows": len(result),
                "flagged": int(report["ood"].sum()),
                "out_of_range": {},
                "unseen_categories": {},
            }
        return result

    def evaluate(self, data: Any) -> dict[str, Any]:
        pairs = self.labelled(data)
        outputs = self.translate(pairs.sources)
        scores = corpus_scores(outputs, pairs.targets)
        findings = self.prep.flagger.check_all(pairs.sources, outputs)
        return {**scores, "invented_rate": float(np.mean([f.flagged for f in findings]))}
