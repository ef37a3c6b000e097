"""The guard flags inputs far from the training sources, with its reasons."""

from __future__ import annotations

import json

import pytest

from deepwise.kinds.translation.baselines import RetrievalBaseline
from deepwise.kinds.translation.guard import TranslationGuard
from deepwise.kinds.translation.tokenize import TextTokenizer


@pytest.fixture(scope="module")
def guard(date_pairs):
    sources, targets = date_pairs
    tok = TextTokenizer.fit(sources[:1200], kind="char")
    retrieval = RetrievalBaseline().fit(sources[:1200], targets[:1200])
    return TranslationGuard.fit(sources[:1200], sources[1200:1600], tok, retrieval)


def test_ordinary_sentences_pass_at_about_the_calibrated_rate(guard, date_pairs):
    summary = guard.summary(date_pairs[0][1600:])
    assert summary["rate"] <= 0.05 and summary["n"] == 400


def test_foreign_text_is_flagged_with_reasons(guard):
    report = guard.check(["Der Hund bellt laut im Garten.", "Ω" * 5, "x" * 10_000, "Tuesday, March 5, 2024"])
    assert report["ood"].tolist() == [True, True, True, False]
    reasons = report["reasons"]
    assert any("unknown characters 10% (., G, H)" in r for r in reasons[0])
    assert any("unknown characters 100% (Ω)" in r for r in reasons[1])
    assert any("10,000 characters" in r and "truncated" in r for r in reasons[2])
    assert report["ood_score"][0] > report["ood_score"][3]


def test_guard_state_round_trip(guard, date_pairs):
    again = TranslationGuard.from_json(json.loads(json.dumps(guard.to_json())), guard.tokenizer, guard.retrieval)
    sample = date_pairs[0][1600:1700]
    assert again.check(sample)["ood"].tolist() == guard.check(sample)["ood"].tolist()
