"""Step 8 for text: predictions for new documents, the guard's flags and reasons, re-measuring on labelled ones, and
the words that pushed a prediction (occlusion).

New documents may be a list of strings, a pandas Series of them, a table (DataFrame, or a CSV/TSV/Parquet path) with
the run's text column(s) (and, for a mixed table, its other columns), a folder of ``.txt`` files (every file under
it, one prediction each, named in the column ``file``), or one ``.txt`` file. A run trained on a folder reads a
table's column ``text``. Labelled data for ``evaluate``: a table with the target column, or a folder of class
sub-folders.

Example:
    >>> run.predict(["Shares in the firm rose 5% after profits beat forecasts."])[["prediction", "ood"]]
    >>> run.predictor.explain(["Shares in the firm rose 5% after profits beat forecasts."])["influential_words"][0]
    'profits (+0.21), shares (+0.12), forecasts (+0.05), ...'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.data.tables import read_table
from deepwise.errors import DataError
from deepwise.evaluation import class_probabilities, score
from deepwise.kinds.base import Predictor
from deepwise.kinds.text.detect import read_text_file, read_text_folder
from deepwise.kinds.text.read import text_files
from deepwise.kinds.text.state import TABLE
from deepwise.models.inference import predict_rows
from deepwise.prepare.tabular import UNKNOWN

EXPLAIN_WORDS = {"pretrained": 40}  # distinct words occluded per document (the encoder is slow); others: 300
INPUT_FORMS = ("a list of texts, a table (DataFrame, CSV/TSV/Parquet) with the text column(s), a folder of .txt "
               "files, or one .txt file")


@dataclass
class TextInputs:
    """Documents to predict: their texts, the table they came from (if any), leading columns, labels (evaluate)."""

    docs: list[str]
    frame: pd.DataFrame | None = None
    leading: dict[str, Any] = field(default_factory=dict)
    labels: Any = None

    @property
    def index(self):
        return self.frame.index if self.frame is not None else pd.RangeIndex(len(self.docs))


def _not_found(data: Any) -> DataError:
    return DataError(
        f"'{data}' is not a file or folder.",
        expected=INPUT_FORMS,
        fix="check the path; to predict one text given as a string, pass it in a list: run.predict([text]).",
    )


class TextPredictor(Predictor):
    """Predictions of a text run: one per document, in the order given (a table keeps its index)."""

    # ------------------------------------------------------------------------------------------------ reading
    def _folder(self, path: Path, labelled: bool) -> TextInputs:
        t = self.run.config.text
        if labelled:
            folder = read_text_folder(path, t.max_document_bytes, errors=t.encoding_errors)
            return TextInputs(folder.texts, leading={"file": folder.files}, labels=folder.labels)
        files = text_files(path) if path.is_dir() else [path]
        docs = []
        for file in files:
            text, info = read_text_file(file, t.max_document_bytes, errors=t.encoding_errors)
            if info["binary"]:
                raise DataError(f"{file} does not look like text (NUL bytes or many control characters).",
                                expected="plain-text .txt files", fix="remove it, or convert it to UTF-8 text.")
            docs.append(text)
        names = [str(f.relative_to(path)) if path.is_dir() else f.name for f in files]
        return TextInputs(docs, leading={"file": names})

    def read(self, data: Any, labelled: bool = False) -> TextInputs:
        """The documents of ``data`` (any of the module's forms), checked: at least one, and the table columns of a
        mixed run."""
        prep, cfg = self.run.preprocessor, self.run.config
        if isinstance(data, (str, Path)):
            path = Path(data).expanduser()
            if not path.exists():
                raise _not_found(data)
            if path.is_dir() or (path.suffix.lower() == ".txt" and not prep.has_table):
                if prep.has_table:
                    raise DataError(f"'{path}' is a folder of documents, and this run also reads the table column(s) "
                                    f"{', '.join(map(repr, prep.table_columns))}.", expected="a table with the "
                                    "text and table columns", fix="pass the rows as a CSV/Parquet file or DataFrame.")
                inputs = self._folder(path, labelled and path.is_dir())
            else:
                data = read_table(path, cfg.data.na_values)
        if isinstance(data, pd.DataFrame):
            frame = data
            if labelled:
                target = cfg.problem.target
                if target not in frame.columns:
                    raise DataError(f"The labelled data has no target column '{target}'.",
                                    expected=f"the text column(s) and the target column '{target}'",
                                    fix=f"add '{target}', or use `deepwise predict` for unlabelled documents.")
                frame = frame[frame[target].notna()]
            inputs = TextInputs(prep.documents(frame), frame=frame,
                                labels=frame[cfg.problem.target] if labelled else None)
        elif isinstance(data, (list, tuple, pd.Series, np.ndarray)):
            if labelled:
                raise DataError(f"evaluate() received {type(data).__name__} of texts without labels.",
                                expected=f"a table with the target column '{cfg.problem.target}', or a folder of class "
                                "sub-folders", fix="pass labelled documents.")
            inputs = TextInputs(prep.documents(pd.Series(data, dtype=object).tolist()))
        elif not isinstance(data, (str, Path)):
            raise DataError(f"predict() received {type(data).__name__}.", expected=INPUT_FORMS,
                            fix="pass the documents in one of those forms.")
        if not inputs.docs:
            raise DataError("There are no documents to predict.", expected="at least one document",
                            fix="check the input.")
        return inputs

    # ------------------------------------------------------------------------------------------------ outputs
    @cached_property
    def guard_model(self):
        """``[output, guard vector]`` in one model (one forward pass), built once."""
        from deepwise.kinds.text.data import guard_model

        return guard_model(self.run.model, with_output=True)

    def arrays(self, inputs: TextInputs, encoded=None) -> dict[str, np.ndarray]:
        prep = self.run.preprocessor
        return prep.transform(inputs.frame if inputs.frame is not None else inputs.docs, inputs.docs, encoded)

    def outputs(self, inputs: TextInputs, guard: bool, encoded=None) -> tuple[np.ndarray, np.ndarray | None]:
        """The network's output and (for the guard) the vectors it measures distances in."""
        arrays = self.arrays(inputs, encoded)
        if not guard or self.run.guard is None:
            return predict_rows(self.run.model, arrays), None
        if self.run.preprocessor.pretrained:
            return predict_rows(self.run.model, arrays), np.hstack(list(arrays.values()))
        output, vectors = predict_rows(self.guard_model, arrays)
        return np.asarray(output), np.asarray(vectors)

    def check(self, inputs: TextInputs, encoded, vectors: np.ndarray) -> dict[str, Any]:
        """The guard's flags, scores and reasons: distance in the network's vector space, unknown tokens, length,
        and (a mixed table) categories never seen in training and numbers outside the training range."""
        prep, guard = self.run.preprocessor, self.run.guard
        text = prep.text_guard.score(inputs.docs, encoded)
        distance = guard.score_arrays(vectors)
        ood = (distance > 1.0) | text["ood"]
        score_ = np.maximum(distance, text["ood_score"] / prep.text_guard.reference["threshold"])
        reasons = [[r] if r else [] for r in text["reasons"]]
        for i in np.flatnonzero(distance > 1.0):
            reasons[i].append(f"far from every training document in the network's vector space (score "
                              f"{distance[i]:.2f})")
        unseen, out_of_range = self._table_findings(inputs, ood, reasons)
        summary = encoded.summary()
        found = {"rows": len(ood), "flagged": int(ood.sum()), "out_of_range": out_of_range,
                 "unseen_categories": unseen, "unknown_token_share": summary["unknown_token_share"],
                 "truncated_documents": summary["truncated_documents"], "empty_documents": summary["empty_documents"]}
        return {"ood": ood, "ood_score": score_, "ood_reasons": ["; ".join(r) for r in reasons], "guard": found}

    def _table_findings(self, inputs: TextInputs, ood: np.ndarray, reasons: list[list[str]]) -> tuple[dict, dict]:
        tab = self.run.preprocessor.tabular
        unseen: dict[str, dict[str, Any]] = {}
        out_of_range: dict[str, int] = {}
        if inputs.frame is None or not self.run.preprocessor.has_table:
            return unseen, out_of_range
        for column in tab.categorical:
            mask = tab.category_indices(inputs.frame, column) == UNKNOWN
            if mask.any():
                examples = sorted({str(v) for v in inputs.frame[column].to_numpy()[mask]})[:5]
                unseen[column] = {"count": int(mask.sum()), "examples": examples}
                ood |= mask  # a category never seen in training is unlike the training data by definition
                for i in np.flatnonzero(mask):
                    reasons[i].append(f"'{column}' holds a category never seen in training")
        if tab.numeric:
            values = tab.numeric_values(inputs.frame)
            low = np.array([tab.numeric_stats_[c]["min"] for c in tab.numeric])
            high = np.array([tab.numeric_stats_[c]["max"] for c in tab.numeric])
            counts = ((values < low) | (values > high)).sum(axis=0)
            out_of_range = {c: int(n) for c, n in zip(tab.numeric, counts, strict=True) if n}
        return unseen, out_of_range

    def predict(self, data: Any, *, guard: bool = True) -> pd.DataFrame:
        inputs = self.read(data)
        encoded = self.run.preprocessor.tokenizer.encode(inputs.docs)
        output, vectors = self.outputs(inputs, guard, encoded)
        result = self.format(output, inputs.index, leading=inputs.leading)
        if vectors is not None:
            found = self.check(inputs, encoded, vectors)
            result["ood"] = found["ood"]
            result["ood_score"] = found["ood_score"]
            result["ood_reasons"] = found["ood_reasons"]
            result.attrs["guard"] = found["guard"]
        return result

    def evaluate(self, data: Any) -> dict[str, Any]:
        inputs = self.read(data, labelled=True)
        if inputs.labels is None:
            raise DataError(f"evaluate() received '{data}', documents without labels.",
                            expected=f"a table with the target column '{self.run.config.problem.target}', or a folder "
                            "of class sub-folders", fix="pass labelled documents.")
        prep = self.run.preprocessor
        y = prep.transform_target(inputs.labels)
        output, _ = self.outputs(inputs, guard=False)
        return score(self.run.output, y, output, prep.classes_)

    # ----------------------------------------------------------------------------------------------- explaining
    def variants_output(self, texts: list[str], table_row: np.ndarray | None) -> np.ndarray:
        """The network's output for texts that share one row of table columns (occlusion's variants)."""
        prep = self.run.preprocessor
        arrays = prep.text_arrays(prep.documents(texts))
        if table_row is not None:
            arrays[TABLE] = np.repeat(table_row[None, :], len(texts), axis=0)
        return predict_rows(self.run.model, arrays)

    def explain(self, data: Any, top: int = 10, max_words: int | None = None) -> pd.DataFrame:
        """The words that pushed each prediction: each distinct word is removed (every occurrence) and the document
        predicted again; a word's weight is how much the predicted class's probability (or the predicted number)
        falls without it. Columns: ``prediction``, ``words`` (a list of (word, weight)), ``influential_words``.

        Example:
            >>> run.predictor.explain(["The striker scored twice in the final."], top=3)["words"][0]
            [('striker', 0.41), ('scored', 0.12), ('final', 0.05)]
        """
        from deepwise.kinds.text.explain import occlusion_word_importance

        inputs = self.read(data)
        prep = self.run.preprocessor
        table = prep.table_features(inputs.frame) if prep.has_table else None
        words = max_words or EXPLAIN_WORDS.get(prep.model_type, 300)
        regression = self.run.output == "regression"
        predictions, weights = [], []
        for i, doc in enumerate(inputs.docs):
            row = table[i] if table is not None else None

            def predict(texts: list[str], row=row) -> np.ndarray:
                return self.variants_output(texts, row)

            output = predict([doc])
            predictions.append(output)
            weights.append(occlusion_word_importance(doc, predict, top=top, max_words=words, regression=regression))
        result = self.format(np.concatenate(predictions), inputs.index, leading=inputs.leading)
        result = result[[*inputs.leading, "prediction"]].copy()
        result["words"] = weights
        result["influential_words"] = [", ".join(f"{w} ({v:+.2f})" for w, v in found) for found in weights]
        return result


def predicted_classes(task: str, output: np.ndarray) -> np.ndarray:
    """The index of the predicted class of each output row."""
    return class_probabilities(task, output).argmax(axis=1)
