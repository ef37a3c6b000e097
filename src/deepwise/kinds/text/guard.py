"""Text-specific out-of-distribution signals: unknown words and unusual lengths, against training-like documents.

Two per-document features, compared with reference documents the vocabulary was *not* fitted on (pass the
validation split: on the training split every word is known by construction, which would make ordinary new text
look strange):

- **unknown-token share**: the share of a document's (kept) tokens that the vocabulary does not know. Scored as
  ``(share - median) / (q99 - median)``, the spread floored at 0.02 so that a clean reference does not flag a
  single new word.
- **length** in characters, on a log scale: ``(log length - median) / (q99.5 - median)`` above the median and
  the mirror image below it, so a 3-word note among news articles or a 50 MB document stands out.

Each feature is 1.0 at its reference quantile; the document's ``ood_score`` is the larger of the two, and
``ood`` flags scores above a threshold calibrated so that 1 % of the reference documents are flagged (at least 1.0).
Distance in the network's embedding space (the ``text_vector`` layer) is the general guard's job (k nearest
neighbours, as for images); this module adds what only text has.

Example:
    >>> guard = TextGuard().fit(validation_texts, tokenizer.encode(validation_texts))
    >>> result = guard.score(new_texts, tokenizer.encode(new_texts))
    >>> result["ood"], result["reasons"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepwise.kinds.text.tokenize import EncodedTexts

FLAG_SHARE = 0.01
UNKNOWN_SPREAD_FLOOR = 0.02
STATE_VERSION = 1


def _log_lengths(texts: Sequence[Any]) -> np.ndarray:
    return np.log1p(np.fromiter((len(t) if isinstance(t, str) else 0 for t in texts), np.float64, len(texts)))


class TextGuard:
    """Unknown-token share and length vs reference documents, a combined score and a calibrated flag.

    Example:
        >>> guard = TextGuard().fit(val_texts, tokenizer.encode(val_texts))
        >>> TextGuard.from_dict(guard.to_dict()).score(texts, tokenizer.encode(texts))["ood_score"]
    """

    def __init__(self, flag_share: float = FLAG_SHARE):
        self.flag_share = flag_share
        self.reference: dict[str, float] = {}

    def fit(self, texts: Sequence[Any], encoded: EncodedTexts) -> TextGuard:
        """Learn the reference quantiles and the threshold from training-like documents (the validation split)."""
        if len(texts) != len(encoded.lengths):
            raise ValueError(f"{len(texts)} texts but {len(encoded.lengths)} encoded documents")
        unknown = encoded.unknown_share
        log_length = _log_lengths(texts)
        q = np.quantile
        self.reference = {
            "documents": int(len(texts)),
            "unknown_median": float(q(unknown, 0.5)),
            "unknown_q99": float(q(unknown, 0.99)),
            "log_length_low": float(q(log_length, 0.005)),
            "log_length_median": float(q(log_length, 0.5)),
            "log_length_high": float(q(log_length, 0.995)),
        }
        scores = self._components(unknown, log_length)["ood_score"]
        self.reference["threshold"] = float(max(1.0, q(scores, 1.0 - self.flag_share)))
        return self

    def _components(self, unknown: np.ndarray, log_length: np.ndarray) -> dict[str, np.ndarray]:
        r = self.reference
        unknown_spread = max(r["unknown_q99"] - r["unknown_median"], UNKNOWN_SPREAD_FLOOR)
        unknown_score = np.maximum(0.0, (unknown - r["unknown_median"]) / unknown_spread)
        above = (log_length - r["log_length_median"]) / max(r["log_length_high"] - r["log_length_median"], 0.1)
        below = (r["log_length_median"] - log_length) / max(r["log_length_median"] - r["log_length_low"], 0.1)
        length_score = np.maximum(0.0, np.maximum(above, below))
        return {"unknown_score": unknown_score, "length_score": length_score,
                "ood_score": np.maximum(unknown_score, length_score)}

    def score(self, texts: Sequence[Any], encoded: EncodedTexts) -> dict[str, Any]:
        """Per document: ``unknown_share``, ``length`` (characters), the two component scores, ``ood_score``,
        ``ood`` (bool) and ``reasons`` (a sentence per flagged document, ``""`` otherwise).

        Example:
            >>> guard.score(["?"], tokenizer.encode(["?"]))["reasons"][0]
            'length 1 characters (training-like documents: 99 % between 850 and 12,400)'
        """
        if not self.reference:
            raise RuntimeError("TextGuard.fit(reference_texts, encoded) must run before score().")
        unknown = encoded.unknown_share
        log_length = _log_lengths(texts)
        parts = self._components(unknown, log_length)
        threshold = self.reference["threshold"]
        flagged = parts["ood_score"] > threshold
        r = self.reference
        low, high = np.expm1(r["log_length_low"]), np.expm1(r["log_length_high"])
        reasons = []
        for i in range(len(flagged)):
            why = []
            if flagged[i] and parts["unknown_score"][i] > threshold:
                why.append(f"{unknown[i]:.0%} of its tokens are unknown (training-like documents: 99 % have at "
                           f"most {r['unknown_q99']:.0%})")
            if flagged[i] and parts["length_score"][i] > threshold:
                why.append(f"{np.expm1(log_length[i]):,.0f} characters long (training-like documents: 99 % between "
                           f"{low:,.0f} and {high:,.0f})")
            reasons.append("; ".join(why))
        return {"unknown_share": unknown, "length": np.expm1(log_length).round().astype(np.int64),
                "unknown_score": parts["unknown_score"], "length_score": parts["length_score"],
                "ood_score": parts["ood_score"], "ood": flagged, "reasons": reasons}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"version": STATE_VERSION, "flag_share": self.flag_share, "reference": self.reference}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TextGuard:
        """Rebuild from :meth:`to_dict`."""
        guard = cls(flag_share=state["flag_share"])
        guard.reference = dict(state["reference"])
        return guard
