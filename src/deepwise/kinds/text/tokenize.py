"""Texts -> token ids without TensorFlow: words, characters, or subwords trained with Hugging Face ``tokenizers``.

The vocabulary is fitted on the training texts only and saved as JSON (:meth:`TextTokenizer.to_dict`). Id 0 is
padding and id 1 is "unknown" in every mode. The longest document the model reads (``max_length``) is learned from
the training lengths: their 95th percentile rounded up to a multiple of 8, between 8 and a cap (512 tokens for words
and subwords, 1,024 for characters); longer documents keep their beginning, and every batch reports how many were
cut and what share of their tokens the vocabulary did not know.

Word mode splits lower-cased text into runs of letters/digits and single punctuation marks (``\\w+|[^\\w\\s]``), and
does it for a whole batch at once: one regular-expression pass over the joined texts and one dictionary lookup per
token, then NumPy scatters the ids into the padded matrix (100,000 short documents in 1.7-4.6 s on a 2-core CPU
shared by a dozen busy processes, 1.4-2x a bare ``str.split`` + dict lookup; ``bench/text_tokenize.py``).
Character mode maps Unicode code points with a sorted table. Subword mode trains a WordPiece (default) or BPE model
with ``tokenizers`` and encodes with its Rust batch encoder.

Example:
    >>> tokenizer = TextTokenizer(mode="word").fit(["the cat sat", "the dog ran"])
    >>> tokenizer.transform(["the cat flew"]).shape
    (1, 8)
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepwise.errors import ConfigError, DataError

PAD_ID = 0
UNKNOWN_ID = 1
PAD_TOKEN = "[PAD]"
UNKNOWN_TOKEN = "[UNK]"
MODES = ("word", "char", "subword")
SUBWORD_MODELS = ("wordpiece", "bpe")
DEFAULT_LENGTH_CAP = {"word": 512, "subword": 512, "char": 1024}
#: A document is cut to this many characters per allowed token before tokenizing, so a 50 MB document costs no
#: more than a long one (a word token averages ~5-6 characters in English; 32 leaves room for any language).
CHARS_PER_TOKEN_BUDGET = 32
_WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
_SEPARATOR = "\x00"  # joins a batch's documents; removed from the texts first
_BATCH_PATTERN = re.compile(r"\w+|[^\w\s\x00]|\x00")
_BATCH_CHARS = 8_000_000  # characters tokenized per pass (bounds the memory of the joined string)
STATE_VERSION = 1


@dataclass
class EncodedTexts:
    """Token ids of a batch and what happened on the way.

    ``ids``: int32 ``[n, max_length]`` (0 = padding, 1 = unknown); ``lengths``: tokens per document before cutting
    (a document longer than ``max_length * 32`` characters counts up to that); ``unknown``: unknown tokens among the
    kept ones; ``truncated``: whether the document was longer than ``max_length`` tokens (or that many characters).
    """

    ids: np.ndarray
    lengths: np.ndarray
    unknown: np.ndarray
    truncated: np.ndarray

    @property
    def unknown_share(self) -> np.ndarray:
        """Per document: unknown tokens / kept tokens (0 for an empty document)."""
        kept = np.minimum(self.lengths, self.ids.shape[1])
        return np.where(kept > 0, self.unknown / np.maximum(kept, 1), 0.0)

    def summary(self) -> dict[str, Any]:
        """Counts for a report: documents, empty ones, cut ones, the share of unknown tokens.

        Example:
            >>> tokenizer.encode(texts).summary()["unknown_token_share"]
            0.031
        """
        kept = np.minimum(self.lengths, self.ids.shape[1])
        n = len(self.lengths)
        return {
            "documents": n,
            "empty_documents": int((self.lengths == 0).sum()),
            "truncated_documents": int(self.truncated.sum()),
            "truncated_share": float(self.truncated.mean()) if n else 0.0,
            "unknown_token_share": float(self.unknown.sum() / max(1, kept.sum())),
            "median_tokens": float(np.median(self.lengths)) if n else 0.0,
            "max_length": int(self.ids.shape[1]),
        }


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and value != value):  # None / NaN: missing -> empty document
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class TextTokenizer:
    """Words, characters or subwords -> padded int32 ids, with a vocabulary fitted on training texts only.

    Args:
        mode: ``"word"`` (default), ``"char"`` or ``"subword"``.
        max_tokens: the vocabulary's size at most, padding and unknown included (words: the most frequent).
        min_count: a word or character seen fewer times in training is unknown (subword: a merge's minimum count).
        max_length: tokens per document; ``None`` learns it from the training lengths (see the module doc).
        lowercase: lower-case before tokenizing (texts are always Unicode NFKC-normalized first).
        subword_model: ``"wordpiece"`` or ``"bpe"`` (subword mode only).
        length_percentile / length_cap: the rule that learns ``max_length``.

    Example:
        >>> tok = TextTokenizer(mode="subword", max_tokens=8000).fit(train_texts)
        >>> ids = tok.transform(test_texts)           # int32 [n, tok.max_length]
        >>> TextTokenizer.from_dict(tok.to_dict())   # JSON round trip
    """

    def __init__(
        self,
        mode: str = "word",
        max_tokens: int = 20_000,
        min_count: int = 2,
        max_length: int | None = None,
        lowercase: bool = True,
        subword_model: str = "wordpiece",
        length_percentile: float = 95.0,
        length_cap: int | None = None,
    ):
        if mode not in MODES:
            raise ConfigError(f"Text tokenizer mode {mode!r} is not known.", expected=f"one of {', '.join(MODES)}",
                              fix="set the text mode to 'word' (the default), 'char' or 'subword'")
        if subword_model not in SUBWORD_MODELS:
            raise ConfigError(f"Subword model {subword_model!r} is not known.",
                              expected=f"one of {', '.join(SUBWORD_MODELS)}", fix="use 'wordpiece' or 'bpe'")
        if max_tokens < 3:
            raise ConfigError(f"max_tokens={max_tokens} leaves no room for words.", expected="at least 3 "
                              "(padding, unknown and one token); typically 5,000-50,000", fix="raise max_tokens")
        if max_length is not None and max_length < 1:
            raise ConfigError(f"max_length={max_length} must be positive.", expected="an integer >= 1 or null "
                              "(learned from the training texts)", fix="set max_length: null")
        self.mode = mode
        self.max_tokens = int(max_tokens)
        self.min_count = int(min_count)
        self.max_length = max_length
        self.lowercase = lowercase
        self.subword_model = subword_model
        self.length_percentile = float(length_percentile)
        self.length_cap = int(length_cap or DEFAULT_LENGTH_CAP[mode])
        self.vocabulary: list[str] = []
        self.training_lengths: dict[str, float] = {}
        self.max_length_reason = ""
        self._lookup: dict[str, int] = {}
        self._char_codes = np.zeros(0, np.uint32)  # char mode: sorted code points
        self._char_ids = np.zeros(0, np.int32)
        self._subword = None  # a tokenizers.Tokenizer in subword mode

    # ---------------------------------------------------------------- fitting
    def fit(self, texts: Iterable[Any]) -> TextTokenizer:
        """Learn the vocabulary and ``max_length`` from the training texts (and nothing else).

        Each text counts up to ``length_cap * 32`` characters (what a model can read), so a 50 MB document does not
        fill the vocabulary with its words.
        """
        budget = self.length_cap * CHARS_PER_TOKEN_BUDGET
        docs = [self._normalize(_as_text(t)[:budget]) for t in texts]
        if not any(d.strip() for d in docs):
            raise DataError(f"All {len(docs)} training texts are empty or whitespace only.",
                            expected="a text column or files with words in them",
                            fix="check that the right column (or folder) was given as the text input")
        if self.mode == "word":
            counts = Counter(itertools.chain.from_iterable(_WORD_PATTERN.findall(d) for d in docs))
            self._set_vocabulary(counts)
        elif self.mode == "char":
            self._set_vocabulary(Counter(itertools.chain.from_iterable(docs)))
        else:
            self._fit_subword(docs)
        lengths = self._token_counts(docs)
        self._learn_max_length(lengths)
        return self

    def _set_vocabulary(self, counts: Counter) -> None:
        kept = sorted((c for c in counts.items() if c[1] >= self.min_count), key=lambda c: (-c[1], c[0]))
        self.vocabulary = [PAD_TOKEN, UNKNOWN_TOKEN] + [token for token, _ in kept[: self.max_tokens - 2]]
        self._build_lookup()

    def _build_lookup(self) -> None:
        self._lookup = {token: i for i, token in enumerate(self.vocabulary) if i > UNKNOWN_ID}
        self._lookup[_SEPARATOR] = -1  # marks where a document ends in a batch's joined text
        if self.mode == "char":
            codes = np.array([ord(c) for c in self.vocabulary[2:]], dtype=np.uint32)
            order = np.argsort(codes)
            self._char_codes = codes[order]
            self._char_ids = (order + 2).astype(np.int32)

    def _fit_subword(self, docs: list[str]) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        special = [PAD_TOKEN, UNKNOWN_TOKEN]
        if self.subword_model == "wordpiece":
            tokenizer = Tokenizer(models.WordPiece(unk_token=UNKNOWN_TOKEN))
            trainer = trainers.WordPieceTrainer(vocab_size=self.max_tokens, min_frequency=self.min_count,
                                                special_tokens=special, show_progress=False)
            tokenizer.decoder = decoders.WordPiece()
        else:
            tokenizer = Tokenizer(models.BPE(unk_token=UNKNOWN_TOKEN))
            trainer = trainers.BpeTrainer(vocab_size=self.max_tokens, min_frequency=self.min_count,
                                          special_tokens=special, show_progress=False)
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # the same \w+|[^\w\s] split as word mode
        tokenizer.train_from_iterator(docs, trainer)
        self._subword = tokenizer
        vocab = tokenizer.get_vocab()
        self.vocabulary = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]

    def _learn_max_length(self, lengths: np.ndarray) -> None:
        nonempty = lengths[lengths > 0] if (lengths > 0).any() else lengths
        p = float(np.percentile(nonempty, self.length_percentile))
        self.training_lengths = {
            "documents": int(len(lengths)),
            "median": float(np.median(nonempty)),
            "p95": float(np.percentile(nonempty, 95)),
            "max": float(nonempty.max()),
        }
        if self.max_length is not None:
            self.max_length_reason = f"max_length {self.max_length} was set in the config"
            return
        learned = int(min(self.length_cap, max(8, int(np.ceil(p / 8.0) * 8))))
        self.max_length = learned
        cut = float((lengths > learned).mean())
        self.max_length_reason = (
            f"max_length {learned} {self.mode} tokens: the {self.length_percentile:g}th percentile of the training "
            f"documents' lengths is {p:.0f}"
            + (f", capped at {self.length_cap}" if learned == self.length_cap and p > self.length_cap else "")
            + f"; {cut:.1%} of the training documents are longer and keep their first {learned} tokens"
        )

    # ---------------------------------------------------------------- encoding
    @property
    def vocab_size(self) -> int:
        """Number of ids, padding and unknown included (the embedding's input size)."""
        return len(self.vocabulary)

    def transform(self, texts: Iterable[Any]) -> np.ndarray:
        """int32 ids ``[n, max_length]``, padding 0 and unknown 1 (see :meth:`encode` for the statistics)."""
        return self.encode(texts).ids

    def encode(self, texts: Iterable[Any]) -> EncodedTexts:
        """Ids plus per-document lengths, unknown-token counts and truncation (:class:`EncodedTexts`).

        Example:
            >>> batch = tokenizer.encode(["a new text"]); batch.ids.shape, batch.summary()["unknown_token_share"]
        """
        self._check_fitted()
        budget = self.max_length * CHARS_PER_TOKEN_BUDGET
        raw = [_as_text(t) for t in texts]
        cut_chars = np.fromiter((len(t) > budget for t in raw), bool, count=len(raw))
        docs = [self._normalize(t[:budget]) for t in raw]
        n, width = len(docs), int(self.max_length)  # n may be 0: empty arrays
        ids = np.zeros((n, width), np.int32)
        lengths = np.zeros(n, np.int32)
        unknown = np.zeros(n, np.int32)
        for start, stop in _chunks(docs):
            chunk_ids, chunk_lengths = self._flat_ids(docs[start:stop])
            self._scatter(chunk_ids, chunk_lengths, ids[start:stop], unknown[start:stop])
            lengths[start:stop] = chunk_lengths
        return EncodedTexts(ids=ids, lengths=lengths, unknown=unknown, truncated=(lengths > width) | cut_chars)

    def _flat_ids(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All tokens of ``docs`` as one int32 array, and the number of tokens per document."""
        if self.mode == "subword":
            encodings = self._subword.encode_batch(list(docs), add_special_tokens=False)
            token_lists = [e.ids for e in encodings]
            lengths = np.fromiter(map(len, token_lists), np.int64, count=len(token_lists))
            flat = np.fromiter(itertools.chain.from_iterable(token_lists), np.int32, count=int(lengths.sum()))
            return flat, lengths
        if not docs:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
        joined = _SEPARATOR.join(docs)  # _normalize removed every separator from the documents
        if self.mode == "char":
            codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
            flat = np.full(len(codes), UNKNOWN_ID, np.int32)
            if len(self._char_codes):
                where = np.minimum(np.searchsorted(self._char_codes, codes), len(self._char_codes) - 1)
                found = self._char_codes[where] == codes
                flat[found] = self._char_ids[where[found]]
            flat[codes == 0] = -1
        else:
            tokens = _BATCH_PATTERN.findall(joined)
            flat = np.fromiter(map(self._lookup.get, tokens, itertools.repeat(UNKNOWN_ID)), np.int32,
                               count=len(tokens))
        is_sep = flat == -1
        boundaries = np.flatnonzero(is_sep)
        edges = np.concatenate([[-1], boundaries, [len(flat)]])
        lengths = np.diff(edges) - 1
        return flat[~is_sep], lengths

    def _scatter(self, flat: np.ndarray, lengths: np.ndarray, out: np.ndarray, unknown: np.ndarray) -> None:
        width = out.shape[1]
        starts = (np.cumsum(lengths) - lengths).astype(np.int64)
        doc = np.repeat(np.arange(len(lengths)), lengths)
        position = np.arange(len(flat)) - np.repeat(starts, lengths)
        keep = position < width
        out[doc[keep], position[keep]] = flat[keep]
        unknown[:] = np.bincount(doc[keep & (flat == UNKNOWN_ID)], minlength=len(lengths))

    def _token_counts(self, docs: list[str]) -> np.ndarray:
        counts = [self._flat_ids(docs[a:b])[1] for a, b in _chunks(docs)]
        return np.concatenate(counts) if counts else np.zeros(0, np.int64)

    def _normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        if _SEPARATOR in text:
            text = text.replace(_SEPARATOR, " ")
        return text.lower() if self.lowercase else text

    def _check_fitted(self) -> None:
        if not self.vocabulary or self.max_length is None:
            raise RuntimeError("TextTokenizer.fit(training_texts) must run before encode/transform.")

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text as the tokenizer sees them (unknown ones as ``[UNK]``), for reports.

        Example:
            >>> tokenizer.tokens("The cat")
            ['the', 'cat']
        """
        row = self.encode([text])
        n = min(int(row.lengths[0]), row.ids.shape[1])
        return [self.vocabulary[i] for i in row.ids[0, :n]]

    # ---------------------------------------------------------------- state
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (settings, vocabulary, learned lengths); :meth:`from_dict` restores it exactly."""
        self._check_fitted()
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "mode": self.mode,
            "max_tokens": self.max_tokens,
            "min_count": self.min_count,
            "max_length": int(self.max_length),
            "lowercase": self.lowercase,
            "subword_model": self.subword_model,
            "length_percentile": self.length_percentile,
            "length_cap": self.length_cap,
            "training_lengths": self.training_lengths,
            "max_length_reason": self.max_length_reason,
            "vocabulary": self.vocabulary,
        }
        if self.mode == "subword":
            state["subword_tokenizer"] = self._subword.to_str()
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TextTokenizer:
        """Rebuild a fitted tokenizer from :meth:`to_dict`'s output (e.g. read back from ``tokenizer.json``)."""
        if state.get("version") != STATE_VERSION:
            raise DataError(f"The saved text tokenizer has version {state.get('version')!r}.",
                            expected=f"version {STATE_VERSION}", fix="retrain the run with this deepwise version")
        tokenizer = cls(mode=state["mode"], max_tokens=state["max_tokens"], min_count=state["min_count"],
                        max_length=state["max_length"], lowercase=state["lowercase"],
                        subword_model=state["subword_model"], length_percentile=state["length_percentile"],
                        length_cap=state["length_cap"])
        tokenizer.vocabulary = list(state["vocabulary"])
        tokenizer.training_lengths = dict(state["training_lengths"])
        tokenizer.max_length_reason = state["max_length_reason"]
        if tokenizer.mode == "subword":
            from tokenizers import Tokenizer

            tokenizer._subword = Tokenizer.from_str(state["subword_tokenizer"])
        else:
            tokenizer._build_lookup()
        return tokenizer


def _chunks(docs: Sequence[str]) -> Iterable[tuple[int, int]]:
    """(start, stop) ranges of documents of about ``_BATCH_CHARS`` characters together."""
    start, size = 0, 0
    for i, doc in enumerate(docs):
        size += len(doc) + 1
        if size >= _BATCH_CHARS:
            yield start, i + 1
            start, size = i + 1, 0
    if start < len(docs):
        yield start, len(docs)
