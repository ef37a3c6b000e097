"""Flag translations that invent content: numbers, dates and names in the output that the source does not contain.

A translation network writes fluent text whether or not it is right; its worst errors look like good translations
with a different number, day or name in them. The rule, per output sentence:

1. **Numbers** (compared exactly, as digits): every number in the output must be in the source. A number is a run
   of digits, or a chain of runs joined by one separator (``1,234.5`` = ``1 234,5`` = digits ``12345``); leading
   zeros do not count (``05`` = ``5``). It is supported if its digits equal a source number's, or if each of its
   runs is a run of the source (``05/03/2024`` from ``3/5/2024``), or a run that training pairs with a word of
   the source (``07`` from ``Jul``, as for words in 2.). A run that only *extends* a source run with one
   or two leading digits (``1970`` from ``70``: a two-digit year given its century) is not an invention but a
   **guess**, reported separately: the added digits are not in the source.
2. **Words the training data pairs with specific source words** (month and day names, most content words): a
   target word ``w`` is checked when some source word ``s`` predicts it in training, P(w in target | s in source)
   >= 0.5 (``tau``) over at least 3 pairs; its *partners* are all such ``s``. It is supported if one of its
   partners, or ``w`` itself, is in the source. Words in more than 15 % of training targets ("de", "le") are not
   checked: they translate grammar, not content.
3. **Names and new words**: a capitalised word that does not start the sentence, or a word never seen in a
   training target, must appear in the source (ignoring case and accents) or have a partner there.

What it cannot see: a wrong word that the source does license (a right month name in the wrong place), numbers
written as words in the source ("five" -> "5" is flagged), and synonyms in real text (a licensed word needs its
partner in the source: expect more false flags on free text than on dates). Measured precision and recall are in
the report (:func:`plant_inventions` makes a test set whose wrong outputs are known).

Example:
    >>> flagger = InventionFlagger.fit(train.sources, train.targets)
    >>> flagger.check("Tuesday, March 5, 2024", "lundi 5 mars 2042").invented
    [('number', '2042'), ('word', 'lundi')]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

TAU = 0.5  # P(target word | source word) that makes the source word a partner
MIN_PAIRS = 3  # a partner needs at least this many training pairs
COMMON = 0.15  # target words in more than this share of training targets are not checked
MAX_PAIRS = 20_000  # pairs used to learn partners (a sample beyond it: memory grows with pairs x words^2)
SEPARATORS = ",.'\u00a0\u202f\u2009 "  # one of these between digit runs keeps them one number

_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+")


def _plain(word: str) -> str:
    """Lower case without accents: "Zürich" == "zurich"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Number(NamedTuple):
    """A number as written, its digits (no separators, no leading zeros), its runs (no leading zeros) and its
    digits as written (leading zeros kept: "05")."""

    surface: str
    digits: str
    runs: tuple[str, ...]
    written: str


def numbers(text: str) -> list[Number]:
    """The numbers of a text, a chain of digit runs joined by single separators counting as one.

    Example:
        >>> [n.digits for n in numbers("1 234,50 € le 05/03")]
        ['123450', '5', '3']
    """
    found: list[Number] = []
    runs = list(_DIGITS.finditer(text))
    i = 0
    while i < len(runs):
        j = i
        while j + 1 < len(runs) and runs[j + 1].start() - runs[j].end() == 1 and text[runs[j].end()] in SEPARATORS:
            j += 1
        chain = runs[i : j + 1]
        written = "".join(m.group(0) for m in chain)
        stripped = tuple(m.group(0).lstrip("0") or "0" for m in chain)
        found.append(Number(text[chain[0].start() : chain[-1].end()], written.lstrip("0") or "0", stripped, written))
        i = j + 1
    return found


def words(text: str) -> list[str]:
    """The words (letters only) of a text, in order."""
    return _WORD.findall(text)


def _target_tokens(text: str) -> list[str]:
    """Lower-case words and "#"-marked digit runs without leading zeros (a month's number can have partners)."""
    return [w.lower() for w in words(text)] + ["#" + (r.lstrip("0") or "0") for r in _DIGITS.findall(text)]


@dataclass
class Finding:
    """What the flagger found in one output: ``invented`` [(kind, text)], ``guessed`` [(kind, text, from)]."""

    invented: list[tuple[str, str]] = field(default_factory=list)
    guessed: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.invented)

    def to_json(self) -> dict[str, Any]:
        return {"flagged": self.flagged, "invented": self.invented, "guessed": self.guessed}


