"""Inputs far from the training data: a translation network answers anything fluently, so say when not to trust it.

Three signs, each with its reason in words:

- **unknown tokens**: the share of the sentence's characters (or subwords) never seen in training; flagged above
  5 % (the network sees them all as one "unknown" token: the content is lost, not translated);
- **length**: shorter or longer than every training sentence (longer than the learned maximum: it is truncated);
- **retrieval distance**: one minus the cosine similarity of the sentence's character n-grams to the nearest
  training source (the retrieval baseline's index), flagged beyond the distance that 1 % of ordinary sentences
  (the validation split) exceed.

``ood_score`` is the retrieval distance (0 = a training sentence; 1 = no n-gram in common).

Example:
    >>> guard = TranslationGuard.fit(train.sources, validation.sources, tokenizer.source, retrieval)
    >>> report = guard.check(["Tuesday, March 5, 2024", "Der Hund bellt."])
    >>> report["ood"], report["reasons"][1]
    (array([False,  True]), ['unknown characters 7 % (H, D)', 'far from training: ...'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepwise.kinds.translation.tokenize import UNK

FLAG_RATE = 0.01  # of ordinary (validation) sentences flagged by the distance
MAX_UNKNOWN = 0.05


@dataclass
class TranslationGuard:
    """Thresholds learned from the training and validation sources (JSON state: :meth:`to_json`)."""

    min_chars: int
    max_chars: int
    max_tokens: int
    distance_threshold: float
    max_unknown: float = MAX_UNKNOWN
    flag_rate: float = FLAG_RATE
    tokenizer: Any = None  # the source TextTokenizer (not saved here: the run saves it)
    retrieval: Any = None  # the RetrievalBaseline (not saved here)

    @classmethod
    def fit(
        cls,
        train_sources: list[str],
        calibration_sources: list[str],
        tokenizer,
        retrieval,
        flag_rate: float = FLAG_RATE,
    ) -> TranslationGuard:
        """Length range from training, distance threshold from ``calibration_sources`` (validation, not training:
        a training sentence is at distance 0 from itself).

        Example:
            >>> TranslationGuard.fit(train.sources, val.sources, tokenizer.source, retrieval).distance_threshold
        """
        lengths = np.array([len(s) for s in train_sources])
        _, similarity = retrieval.neighbours(list(calibration_sources))
        distance = 1.0 - similarity
        threshold = float(np.quantile(distance, 1.0 - flag_rate)) if len(distance) else 1.0
        return cls(
            int(lengths.min()), int(lengths.max()), tokenizer.max_len, threshold, MAX_UNKNOWN, flag_rate,
            tokenizer, retrieval,
        )

    def check(self, sources: list[str]) -> dict[str, Any]:
        """Per sentence: ``ood`` (bool), ``ood_score`` (retrieval distance), ``unknown_share``, ``reasons``.

        Example:
            >>> guard.check(["x" * 10_000])["reasons"][0]
            ['longer than every training sentence (10,000 characters; at most 29 in training), truncated to 30 tokens']
        """
        sources = list(sources)
        unknown = self.tokenizer.unknown_share(sources)
        tokens = self.tokenizer.lengths(sources) + 1
        _, similarity = self.retrieval.neighbours(sources)
        distance = 1.0 - similarity
        reasons: list[list[str]] = []
        for i, text in enumerate(sources):
            why = []
            if unknown[i] > self.max_unknown:
                ids = self.tokenizer.token_ids([text])[0]
                unseen = sorted({c for c, k in zip(text, ids, strict=False) if k == UNK}) if len(ids) == len(text) \
                    else []
                shown = f" ({', '.join(unseen[:5])})" if unseen else ""
                why.append(f"unknown {'characters' if unseen else 'tokens'} {unknown[i]:.0%}{shown}")
            if len(text) > self.max_chars:
                cut = f", truncated to {self.max_tokens} tokens" if tokens[i] > self.max_tokens else ""
                why.append(
                    f"longer than every training sentence ({len(text):,} characters; at most {self.max_chars:,} in "
                    f"training){cut}"
                )
            elif len(text) < self.min_chars:
                why.append(f"shorter than every training sentence ({len(text)} characters; at least "
                           f"{self.min_chars} in training)")
            if distance[i] > self.distance_threshold:
                why.append(
                    f"far from training: character n-gram distance {distance[i]:.2f} to the nearest training "
                    f"sentence (1 % of ordinary sentences exceed {self.distance_threshold:.2f})"
                )
            reasons.append(why)
        return {
            "ood": np.array([bool(r) for r in reasons]),
            "ood_score": distance.astype(np.float64),
            "unknown_share": unknown,
            "reasons": reasons,
        }

    def summary(self, sources: list[str], examples: int = 5) -> dict[str, Any]:
        """The flagged rate on ``sources`` (e.g. the test split) and a few flagged examples with their reasons."""
        report = self.check(sources)
        flagged = np.flatnonzero(report["ood"])
        return {
            "rate": float(report["ood"].mean()) if len(sources) else 0.0,
            "flagged": int(len(flagged)),
            "n": len(sources),
            "examples": [{"source": sources[i], "reasons": report["reasons"][i]} for i in flagged[:examples]],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "min_chars": self.min_chars,
            "max_chars": self.max_chars,
            "max_tokens": self.max_tokens,
            "distance_threshold": self.distance_threshold,
            "max_unknown": self.max_unknown,
            "flag_rate": self.flag_rate,
        }

    @classmethod
    def from_json(cls, state: dict[str, Any], tokenizer, retrieval) -> TranslationGuard:
        """The guard saved by :meth:`to_json`, with the run's source tokenizer and retrieval index."""
        return cls(**state, tokenizer=tokenizer, retrieval=retrieval)
