"""Tokenizers: round trips, special ids, learned lengths and truncation, JSON state."""

from __future__ import annotations

import json

import numpy as np

from deepwise.kinds.translation.tokenize import END, PAD, START, UNK, PairTokenizer, TextTokenizer, choose_kind


def test_char_round_trip_on_babel_dates(date_pairs):
    sources, targets = date_pairs
    tok = TextTokenizer.fit(targets[:1500], kind="char")
    ids, cut = tok.encode(targets[1500:])
    assert cut == 0 and ids.dtype == np.int32
    assert tok.decode(ids) == targets[1500:]
    assert (ids[:, 0] != PAD).all() and (ids == END).sum() == len(ids)


def test_subword_round_trip(date_pairs):
    sources, targets = date_pairs
    tok = TextTokenizer.fit(sources[:1500], kind="subword", vocab_size=300)
    ids, _ = tok.encode(sources[1500:])
    assert tok.decode(ids) == sources[1500:]
    assert tok.lengths(["Wednesday, September 21, 2044"])[0] < len("Wednesday, September 21, 2044") / 2


def test_unknown_characters_and_specials():
    tok = TextTokenizer.fit(["abc", "abd"], kind="char")
    assert tok.vocab_size == 4 + 4
    ids, _ = tok.encode(["abz"], add_start=True)
    assert ids[0].tolist()[:5] == [START, 4, 5, UNK, END]
    assert tok.decode(ids) == ["ab\ufffd"]
    assert tok.unknown_share(["abz", "ab"]).tolist() == [1 / 3, 0.0]


def test_max_length_learned_and_truncation_counted():
    texts = ["x" * 10] * 200 + ["x" * 12] * 5 + ["y" * 400]  # one outlier 400 characters long
    tok = TextTokenizer.fit(texts, kind="char")
    assert tok.max_len < 30 and "99th percentile" in tok.length_rule and "1 training sentences are truncated" \
        in tok.length_rule
    ids, cut = tok.encode(["y" * 400, "x" * 3])
    assert cut == 1 and ids.shape == (2, tok.max_len) and ids[0, -1] == END and tok.truncated == 1
    plain = TextTokenizer.fit(["ab", "abcd"], kind="char")
    assert plain.max_len == 5 and "longest training sentence" in plain.length_rule


def test_json_state_round_trip(date_pairs):
    sources, targets = date_pairs
    for kind in ("char", "subword"):
        tok = TextTokenizer.fit(sources[:500], kind=kind, vocab_size=200)
        again = TextTokenizer.from_json(json.loads(json.dumps(tok.to_json())))
        a, _ = tok.encode(sources[500:700])
        b, _ = again.encode(sources[500:700])
        assert (a == b).all() and again.max_len == tok.max_len and again.describe() == tok.describe()


def test_pair_arrays_shift_for_teacher_forcing(date_pairs):
    sources, targets = date_pairs
    pt = PairTokenizer.fit(sources[:300], targets[:300])
    assert pt.why.startswith("characters")
    arrays = pt.training_arrays(sources[:4], targets[:4])
    assert (arrays["decoder_input"][:, 0] == START).all()
    assert (arrays["decoder_input"][:, 1:] == arrays["decoder_target"][:, :-1]).all()
    assert (arrays["weights"] == (arrays["decoder_target"] != PAD)).all()
    assert PairTokenizer.from_json(json.loads(json.dumps(pt.to_json()))).target.chars == pt.target.chars


def test_choose_kind_by_length():
    assert choose_kind(["short"])[0] == "char"
    assert choose_kind(["a long sentence " * 10] * 10)[0] == "subword"
