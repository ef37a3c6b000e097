"""Translation metrics against sacrebleu itself, the paired bootstrap of corpus chrF, and the verdict."""

from __future__ import annotations

import numpy as np
import sacrebleu

from deepwise.kinds.translation.metrics import (
    chrf_from_statistics,
    chrf_statistics,
    corpus_scores,
    paired_bootstrap_chrf,
    sentence_chrf,
    translation_verdict,
)


def damaged(texts: list[str], every: int = 3) -> list[str]:
    return [t[:-2] if i % every == 0 else t for i, t in enumerate(texts)]


def test_corpus_scores_equal_sacrebleu(date_pairs):
    refs = date_pairs[1][:500]
    hyps = damaged(refs)
    scores = corpus_scores(hyps, refs)
    assert scores["chrf"] == sacrebleu.corpus_chrf(hyps, [refs]).score
    assert scores["bleu"] == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert scores["exact_match"] == np.mean([h == r for h, r in zip(hyps, refs, strict=True)])
    assert "nc:6" in scores["signature"]["chrf"]


def test_chrf_from_statistics_matches_sacrebleu_on_subsets(date_pairs):
    refs = date_pairs[1][:400]
    hyps = damaged(refs) + [""]
    refs = refs + ["x"]
    stats = chrf_statistics(hyps, refs)
    rng = np.random.default_rng(0)
    for _ in range(5):
        idx = rng.choice(len(refs), 50)
        ours = float(chrf_from_statistics(stats[idx].sum(axis=0)))
        theirs = sacrebleu.corpus_chrf([hyps[i] for i in idx], [[refs[i] for i in idx]]).score
        assert abs(ours - theirs) < 1e-9
    per = sentence_chrf(hyps[:20], refs[:20])
    assert np.allclose(per, [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps[:20], refs[:20], strict=True)])


def test_paired_bootstrap(date_pairs):
    sources, refs = date_pairs[0][:300], date_pairs[1][:300]
    same = paired_bootstrap_chrf(refs, refs, refs, n_boot=200)
    assert same["difference"] == 0 and same["ci95_low"] == 0 and same["ci95_high"] == 0
    better = paired_bootstrap_chrf(refs, damaged(refs, 5), sources, n_boot=200, seed=1)
    assert better["ci95_low"] > 0 and better["ci95_low"] <= better["difference"] <= better["ci95_high"]
    assert abs(better["a"] - sacrebleu.corpus_chrf(damaged(refs, 5), [refs]).score) < 1e-9


def test_verdict_codes(date_pairs):
    sources, refs = date_pairs[0][:150], date_pairs[1][:150]
    retrieval = damaged(refs, 1)
    baselines = {"copy_source": sources, "retrieval": retrieval}
    assert translation_verdict(refs, refs, baselines, n_train=3000)["code"] == "deep_learning_helps"
    assert translation_verdict(refs, sources, baselines, n_train=3000)["code"] == "worse_than_chance"
    assert translation_verdict(refs, retrieval, baselines, n_train=3000)["code"] == "simpler_model_suffices"
    small = translation_verdict(refs, refs, baselines, n_train=100)
    assert small["code"] == "not_enough_data" and "100 training pairs" in small["message"]
    helps = translation_verdict(refs, refs, baselines, n_train=3000)
    assert helps["evidence"]["best_baseline"] == "retrieval" and "95 % interval" in helps["message"]
