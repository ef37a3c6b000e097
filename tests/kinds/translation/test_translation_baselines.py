"""Copy-source and nearest-neighbour retrieval baselines; their state in an .npz without pickle."""

from __future__ import annotations

import numpy as np

from deepwise.kinds.translation.baselines import RetrievalBaseline, copy_source, pack_texts, unpack_texts


def test_copy_source():
    assert copy_source(["3/5/24", "May 1"]) == ["3/5/24", "May 1"]


def test_retrieval_finds_training_pairs_and_near_copies(date_pairs):
    sources, targets = date_pairs
    retrieval = RetrievalBaseline().fit(sources[:1500], targets[:1500])
    assert retrieval.predict(sources[:50]) == targets[:50]
    index, similarity = retrieval.neighbours(sources[:50])
    assert (index == np.arange(50)).all() and np.allclose(similarity, 1.0, atol=1e-5)
    near = retrieval.predict([sources[0].upper()])
    assert near == [targets[0]]
    _, far = retrieval.neighbours(["Der Hund bellt laut im Garten."])
    assert far[0] < 0.6


def test_retrieval_state_round_trip(tmp_path, date_pairs):
    sources, targets = date_pairs
    retrieval = RetrievalBaseline().fit(sources[:300], targets[:300])
    path = tmp_path / "retrieval.npz"
    np.savez(path, **retrieval.state())
    again = RetrievalBaseline.from_state(dict(np.load(path, allow_pickle=False)))
    assert again.predict(sources[300:400]) == retrieval.predict(sources[300:400])


def test_pack_texts():
    texts = ["é", "", "日本", "ab"]
    assert unpack_texts(**pack_texts(texts)) == texts
