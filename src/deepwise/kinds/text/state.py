"""The fitted preprocessing of a text run, saved as ``preprocessing.json`` (JSON only, no pickle).

It holds what turns raw documents (and a mixed table's other columns) into the network's inputs, and back:

- ``source``: ``folder`` (``<class>/*.txt``) or ``table``; ``text_columns`` (their values are joined into one
  document per row); ``max_document_chars`` (longer documents are cut);
- ``tokenizer``: :class:`~deepwise.kinds.text.tokenize.TextTokenizer` state (vocabulary fitted on the training
  split only, ``max_length`` and why);
- ``tabular``: a :class:`~deepwise.prepare.tabular.TabularPreprocessor` for the target (classes or its mean and
  spread) and the table's other columns (standardized numbers, one-hot categories): the network's ``table`` input;
- ``text_guard``: :class:`~deepwise.kinds.text.guard.TextGuard` state (unknown-token share and length of the
  validation documents);
- ``encoder``: the pretrained sentence encoder (``model.type: pretrained``; its weights come from its package).

Example:
    >>> prep = TextPreprocessor.from_dict(json.load(open("runs/bbc-.../preprocessing.json")))
    >>> arrays = prep.transform(["Shares rose after the results."])     # {"tokens": int32 [1, max_length]}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.errors import DataError
from deepwise.kinds.text.guard import TextGuard
from deepwise.kinds.text.read import FOLDER_TEXT, documents
from deepwise.kinds.text.tokenize import EncodedTexts, TextTokenizer
from deepwise.prepare.tabular import FEATURES, TabularPreprocessor

FORMAT = "deepwise.text/1"
TOKENS = "tokens"  # the network's input of token ids (deepwise.kinds.text.models.TOKENS_INPUT)
TABLE = "table"  # the network's input of a mixed table's other columns
SENTENCE = "sentence_embedding"  # the network's input with model.type: pretrained
ENCODER_DIM = 384


class TextPreprocessor:
    """Documents (+ table columns) -> network inputs, the target -> numbers; JSON state.

    Example:
        >>> prep.transform(frame)["tokens"].shape, prep.classes_
        ((3, 512), ['business', 'entertainment', 'politics', 'sport', 'tech'])
    """

    def __init__(self, source: str, text_columns: list[str], tokenizer: TextTokenizer, tabular: TabularPreprocessor,
                 max_document_chars: int, model_type: str = "pooling", text_guard: TextGuard | None = None,
                 encoder: dict[str, Any] | None = None, cleaning: dict[str, Any] | None = None):
        self.source = source
        self.text_columns = list(text_columns)
        self.tokenizer = tokenizer
        self.tabular = tabular
        self.max_document_chars = int(max_document_chars)
        self.model_type = model_type
        self.text_guard = text_guard
        self.encoder = encoder
        self.cleaning = cleaning or {}
        self._encoder_model = None

    # ------------------------------------------------------------------------------------------- what it holds
    @property
    def classes_(self) -> list | None:
        return self.tabular.classes_

    @property
    def target_stats_(self) -> dict[str, float] | None:
        return self.tabular.target_stats_

    @property
    def target(self) -> str | None:
        return self.tabular.target

    @property
    def has_table(self) -> bool:
        """True when the run also reads table columns (numbers, categories) besides the text."""
        return bool(self.tabular.numeric or self.tabular.categorical)

    @property
    def table_columns(self) -> list[str]:
        return list(self.tabular.columns)

    @property
    def columns(self) -> list[str]:
        """Every input column: the text columns, then the table's."""
        return [*self.text_columns, *self.table_columns]

    @property
    def feature_names_(self) -> list[str]:
        return [f"{TOKENS}[{self.tokenizer.max_length}]", *(self.tabular.feature_names_ if self.has_table else [])]

    @property
    def pretrained(self) -> bool:
        return self.model_type == "pretrained"

    def input_specs(self) -> dict[str, dict[str, Any]]:
        """The network's inputs: ``tokens`` (or the sentence embedding) and, for a mixed table, ``table``."""
        if self.pretrained:
            specs = {SENTENCE: {"shape": (int(self.encoder["dim"]),), "dtype": "float32"}}
        else:
            specs = {TOKENS: {"shape": (int(self.tokenizer.max_length),), "dtype": "int32"}}
        if self.has_table:
            specs[TABLE] = {"shape": (len(self.tabular.feature_names_),), "dtype": "float32"}
        return specs

    # --------------------------------------------------------------------------------------------- transforming
    def documents(self, data: Any) -> list[str]:
        """One document per row of a DataFrame (its text columns joined), or the given strings."""
        if isinstance(data, pd.DataFrame):
            return documents(data, self.text_columns, self.max_document_chars)[0]
        return documents(pd.DataFrame({FOLDER_TEXT: list(data)}), [FOLDER_TEXT], self.max_document_chars)[0]

    def table_features(self, frame: pd.DataFrame) -> np.ndarray:
        """The mixed table's other columns as one float32 matrix (the ``table`` input)."""
        return self.tabular.transform(frame)[FEATURES]

    def encoder_model(self):
        """The pretrained sentence encoder, loaded once (offline, from its package)."""
        if self._encoder_model is None:
            from deepwise.kinds.text.pretrained import SentenceEncoder

            self._encoder_model = SentenceEncoder(max_length=int(self.encoder["max_length"]))
        return self._encoder_model

    def text_arrays(self, docs: list[str], encoded: EncodedTexts | None = None) -> dict[str, np.ndarray]:
        """The text part of the network's input for documents: token ids, or sentence embeddings."""
        if self.pretrained:
            return {SENTENCE: self.encoder_model().encode(docs)}
        return {TOKENS: (encoded if encoded is not None else self.tokenizer.encode(docs)).ids}

    def transform(self, data: Any, docs: list[str] | None = None,
                  encoded: EncodedTexts | None = None) -> dict[str, np.ndarray]:
        """Raw rows (a DataFrame with the text and table columns) or a list of texts -> the network's inputs.

        ``docs`` / ``encoded``: the rows' documents and their tokens when the caller has them (not redone)."""
        if self.has_table and not isinstance(data, pd.DataFrame):
            raise DataError(
                f"This run reads the text column(s) {', '.join(map(repr, self.text_columns))} together with the "
                f"table column(s) {', '.join(map(repr, self.table_columns))}, and received {type(data).__name__}.",
                expected="a table (DataFrame, CSV or Parquet) with all of those columns",
                fix="pass the rows as a table, e.g. pd.DataFrame(records).",
            )
        docs = self.documents(data) if docs is None else docs
        arrays = self.text_arrays(docs, encoded)
        if self.has_table:
            arrays[TABLE] = self.table_features(data)
        return arrays

    def transform_target(self, y: Any) -> np.ndarray:
        return self.tabular.transform_target(pd.Series(y).reset_index(drop=True).rename(self.target))

    # ----------------------------------------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "source": self.source,
            "text_columns": self.text_columns,
            "model_type": self.model_type,
            "max_document_chars": self.max_document_chars,
            "classes": self.classes_,
            "target": self.target,
            "task": self.tabular.task,
            "tokenizer": self.tokenizer.to_dict(),
            "tabular": self.tabular.to_dict(),
            "text_guard": self.text_guard.to_dict() if self.text_guard is not None else None,
            "encoder": self.encoder,
            "cleaning": self.cleaning,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TextPreprocessor:
        if state.get("format") != FORMAT:
            raise DataError(
                f"preprocessing.json has the format {state.get('format')!r}.",
                expected=f"a text run's preprocessing ({FORMAT})",
                fix="retrain the run with this deepwise version.",
            )
        guard = state.get("text_guard")
        return cls(
            source=state["source"],
            text_columns=state["text_columns"],
            tokenizer=TextTokenizer.from_dict(state["tokenizer"]),
            tabular=TabularPreprocessor.from_dict(state["tabular"]),
            max_document_chars=state["max_document_chars"],
            model_type=state["model_type"],
            text_guard=TextGuard.from_dict(guard) if guard else None,
            encoder=state.get("encoder"),
            cleaning=state.get("cleaning"),
        )

    @classmethod
    def load(cls, path: str | Path) -> TextPreprocessor:
        """From a run's (or an export's) ``preprocessing.json``.

        Example:
            >>> TextPreprocessor.load("export/keras/preprocessing.json").transform(["a new document"])
        """
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
