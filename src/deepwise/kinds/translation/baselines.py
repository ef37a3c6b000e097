"""Translation baselines, scored on the same test pairs as the network.

- **copy the source**: the output is the input. Scores well when source and target share most characters (numbers,
  names, related languages); any network must beat it to be worth anything.
- **nearest-neighbour retrieval**: the training target of the most similar training source, similarity = cosine of
  character n-gram TF-IDF vectors (scikit-learn). A translation memory: it is right whenever a test sentence (or a
  near copy) was in the training data, and shows how much a network adds beyond looking things up.

Texts travel in runs as UTF-8 bytes plus offsets in an ``.npz`` (``pack_texts``), never pickled.

Example:
    >>> retrieval = RetrievalBaseline().fit(train.sources, train.targets)
    >>> retrieval.predict(["Tuesday, March 5, 2024"])
    ['mardi 5 mars 2024']
"""

from __future__ import annotations

from typing import Any

import numpy as np

NGRAMS = (1, 4)  # character n-grams inside word boundaries
CHUNK_ROWS = 2048  # queries compared with the training matrix at a time


def copy_source(sources: list[str]) -> list[str]:
    """The baseline that translates nothing: each output is its source.

    Example:
        >>> copy_source(["3/5/24"])
        ['3/5/24']
    """
    return list(sources)


class RetrievalBaseline:
    """Translation memory: answer with the training target whose source is most similar (character n-gram TF-IDF)."""

    def __init__(self, ngram_range: tuple[int, int] = NGRAMS) -> None:
        self.ngram_range = tuple(ngram_range)
        self.sources: list[str] = []
        self.targets: list[str] = []
        self._vectorizer = None
        self._matrix = None

    def fit(self, sources: list[str], targets: list[str]) -> RetrievalBaseline:
        """Index the training pairs (refitting from the same pairs gives the same index).

        Example:
            >>> RetrievalBaseline().fit(["a cat"], ["un chat"]).predict(["the cat"])
            ['un chat']
        """
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.sources, self.targets = list(sources), list(targets)
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.ngram_range, sublinear_tf=True, dtype=np.float32
        )
        self._matrix = self._vectorizer.fit_transform(self.sources).T.tocsr()
        return self

    def neighbours(self, sources: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(index of the most similar training source, its cosine similarity in [0, 1]) for each sentence."""
        if self._vectorizer is None:
            raise RuntimeError("RetrievalBaseline.fit must run first.")
        best = np.zeros(len(sources), dtype=np.int64)
        similarity = np.zeros(len(sources), dtype=np.float32)
        for start in range(0, len(sources), CHUNK_ROWS):
            queries = self._vectorizer.transform(sources[start : start + CHUNK_ROWS])
            scores = (queries @ self._matrix).toarray()
            best[start : start + len(scores)] = scores.argmax(axis=1)
            similarity[start : start + len(scores)] = scores.max(axis=1) if scores.shape[1] else 0.0
        return best, np.clip(similarity, 0.0, 1.0)

    def predict(self, sources: list[str]) -> list[str]:
        """The retrieved training target for each sentence."""
        index, _ = self.neighbours(sources)
        return [self.targets[i] for i in index]

    def state(self) -> dict[str, Any]:
        """Arrays for an ``.npz`` (no pickle): the training pairs, from which ``from_state`` refits the index."""
        packed = {f"source_{k}": v for k, v in pack_texts(self.sources).items()}
        packed.update({f"target_{k}": v for k, v in pack_texts(self.targets).items()})
        packed["ngram_range"] = np.asarray(self.ngram_range, dtype=np.int64)
        return packed

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray]) -> RetrievalBaseline:
        """The index saved by :meth:`state` (e.g. ``np.load(path, allow_pickle=False)``).

        Example:
            >>> np.savez(path, **retrieval.state()); RetrievalBaseline.from_state(np.load(path, allow_pickle=False))
        """
        sources = unpack_texts(arrays["source_bytes"], arrays["source_offsets"])
        targets = unpack_texts(arrays["target_bytes"], arrays["target_offsets"])
        return cls(tuple(int(n) for n in arrays["ngram_range"])).fit(sources, targets)


def pack_texts(texts: list[str]) -> dict[str, np.ndarray]:
    """Texts as one UTF-8 byte array and the offsets between them (``unpack_texts`` reverses it).

    Example:
        >>> unpack_texts(**pack_texts(["é", "ab"]))
        ['é', 'ab']
    """
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e) for e in encoded])
    return {"bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), "offsets": offsets}


def unpack_texts(bytes: np.ndarray, offsets: np.ndarray) -> list[str]:  # noqa: A002 - mirrors pack_texts' keys
    """The texts that :func:`pack_texts` packed."""
    blob = np.asarray(bytes, dtype=np.uint8).tobytes()
    return [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]
