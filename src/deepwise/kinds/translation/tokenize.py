"""Text to token ids and back: characters (short strings) or subwords (BPE from the ``tokenizers`` package).

Both kinds share four special ids: 0 padding, 1 start, 2 end, 3 unknown. A tokenizer is fitted on the training
sentences only, learns its vocabulary and a maximum length from them (said in :attr:`TextTokenizer.length_rule`),
and counts the sentences it truncates. Its whole state is JSON (:meth:`TextTokenizer.to_json`).

Which kind: characters need no vocabulary to learn and spell any word from letters seen in training (dates, numbers,
names, short phrases); subwords make long sentences shorter sequences (about 4 characters a token in English), which
a recurrent network needs beyond about a hundred characters. ``choose_kind`` picks characters when 90 % of the
training sentences have at most 100 characters.

Example:
    >>> tok = TextTokenizer.fit(["mardi 5 mars 2024", "lundi 4 mars 2023"], kind="char")
    >>> ids, truncated = tok.encode(["mardi 4 mars"], add_end=True)
    >>> tok.decode(ids)
    ['mardi 4 mars']
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepwise.errors import ConfigError

PAD, START, END, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
KINDS = ("char", "subword")
CHAR_MAX_P90 = 100  # characters: 90 % of training sentences at most this long -> character tokens
OUTLIER_FACTOR = 2.0  # the longest sentence is an outlier when longer than this x the 99th percentile
OUTLIER_MARGIN = 1.25  # then the maximum length is this x the 99th percentile


def choose_kind(texts: list[str]) -> tuple[str, str]:
    """("char" or "subword", why) from the training sentences' lengths.

    Example:
        >>> choose_kind(["mardi 5 mars 2024"])[0]
        'char'
    """
    p90 = float(np.percentile([len(t) for t in texts], 90)) if texts else 0.0
    if p90 <= CHAR_MAX_P90:
        return "char", f"characters: 90 % of the training sentences have at most {p90:.0f} characters"
    return "subword", (
        f"subwords (BPE): 90 % of the training sentences have up to {p90:.0f} characters, too long a sequence of "
        "characters for a recurrent network"
    )


def learn_max_len(lengths: np.ndarray, extra: int = 0) -> tuple[int, str]:
    """The longest training sequence, unless a few outliers are far longer than the rest; and the rule, in words.

    ``extra``: tokens added to every sequence (the end token).

    Example:
        >>> learn_max_len(np.array([10, 12, 11, 300]))[0]
        300
    """
    lengths = np.asarray(lengths) + extra
    longest = int(lengths.max()) if len(lengths) else 1 + extra
    p99 = float(np.percentile(lengths, 99)) if len(lengths) else longest
    if len(lengths) >= 100 and longest > OUTLIER_FACTOR * p99:
        cap = max(1, math.ceil(OUTLIER_MARGIN * p99))
        over = int((lengths > cap).sum())
        return cap, (
            f"{cap} tokens: {OUTLIER_MARGIN} x the 99th percentile of training lengths ({p99:.0f}), since the "
            f"longest ({longest}) is more than {OUTLIER_FACTOR:g} x longer; {over} training sentences are truncated"
        )
    return longest, f"{longest} tokens: the longest training sentence" + (" with its end token" if extra else "")


@dataclass
class TextTokenizer:
    """Maps sentences to padded arrays of token ids and back; ``fit`` it on training sentences only."""

    kind: str
    max_len: int
    length_rule: str
    chars: list[str] = field(default_factory=list)  # kind "char": the character of id 4 + i
    bpe_json: str | None = None  # kind "subword": the tokenizers library's own JSON
    truncated: int = 0  # sentences cut to max_len by encode() since the tokenizer was made

    def __post_init__(self) -> None:
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.int64)
        self._order = np.argsort(self._codes)
        self._bpe = None
        if self.kind == "subword":
            from tokenizers import Tokenizer

            self._bpe = Tokenizer.from_str(self.bpe_json)

    # ------------------------------------------------------------------------------------------------- fitting
    @classmethod
    def fit(
        cls,
        texts: list[str],
        kind: str = "char",
        vocab_size: int = 8000,
        min_count: int = 1,
        max_len: int | None = None,
    ) -> TextTokenizer:
        """A tokenizer learned from ``texts`` (training sentences only).

        ``kind``: "char" or "subword"; ``vocab_size``: subwords' vocabulary (specials included); ``min_count``:
        characters seen fewer times are unknown; ``max_len``: None learns it from the training lengths.

        Example:
            >>> TextTokenizer.fit(["abc", "abd"]).chars
            ['a', 'b', 'c', 'd']
        """
        if kind not in KINDS:
            raise ConfigError(
                f"Unknown tokenizer kind {kind!r}.", expected=f"one of {', '.join(KINDS)}", fix="use char or subword"
            )
        if not texts:
            raise ConfigError("A tokenizer needs training sentences.", expected="at least one sentence",
                              fix="check the training split")
        if kind == "char":
            counts: dict[str, int] = {}
            for text in texts:
                for ch in text:
                    counts[ch] = counts.get(ch, 0) + 1
            chars = sorted(c for c, n in counts.items() if n >= min_count)
            tok = cls(kind="char", max_len=1, length_rule="", chars=chars)
        else:
            tok = cls(kind="subword", max_len=1, length_rule="", bpe_json=_train_bpe(texts, vocab_size, min_count))
        if max_len is None:
            max_len, rule = learn_max_len(tok.lengths(texts), extra=1)
        else:
            rule = f"{max_len} tokens: set in the config"
        tok.max_len, tok.length_rule = int(max_len), rule
        return tok

    # ------------------------------------------------------------------------------------------------ encoding
    @property
    def vocab_size(self) -> int:
        """Ids run from 0 to vocab_size - 1 (the four specials included)."""
        if self._bpe is not None:
            return self._bpe.get_vocab_size()
        return len(SPECIALS) + len(self.chars)

    def token_ids(self, texts: list[str]) -> list[np.ndarray]:
        """Each sentence's ids, unpadded, without start or end tokens (3 marks an unknown token)."""
        if self._bpe is not None:
            return [np.asarray(e.ids, dtype=np.int32) for e in self._bpe.encode_batch(list(texts))]
        out = []
        for text in texts:
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
            if len(self._codes) == 0:
                out.append(np.full(len(codes), UNK, dtype=np.int32))
                continue
            pos = np.searchsorted(self._codes, codes, sorter=self._order)
            pos = np.minimum(pos, len(self._codes) - 1)
            found = self._codes[self._order[pos]] == codes
            out.append(np.where(found, self._order[pos] + len(SPECIALS), UNK).astype(np.int32))
        return out

    def lengths(self, texts: list[str]) -> np.ndarray:
        """Tokens per sentence, before any truncation and without start/end tokens."""
        return np.array([len(ids) for ids in self.token_ids(texts)], dtype=np.int64)

    def encode(
        self, texts: list[str], add_start: bool = False, add_end: bool = True, max_len: int | None = None
    ) -> tuple[np.ndarray, int]:
        """(int32 ids [n, max_len + add_start], sentences truncated): padded with 0 after the end token.

        A sentence longer than ``max_len`` (default: the learned one) keeps its first tokens, and its end token.

        Example:
            >>> ids, cut = tok.encode(["mars"], add_start=True)   # [[1, m, a, r, s, 2, 0, ...]]
        """
        max_len = max_len or self.max_len
        width = max_len + int(add_start)
        out = np.zeros((len(texts), width), dtype=np.int32)
        truncated = 0
        for row, ids in enumerate(self.token_ids(texts)):
            room = max_len - int(add_end)
            if len(ids) > room:
                truncated += 1
                ids = ids[:room]
            seq = ([START] if add_start else []) + ids.tolist() + ([END] if add_end else [])
            out[row, : len(seq)] = seq
        self.truncated += truncated
        return out, truncated

    def unknown_share(self, texts: list[str]) -> np.ndarray:
        """The share of each sentence's tokens that are unknown (0 for an empty sentence)."""
        return np.array([float(np.mean(ids == UNK)) if len(ids) else 0.0 for ids in self.token_ids(texts)])

    def decode(self, ids: np.ndarray) -> list[str]:
        """Sentences from ids: reading stops at the end token; padding and start tokens are skipped."""
        out = []
        for row in np.asarray(ids):
            row = row.tolist()
            if END in row:
                row = row[: row.index(END)]
            row = [i for i in row if i not in (PAD, START)]
            if self._bpe is not None:
                out.append(self._bpe.decode(row, skip_special_tokens=False).replace("<unk>", "\ufffd"))
            else:
                out.append("".join(self.chars[i - len(SPECIALS)] if i >= len(SPECIALS) else "\ufffd" for i in row))
        return out

    def token_strings(self, ids: np.ndarray) -> list[str]:
        """The token of each id (for attention plots)."""
        if self._bpe is not None:
            return [self._bpe.id_to_token(int(i)) or "?" for i in ids]
        return [SPECIALS[i] if i < len(SPECIALS) else self.chars[i - len(SPECIALS)] for i in np.asarray(ids).tolist()]

    # ---------------------------------------------------------------------------------------------------- state
    def to_json(self) -> dict[str, Any]:
        """The whole state as JSON-ready values (``from_json`` reverses it)."""
        return {
            "kind": self.kind,
            "max_len": self.max_len,
            "length_rule": self.length_rule,
            "chars": self.chars,
            "bpe_json": self.bpe_json,
            "specials": list(SPECIALS),
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> TextTokenizer:
        """The tokenizer saved by :meth:`to_json`.

        Example:
            >>> TextTokenizer.from_json(json.loads(json.dumps(tok.to_json())))
        """
        return cls(
            kind=state["kind"],
            max_len=int(state["max_len"]),
            length_rule=state["length_rule"],
            chars=list(state.get("chars") or []),
            bpe_json=state.get("bpe_json"),
        )

    def describe(self) -> str:
        """One sentence for the report."""
        unit = "characters" if self.kind == "char" else "BPE subwords"
        return f"{unit}, {self.vocab_size:,} ids (4 special); maximum length {self.length_rule}"


def _train_bpe(texts: list[str], vocab_size: int, min_count: int) -> str:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE(unk_token=SPECIALS[UNK]))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIALS), min_frequency=max(2, min_count), show_progress=False
    )
    bpe.train_from_iterator(texts, trainer)
    return bpe.to_str()