@dataclass
class InventionFlagger:
    """The rule above, with the word partners learned from the training pairs (JSON state)."""

    partners: dict[str, list[str]]  # target word (or "#" + digit run) -> source words that predict it
    target_words: set[str]  # every (lower-case) word of the training targets
    common: set[str]  # target words too frequent to check
    tau: float = TAU
    pairs_used: int = 0

    @classmethod
    def fit(
        cls,
        sources: list[str],
        targets: list[str],
        tau: float = TAU,
        min_pairs: int = MIN_PAIRS,
        max_pairs: int = MAX_PAIRS,
        seed: int = 0,
    ) -> InventionFlagger:
        """Learn which source words predict which target words from training pairs (a sample of ``max_pairs``).

        Example:
            >>> InventionFlagger.fit(["Tuesday"] * 3, ["mardi"] * 3).partners
            {'mardi': ['tuesday']}
        """
        from sklearn.feature_extraction.text import CountVectorizer

        n = len(sources)
        index = np.arange(n)
        if n > max_pairs:
            index = np.sort(np.random.default_rng(seed).choice(n, max_pairs, replace=False))
        src = [sources[i] for i in index]
        tgt = [targets[i] for i in index]
        vectorize = {"binary": True, "lowercase": True, "token_pattern": r"[^\W\d_]+"}
        src_vec = CountVectorizer(**vectorize)
        tgt_vec = CountVectorizer(binary=True, lowercase=False, tokenizer=_target_tokens, token_pattern=None)
        try:
            xs, xt = src_vec.fit_transform(src), tgt_vec.fit_transform(tgt)
        except ValueError:  # no word at all on one side (numbers only): nothing to learn
            return cls({}, set(), set(), tau, len(index))
        target_vocab = tgt_vec.get_feature_names_out()
        source_vocab = src_vec.get_feature_names_out()
        df_t = np.asarray(xt.sum(axis=0)).ravel()
        df_s = np.asarray(xs.sum(axis=0)).ravel()
        together = (xs.T @ xt).tocoo()  # [source word, target word] -> pairs with both
        share = together.data / df_s[together.row]
        keep = (share >= tau) & (together.data >= min_pairs)
        partners: dict[str, list[str]] = {}
        for s, t in zip(together.row[keep], together.col[keep], strict=True):
            partners.setdefault(str(target_vocab[t]), []).append(str(source_vocab[s]))
        common = {str(w) for w, d in zip(target_vocab, df_t, strict=True) if d > COMMON * len(index)}
        common = {w for w in common if not w.startswith("#")}
        target_words = {str(w) for w in target_vocab if not str(w).startswith("#")}
        return cls({w: sorted(p) for w, p in sorted(partners.items())}, target_words, common, tau, len(index))

    @property
    def content_words(self) -> list[str]:
        """The target words that have partners (checked unless common), e.g. month and day names."""
        return sorted(w for w in self.partners if not w.startswith("#"))

    def check(self, source: str, output: str) -> Finding:
        """Numbers and words of ``output`` that ``source`` does not support.

        Example:
            >>> flagger.check("March 5, 2024", "5 mars 2024").flagged
            False
        """
        finding = Finding()
        src_words = {w.lower() for w in words(source)}
        src_numbers = numbers(source)
        src_digits = {n.digits for n in src_numbers}
        src_runs = {r for n in src_numbers for r in n.runs}
        src_written = {m.group(0) for m in _DIGITS.finditer(source)}
        for number in numbers(output):
            if number.digits in src_digits:
                continue
            unsupported, bases = [], []
            for run in _DIGITS.findall(number.surface):
                plain_run = run.lstrip("0") or "0"
                if plain_run in src_runs or any(p in src_words for p in self.partners.get("#" + plain_run, ())):
                    continue
                base = next((w for w in sorted(src_written, key=len, reverse=True)
                             if 2 <= len(w) < len(run) <= len(w) + 2 and run.endswith(w)), None)
                (bases if base is not None else unsupported).append(base or run)
            if unsupported:
                finding.invented.append(("number", number.surface))
            elif bases:
                finding.guessed.append(("number", number.surface, bases[0]))
        src_plain = {_plain(w) for w in src_words}
        for position, word in enumerate(words(output)):
            lower = word.lower()
            partners = self.partners.get(lower, [])
            name = word[:1].isupper() and position > 0
            new = lower not in self.target_words
            aligned = bool(partners) and lower not in self.common
            if not (aligned or name or new):
                continue
            if _plain(lower) in src_plain or any(p in src_words for p in partners):
                continue
            finding.invented.append(("word", word))
        return finding

    def check_all(self, sources: list[str], outputs: list[str]) -> list[Finding]:
        """:meth:`check` for each (source, output) pair."""
        return [self.check(s, o) for s, o in zip(sources, outputs, strict=True)]

    def to_json(self) -> dict[str, Any]:
        return {
            "partners": self.partners,
            "target_words": sorted(self.target_words),
            "common": sorted(self.common),
            "tau": self.tau,
            "pairs_used": self.pairs_used,
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> InventionFlagger:
        return cls(
            {k: list(v) for k, v in state["partners"].items()},
            set(state["target_words"]),
            set(state["common"]),
            float(state["tau"]),
            int(state["pairs_used"]),
        )


def wrong_content(output: str, reference: str) -> bool:
    """Ground truth for measuring the flagger: does ``output`` hold a number or word that ``reference`` lacks?

    Example:
        >>> wrong_content("lundi 5 mars 2024", "mardi 5 mars 2024")
        True
    """
    ref_digits = {n.digits for n in numbers(reference)}
    ref_words = {w.lower() for w in words(reference)}
    return any(n.digits not in ref_digits for n in numbers(output)) or any(
        w.lower() not in ref_words for w in words(output)
    )


NAMES = ("Paris", "Marie", "Londres", "Dupont", "Berlin", "Jean")


def plant_inventions(
    references: list[str], seed: int = 0, share: float = 0.5, vocabulary: list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Copies of correct translations, a ``share`` of them given invented content (a changed number, a word
    swapped for another training word, or an inserted name), the others harmless edits (a word dropped, or left as
    they are). Returns (outputs, planted: bool per output), to measure a flagger's precision and recall.

    Example:
        >>> outputs, planted = plant_inventions(test.targets, vocabulary=flagger.content_words)
    """
    rng = np.random.default_rng(seed)
    vocabulary = list(vocabulary or NAMES)
    outputs, planted = [], np.zeros(len(references), dtype=bool)
    for i, ref in enumerate(references):
        if rng.random() < share:
            planted[i] = True
            outputs.append(_invent(ref, rng, vocabulary))
        else:
            tokens = ref.split(" ")
            if len(tokens) > 2 and rng.random() < 0.5:
                del tokens[int(rng.integers(0, len(tokens)))]
            outputs.append(" ".join(tokens))
    return outputs, planted


def _invent(reference: str, rng: np.random.Generator, vocabulary: list[str]) -> str:
    runs = list(_DIGITS.finditer(reference))
    found = words(reference)
    choice = rng.choice(["number", "word", "name"])
    if choice == "number" and runs:
        m = runs[int(rng.integers(0, len(runs)))]
        old = m.group(0)
        new = old
        while new.lstrip("0") == old.lstrip("0"):
            new = "".join(str(d) for d in rng.integers(0, 10, len(old)))
            new = str(int(rng.integers(1, 10))) + new[1:] if len(new) > 1 else new
        return reference[: m.start()] + new + reference[m.end() :]
    if choice == "word" and found:
        old = found[int(rng.integers(0, len(found)))]
        present = {w.lower() for w in found}
        others = [w for w in vocabulary if w.lower() not in present]
        if others:
            return reference.replace(old, str(rng.choice(others)), 1)
    tokens = reference.split(" ")
    tokens.insert(int(rng.integers(0, len(tokens) + 1)), str(rng.choice(NAMES)))
    return " ".join(tokens)


def flag_quality(flags: list[bool] | np.ndarray, truth: list[bool] | np.ndarray) -> dict[str, Any]:
    """Precision and recall of ``flags`` against ``truth`` (None where undefined), and the counts.

    Example:
        >>> flag_quality([True, False], [True, True])["recall"]
        0.5
    """
    flags_a, truth_a = np.asarray(flags, bool), np.asarray(truth, bool)
    hits = int((flags_a & truth_a).sum())
    return {
        "precision": hits / int(flags_a.sum()) if flags_a.any() else None,
        "recall": hits / int(truth_a.sum()) if truth_a.any() else None,
        "flagged": int(flags_a.sum()),
        "truly_wrong": int(truth_a.sum()),
        "n": int(len(flags_a)),
    }


RULE = (
    "numbers must be in the source (digits compared exactly); words that training pairs with specific source words "
    "need one of those in the source; names and words never seen in a training target must be in the source"
)


def invention_summary(
    flagger: InventionFlagger,
    sources: list[str],
    references: list[str],
    outputs: list[str],
    seed: int = 0,
    examples: int = 5,
) -> dict[str, Any]:
    """How often the outputs invent content, with examples, and how well the flag finds wrong content: against the
    references (an output with a number or word the reference lacks is wrong) and on planted inventions
    (:func:`plant_inventions`: copies of the references, half of them given invented content).

    Example:
        >>> invention_summary(flagger, test.sources, test.targets, outputs)["rate"]
        0.031
    """
    findings = flagger.check_all(sources, outputs)
    flags = [f.flagged for f in findings]
    warned = [f.flagged or bool(f.guessed) for f in findings]
    truth = [wrong_content(o, r) for o, r in zip(outputs, references, strict=True)]
    planted_out, planted = plant_inventions(references, seed=seed, vocabulary=flagger.content_words or None)
    planted_flags = [f.flagged for f in flagger.check_all(sources, planted_out)]
    flagged = [
        {"source": s, "output": o, "reference": r, **f.to_json()}
        for s, o, r, f in zip(sources, outputs, references, findings, strict=True)
        if f.flagged
    ]
    return {
        "rate": float(np.mean(flags)) if flags else 0.0,
        "flagged": int(sum(flags)),
        "guessed_rate": float(np.mean([bool(f.guessed) for f in findings])) if findings else 0.0,
        "vs_references": flag_quality(flags, truth),
        "vs_references_with_guesses": flag_quality(warned, truth),
        "planted": flag_quality(planted_flags, planted),
        "examples": flagged[:examples],
        "guessed_examples": [
            {"source": s, "output": o, "reference": r, **f.to_json()}
            for s, o, r, f in zip(sources, outputs, references, findings, strict=True)
            if f.guessed and not f.flagged
        ][:examples],
        "rule": RULE,
    }
