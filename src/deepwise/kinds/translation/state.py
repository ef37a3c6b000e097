"""What a translation run keeps in ``preprocessing.json``: everything the predictor needs besides the weights.

- the source and target tokenizers (characters, or the ``tokenizers`` library's BPE JSON), with their length rules;
- the network's shape (architecture, sizes, padded lengths, vocabularies), from which its encoder and one-step
  decoder are rebuilt around the weights of ``model.keras``;
- the invented-content flagger's word partners, learned from the training pairs;
- the training sources the guard compares new sentences with (a sample of at most :data:`MAX_GUARD_SOURCES`);
- the decoding (greedy or beam) and the longest sentence accepted.

All of it is JSON; nothing is pickled.

Example:
    >>> prep = TranslationPreprocessor.from_dict(json.loads(Path("run/preprocessing.json").read_text()))
    >>> prep.tokenizer.source.describe()
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from deepwise.kinds.translation.invented import InventionFlagger
from deepwise.kinds.translation.tokenize import PairTokenizer

FORMAT = "deepwise.translation/1"
MAX_GUARD_SOURCES = 20_000  # training sources kept for the guard's nearest-neighbour index (a seeded sample beyond)


@dataclass
class TranslationPreprocessor:
    """The fitted preprocessing of a translation run (JSON state: :meth:`to_json`, :meth:`from_dict`)."""

    source_column: str
    target_column: str
    tokenizer: PairTokenizer
    network: dict[str, Any]  # Seq2Seq.state(): config, padded lengths, vocabularies
    flagger: InventionFlagger
    guard_sources: list[str] = field(default_factory=list)
    decoding: str = "greedy"
    beam: int = 4
    max_chars: int = 1000
    target_path: str | None = None  # aligned files: the target file (data.path holds the sources)

    #: no classes: the output is text (export.json and the report read ``classes_``)
    classes_ = None

    @property
    def columns(self) -> list[str]:
        """The input a prediction needs: the source text."""
        return [self.source_column]

    @property
    def aligned(self) -> bool:
        return self.target_path is not None

    def input_specs(self) -> dict[str, dict[str, Any]]:
        """The network's inputs: source token ids, and the decoder's input (start token + target so far)."""
        return {
            "source": {"shape": (int(self.network["source_len"]),), "dtype": "int32"},
            "decoder_input": {"shape": (int(self.network["target_len"]),), "dtype": "int32"},
        }

    def to_json(self) -> str:
        """The whole state as a JSON string (preprocessing.json)."""
        return json.dumps(
            {
                "format": FORMAT,
                "source_column": self.source_column,
                "target_column": self.target_column,
                "target_path": self.target_path,
                "tokenizer": self.tokenizer.to_json(),
                "network": self.network,
                "decoding": self.decoding,
                "beam": self.beam,
                "max_chars": self.max_chars,
                "flagger": self.flagger.to_json(),
                "guard_sources": self.guard_sources,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TranslationPreprocessor:
        """The preprocessing :meth:`to_json` wrote.

        Example:
            >>> TranslationPreprocessor.from_dict(json.loads(prep.to_json())).network == prep.network
            True
        """
        return cls(
            source_column=state["source_column"],
            target_column=state["target_column"],
            tokenizer=PairTokenizer.from_json(state["tokenizer"]),
            network=dict(state["network"]),
            flagger=InventionFlagger.from_json(state["flagger"]),
            guard_sources=list(state.get("guard_sources") or []),
            decoding=state.get("decoding", "greedy"),
            beam=int(state.get("beam", 4)),
            max_chars=int(state.get("max_chars", 1000)),
            target_path=state.get("target_path"),
        )
