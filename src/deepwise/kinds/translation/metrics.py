"""Scoring translations: chrF and BLEU (sacrebleu, its default settings), exact match, per-sentence chrF, and the
paired bootstrap of corpus chrF that decides the verdict.

chrF compares character n-grams (1 to 6) of output and reference, an F-score weighting recall twice as much as
precision; it credits a nearly right word ("févr" for "févr."), suits short texts and morphologically rich
languages, and is the verdict's metric. BLEU (word 1- to 4-grams with a brevity penalty) is reported because
everyone knows it, but on short sentences a single wrong word sinks it. Corpus chrF is not the mean of sentence
chrF: it sums n-gram counts over the corpus first. The bootstrap keeps that: each resample sums the per-sentence
counts of the drawn sentences, for both systems on the same draw.

Example:
    >>> corpus_scores(["mardi 5 mars 2024"], ["mardi 5 mars 2024"])["chrf"]
    100.0
    >>> paired_bootstrap_chrf(refs, network, retrieval)["ci95_low"]
"""

from __future__ import annotations

from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 1000
MIN_TRAIN_PAIRS = 500  # fewer training pairs: the verdict is not_enough_data


def _chrf():
    from sacrebleu.metrics import CHRF

    return CHRF()


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, Any]:
    """Corpus chrF and BLEU (0-100, sacrebleu defaults), exact match (share of identical outputs) and counts.

    Example:
        >>> corpus_scores(["15 févr. 2070"], ["15 févr. 2070"])
        {'chrf': 100.0, 'bleu': 100.00000000000004, 'exact_match': 1.0, 'n': 1, ...}
    """
    from sacrebleu.metrics import BLEU, CHRF

    _check(hypotheses, references)
    chrf_metric, bleu_metric = CHRF(), BLEU()
    chrf = chrf_metric.corpus_score(hypotheses, [references])
    bleu = bleu_metric.corpus_score(hypotheses, [references])
    return {
        "chrf": float(chrf.score),
        "bleu": float(bleu.score),
        "exact_match": float(np.mean([h == r for h, r in zip(hypotheses, references, strict=True)])),
        "n": len(references),
        "signature": {"chrf": str(chrf_metric.get_signature()), "bleu": str(bleu_metric.get_signature())},
    }


