"""Autoregressive decoding agrees with the teacher-forced network when the network is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

import deepwise.backend  # noqa: F401  (JAX before Keras)
from deepwise.kinds.translation.decode import (
    attention_maps,
    beam_decode,
    greedy_decode,
    teacher_forced_argmax,
)
from deepwise.kinds.translation.models import Seq2SeqConfig, build_seq2seq, from_state
from deepwise.kinds.translation.tokenize import END, START

SMALL = {"embed_dim": 16, "units": 32, "layers": 1, "heads": 2, "ff_dim": 32}


def random_sources(n: int, length: int, vocab: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, vocab, (n, length)).astype(np.int32)
    for row, size in enumerate(rng.integers(3, length, n)):
        ids[row, size] = END
        ids[row, size + 1 :] = 0
    return ids


SOURCES = random_sources(13, 9, 20)  # 13 rows: the chunk is padded to 16


def until_end(ids: np.ndarray) -> list[list[int]]:
    return [row[: row.index(END) + 1] if END in row else row for row in ids.tolist()]


@pytest.fixture(scope="module", params=["gru", pytest.param("transformer", marks=pytest.mark.slow)])
def network(request):
    return build_seq2seq(20, 12, source_len=9, target_len=8, config=Seq2SeqConfig(request.param, **SMALL), seed=3)


def test_greedy_equals_teacher_forced_argmax(network):
    greedy = greedy_decode(network, SOURCES)
    assert greedy.shape == (13, 8)
    decoder_input = np.concatenate([np.full((13, 1), START, np.int32), greedy[:, :-1]], axis=1)
    forced = teacher_forced_argmax(network, SOURCES, decoder_input)
    for g, f in zip(until_end(greedy), forced.tolist(), strict=True):
        assert g == f[: len(g)]


def test_beam_of_one_is_greedy(network):
    assert (beam_decode(network, SOURCES, beam=1) == greedy_decode(network, SOURCES)).all()


def test_attention_maps_are_distributions(network):
    maps = attention_maps(network, SOURCES)
    for source, weights in zip(SOURCES, maps, strict=True):
        assert weights.shape[1] == int((source != 0).sum())
        assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)


def test_state_rebuilds_the_same_network():
    s2s = build_seq2seq(20, 12, 9, 8, Seq2SeqConfig(embed_dim=8, units=16, attention="bahdanau"), seed=0)
    again = from_state(s2s.state(), seed=1)
    assert again.state() == s2s.state() and again.training.count_params() == s2s.training.count_params()
    assert [w.shape for w in again.training.get_weights()] == [w.shape for w in s2s.training.get_weights()]
    assert len(again.decoder_step.trainable_variables) < len(again.training.trainable_variables)
