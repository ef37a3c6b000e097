"""The text guard on real BBC articles: ordinary ones pass, gibberish, scraps and giant documents are flagged."""

from __future__ import annotations

import codecs
import json

import numpy as np
import pytest
from text_corpus import bbc, split

from deepwise.kinds.text.guard import TextGuard
from deepwise.kinds.text.tokenize import TextTokenizer


@pytest.fixture(scope="module")
def fitted():
    texts, labels, _ = bbc()
    train, val, test = split(labels)
    tokenizer = TextTokenizer().fit(texts[train])
    guard = TextGuard().fit(list(texts[val]), tokenizer.encode(texts[val]))
    return tokenizer, guard, list(texts[test])


def test_ordinary_test_articles_are_rarely_flagged(fitted):
    tokenizer, guard, test = fitted
    result = guard.score(test, tokenizer.encode(test))
    print(f"flagged {result['ood'].mean():.3f} of {len(test)} test articles; threshold "
          f"{guard.reference['threshold']:.2f}")
    assert result["ood"].mean() <= 0.04
    assert result["ood_score"].shape == (len(test),) and all(r == "" for r, o in
                                                              zip(result["reasons"], result["ood"], strict=True)
                                                              if not o)


def test_gibberish_scraps_and_giant_documents_are_flagged_with_reasons(fitted):
    tokenizer, guard, test = fitted
    scrambled = codecs.encode(test[0], "rot13")  # same length and punctuation, words the vocabulary never saw
    giant = " ".join(test) * 40  # about 40 MB of ordinary words
    odd = [scrambled, "Goal!", giant]
    result = guard.score(odd, tokenizer.encode(odd))
    assert result["ood"].tolist() == [True, True, True]
    assert "unknown" in result["reasons"][0] and "characters long" not in result["reasons"][0]
    assert "characters long" in result["reasons"][1] and "unknown" not in result["reasons"][1]
    assert "characters long" in result["reasons"][2]
    assert result["unknown_share"][0] > 0.5 > result["unknown_share"][2]


def test_state_round_trips_through_json(fitted):
    tokenizer, guard, test = fitted
    restored = TextGuard.from_dict(json.loads(json.dumps(guard.to_dict())))
    encoded = tokenizer.encode(test[:20])
    assert np.array_equal(restored.score(test[:20], encoded)["ood_score"], guard.score(test[:20], encoded)["ood_score"])
