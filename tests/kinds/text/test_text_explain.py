"""Occlusion explanations on a real BBC classifier."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from text_corpus import bbc, split
from threadpoolctl import threadpool_limits

from deepwise.kinds.text.explain import explain_documents, occlusion_word_importance


@pytest.fixture(scope="module")
def classifier():
    texts, labels, classes = bbc()
    train, _, test = split(labels)
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=2), LogisticRegression(C=10, max_iter=1000))
    with threadpool_limits(1):  # BLAS threads only slow a small logistic regression down on a shared CPU
        model.fit(list(texts[train]), labels[train])
    return model, texts[test], labels[test], classes


def test_the_words_that_push_a_prediction_are_found_and_their_drop_is_real(classifier):
    model, texts, labels, classes = classifier
    predict = lambda docs: model.predict_proba(list(docs))  # noqa: E731
    sport = next(t for t, y in zip(texts, labels, strict=True) if classes[y] == "sports")
    words = occlusion_word_importance(sport, predict, top=8)
    assert len(words) == 8 and all(a[1] >= b[1] for a, b in zip(words, words[1:], strict=False))
    top_word, top_drop = words[0]
    assert top_drop > 0
    chosen = int(np.argmax(predict([sport])[0]))
    without = " ".join(w for w in sport.split() if w.lower().strip(".,;:'\"()!?") != top_word)
    assert predict([sport])[0, chosen] - predict([without])[0, chosen] == pytest.approx(top_drop, abs=0.02)
    coefficients = model[-1].coef_[chosen]
    vocabulary = model[0].vocabulary_
    # the pushing words are ones the linear model weighs towards the class
    assert np.mean([coefficients[vocabulary[w]] > 0 for w, _ in words if w in vocabulary]) >= 0.75


def test_explain_documents_names_the_class_and_handles_empty_text(classifier):
    model, texts, labels, classes = classifier
    predict = lambda docs: model.predict_proba(list(docs))  # noqa: E731
    results = explain_documents([texts[0], "   "], predict, top=3, class_names=classes)
    assert results[0]["prediction"] == classes[labels[0]] and len(results[0]["words"]) == 3
    assert results[1]["words"] == []


def test_regression_and_a_single_sigmoid_output():
    texts, labels, classes = bbc()
    docs = list(texts[:300])
    y = np.array([t.lower().count("election") for t in docs], dtype=float)
    reg = make_pipeline(TfidfVectorizer(), Ridge(alpha=0.1)).fit(docs, y)
    doc = next(d for d, v in zip(docs, y, strict=True) if v >= 3)
    words = occlusion_word_importance(doc, lambda d: reg.predict(list(d)), regression=True, top=3)
    assert words[0][0] in ("election", "elections")
    sigmoid = lambda d: np.array([[0.9 if "goal" in t else 0.2] for t in d])  # noqa: E731
    assert occlusion_word_importance("a late goal won it", sigmoid, top=1)[0] == ("goal", pytest.approx(0.7))
    assert occlusion_word_importance("nothing here", sigmoid, top=1)[0][1] == pytest.approx(0.0)