@dataclass
class PairTokenizer:
    """A source and a target tokenizer, fitted on the training pairs; arrays for teacher forcing.

    Example:
        >>> pt = PairTokenizer.fit(train.sources, train.targets)
        >>> arrays = pt.training_arrays(train.sources, train.targets)
        >>> arrays["source"].shape, arrays["decoder_input"].shape, arrays["decoder_target"].shape
    """

    source: TextTokenizer
    target: TextTokenizer
    why: str = ""

    @classmethod
    def fit(
        cls, sources: list[str], targets: list[str], kind: str = "auto", vocab_size: int = 8000
    ) -> PairTokenizer:
        """Both tokenizers from the training pairs; ``kind`` "auto" uses :func:`choose_kind` on both sides."""
        why = f"{kind}: set in the config"
        if kind == "auto":
            kind, why = choose_kind(list(sources) + list(targets))
        return cls(
            TextTokenizer.fit(sources, kind, vocab_size), TextTokenizer.fit(targets, kind, vocab_size), why=why
        )

    def training_arrays(self, sources: list[str], targets: list[str]) -> dict[str, Any]:
        """Model inputs and targets: source ids; decoder input = start + target; decoder target = target + end.

        Also ``weights`` (1 on real target tokens, 0 on padding) and ``truncated`` counts.
        """
        src, cut_src = self.source.encode(sources, add_start=False, add_end=True)
        tgt, cut_tgt = self.target.encode(targets, add_start=True, add_end=True)
        return {
            "source": src,
            "decoder_input": tgt[:, :-1],
            "decoder_target": tgt[:, 1:],
            "weights": (tgt[:, 1:] != PAD).astype(np.float32),
            "truncated": {"source": cut_src, "target": cut_tgt},
        }

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source.to_json(), "target": self.target.to_json(), "why": self.why}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> PairTokenizer:
        return cls(TextTokenizer.from_json(state["source"]), TextTokenizer.from_json(state["target"]), state["why"])


def dumps(tokenizer: PairTokenizer) -> str:
    """The pair tokenizer as a JSON string (for ``tokenizer.json`` in a run)."""
    return json.dumps(tokenizer.to_json(), ensure_ascii=False)