def _check(hypotheses: list[str], references: list[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} outputs for {len(references)} references: they must pair up.")
    if not references:
        raise ValueError("Scoring needs at least one reference.")


def chrf_statistics(hypotheses: list[str], references: list[str]) -> np.ndarray:
    """sacrebleu's per-sentence chrF counts, ``[n, 3 * 6]``: (output n-grams, reference n-grams, matches) per order."""
    _check(hypotheses, references)
    return np.asarray(_chrf()._extract_corpus_statistics(hypotheses, [references]), dtype=np.float64)


def chrf_from_statistics(stats: np.ndarray, beta: float = 2.0) -> np.ndarray:
    """chrF (0-100) from counts summed over sentences: ``[..., 18]`` -> ``[...]``, sacrebleu's formula vectorized
    (precision and recall averaged over the orders that both sides have, then the F-beta score)."""
    stats = np.asarray(stats, dtype=np.float64)
    hyp, ref, match = stats[..., 0::3], stats[..., 1::3], stats[..., 2::3]
    valid = (hyp > 0) & (ref > 0)
    prec = np.where(valid, match / np.where(hyp > 0, hyp, 1), 0.0)
    rec = np.where(valid, match / np.where(ref > 0, ref, 1), 0.0)
    orders = valid.sum(axis=-1)
    avg_prec = np.where(orders > 0, prec.sum(axis=-1) / np.maximum(orders, 1), 0.0)
    avg_rec = np.where(orders > 0, rec.sum(axis=-1) / np.maximum(orders, 1), 0.0)
    factor = beta**2
    denom = factor * avg_prec + avg_rec
    return np.where(denom > 0, 100 * (1 + factor) * avg_prec * avg_rec / np.where(denom > 0, denom, 1), 0.0)


def sentence_chrf(hypotheses: list[str], references: list[str]) -> np.ndarray:
    """chrF of each sentence on its own (for the worst-translated examples in a report).

    Example:
        >>> sentence_chrf(["mardi"], ["mardi"])
        array([100.])
    """
    return chrf_from_statistics(chrf_statistics(hypotheses, references))


def paired_bootstrap_chrf(
    references: list[str],
    system_a: list[str],
    system_b: list[str],
    n_boot: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """Corpus chrF of ``system_a`` minus ``system_b`` on the same test pairs, with a 95 % interval from resampling
    the pairs (both systems scored on each resample).

    Example:
        >>> paired_bootstrap_chrf(refs, network_outputs, copy_source(sources))
        {'difference': 63.2, 'ci95_low': 62.1, 'ci95_high': 64.3, 'resamples': 1000, 'a': 89.0, 'b': 25.8}
    """
    stats_a, stats_b = chrf_statistics(system_a, references), chrf_statistics(system_b, references)
    n = len(references)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    block = max(1, 2_000_000 // max(n, 1))  # resamples drawn at once, as counts of each pair
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)  # [size, n]
        diffs[start : start + size] = chrf_from_statistics(counts @ stats_a) - chrf_from_statistics(counts @ stats_b)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    a, b = float(chrf_from_statistics(stats_a.sum(0))), float(chrf_from_statistics(stats_b.sum(0)))
    return {"difference": a - b, "ci95_low": float(lo), "ci95_high": float(hi), "resamples": n_boot, "a": a, "b": b}


def _headline(scores: dict[str, Any]) -> dict[str, float]:
    return {key: scores[key] for key in ("chrf", "bleu", "exact_match")}


LABELS = {"copy_source": "copying the source", "retrieval": "nearest-neighbour retrieval"}


def translation_verdict(
    references: list[str],
    network: list[str],
    baselines: dict[str, list[str]],
    n_train: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Does the network help? Its corpus chrF against every baseline's on the same test pairs, with bootstrap noise.

    ``baselines``: outputs by name, ``copy_source`` among them (the floor, as the dummy model is for tables).
    Codes: ``deep_learning_helps``, ``simpler_model_suffices``, ``not_enough_data``, ``worse_than_chance``. The
    evidence has the shape of :func:`deepwise.evaluation.verdict`'s (``network`` and ``baselines``: corpus chrF;
    ``network_minus_best_baseline``: the bootstrap interval), plus every score in ``scores``.

    Example:
        >>> translation_verdict(refs, net, {"copy_source": copy, "retrieval": nn}, n_train=3250)["code"]
        'deep_learning_helps'
    """
    net = corpus_scores(network, references)
    scores = {name: corpus_scores(out, references) for name, out in baselines.items()}
    best = max(scores, key=lambda k: scores[k]["chrf"])
    vs_best = paired_bootstrap_chrf(references, network, baselines[best], seed=seed)
    vs_copy = paired_bootstrap_chrf(references, network, baselines["copy_source"], seed=seed)
    evidence = {
        "metric": "chrf",
        "network": net["chrf"],
        "baselines": {name: value["chrf"] for name, value in scores.items()},
        "best_baseline": best,
        "network_minus_best_baseline": vs_best,
        "network_minus_copy_source": vs_copy,
        "n_test": len(references),
        "n_train": int(n_train),
        "scores": {"network": _headline(net), **{name: _headline(value) for name, value in scores.items()}},
        "bootstrap": f"{vs_best['resamples']} resamples of the test pairs, corpus chrF of both systems on each",
    }
    noise = (
        f"(95 % interval of the chrF difference from {vs_best['resamples']:,} bootstrap resamples of the "
        f"{len(references):,} test pairs: {vs_best['ci95_low']:+.1f} to {vs_best['ci95_high']:+.1f})"
    )
    label = LABELS.get(best, best)

    def result(code: str, message: str) -> dict[str, Any]:
        return {"code": code, "message": message, "evidence": evidence}

    chrf, base = net["chrf"], scores[best]["chrf"]
    if n_train < MIN_TRAIN_PAIRS:
        return result(
            "not_enough_data",
            f"Not enough data for a network to learn to translate: only {n_train:,} training pairs (at least "
            f"{MIN_TRAIN_PAIRS:,} are needed for short, regular texts; real sentences need tens of thousands). "
            f"The network scored chrF {chrf:.1f}, {label} {base:.1f}.",
        )
    if vs_copy["ci95_low"] <= 0:
        return result(
            "worse_than_chance",
            f"The network (chrF {chrf:.1f}) does not beat copying the source unchanged "
            f"({scores['copy_source']['chrf']:.1f}) beyond the test-set noise (95 % interval of the difference "
            f"{vs_copy['ci95_low']:+.1f} to {vs_copy['ci95_high']:+.1f}): it has not learned to translate.",
        )
    if vs_best["ci95_low"] > 0:
        return result(
            "deep_learning_helps",
            f"The network (chrF {chrf:.1f}, exact match {net['exact_match']:.1%}) beats the best simple method, "
            f"{label} (chrF {base:.1f}), by {vs_best['difference']:+.1f}, more than the test-set noise {noise}.",
        )
    worse = vs_best["ci95_high"] < 0
    return result(
        "simpler_model_suffices",
        f"{label.capitalize()} scores chrF {base:.1f} against the network's {chrf:.1f}: "
        + ("the simple method is better beyond the test-set noise " if worse else "as good within the noise ")
        + f"{noise}. Prefer it unless you need something only the network gives (sentences unlike any in "
        "the training data).",
    )
