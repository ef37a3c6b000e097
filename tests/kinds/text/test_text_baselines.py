"""Text baselines on real BBC texts: majority class, TF-IDF + logistic regression / ridge, and a mixed table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from text_corpus import bbc, bbc_titles, split
from threadpoolctl import threadpool_limits

from deepwise.kinds.text.baselines import fit_text_baselines, majority, tfidf_linear, tfidf_table_linear


def test_tfidf_beats_the_majority_class_on_headlines():
    texts, labels, _ = bbc_titles()
    train, _, test = split(labels)
    fitted = fit_text_baselines(list(texts[train]), labels[train], "multiclass")
    tfidf = (fitted["tfidf_linear"].predict(list(texts[test])) == labels[test]).mean()
    most = (fitted["majority"].predict(np.zeros((len(test), 1))) == labels[test]).mean()
    print(f"headlines: TF-IDF + LR {tfidf:.3f}, majority {most:.3f}")
    assert most < 0.25 and tfidf > 0.75
    probabilities = fitted["tfidf_linear"].predict_proba(list(texts[test]))
    assert probabilities.shape == (len(test), 5) and np.allclose(probabilities.sum(1), 1)


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_ridge_on_text_predicts_a_number_the_text_carries():
    texts, _, _ = bbc()
    texts = texts[:800]
    # the target: how many figures (runs of digits) the article quotes, on a log scale: business and sport
    # articles are full of them, entertainment pieces less so; the model sees the text with its digits
    y = np.log1p([len([w for w in t.split() if any(c.isdigit() for c in w)]) for t in texts])
    model = tfidf_linear("regression").fit(list(texts[:600]), y[:600])
    residual = y[600:] - model.predict(list(texts[600:]))
    r2 = 1 - residual.var() / y[600:].var()
    baseline = majority("regression").fit(np.zeros((600, 1)), y[:600]).predict(np.zeros((200, 1)))
    assert r2 > 0.3 and np.allclose(baseline, y[:600].mean())


def test_a_mixed_table_baseline_uses_text_numbers_and_categories():
    texts, labels, classes = bbc_titles()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"headline": texts, "noise": rng.normal(size=len(texts)),
                          "weekday": rng.choice(["mon", "tue", "wed"], size=len(texts))})
    frame.loc[::7, "noise"] = np.nan
    train, _, test = split(labels)
    both = tfidf_table_linear(["headline"], ["noise"], ["weekday"]).fit(frame.iloc[train], labels[train])
    table = tfidf_table_linear([], ["noise"], ["weekday"]).fit(frame.iloc[train], labels[train])
    with_text = (both.predict(frame.iloc[test]) == labels[test]).mean()
    without = (table.predict(frame.iloc[test]) == labels[test]).mean()
    assert with_text > without + 0.4
