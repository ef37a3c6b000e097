"""The verdict: does the network help? The network against every baseline on the same test rows, with the noise of
the test set measured by a paired bootstrap, so that a difference inside that noise is never sold as a win.

The verdicts, in order of precedence (the first that applies is the verdict):

1. ``looks_like_a_computation``: a closed formula of the inputs (found by :mod:`deepwise.formula` on the training
   rows) or a simple model reproduces the target almost exactly; compute it instead.
2. ``not_enough_data``: too few training rows (or rows of a class) for a network to be trusted, or a network that
   overfits a small training set without beating the simple models.
3. ``deep_learning_helps``: the network beats the best simple model beyond the noise.
4. ``simpler_model_suffices``: a simple model is as good (within the noise) or better (beyond it), and it learned
   something (it beats the dummy beyond the noise): use it. This holds also when the network's own lead over the
   dummy is inside the noise, and when only the network beats the dummy beyond the noise while a simple model is
   as good as the network within it.
5. ``worse_than_chance``: neither the network nor any simple model beats the dummy that ignores the inputs.

Example:
    >>> found = verdict("binary", y_test, network_output, {"dummy": d, "linear": l}, n_train=400)
    >>> found["code"]
    'simpler_model_suffices'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.evaluation.metrics import class_probabilities, row_metric

VERDICTS = (
    "deep_learning_helps",
    "simpler_model_suffices",
    "looks_like_a_computation",
    "not_enough_data",
    "worse_than_chance",
)
MIN_TRAIN_ROWS = 100
COMPUTATION_R2 = 0.999
BOOTSTRAP_CELLS = 200_000_000  # resampled rows in all; beyond it fewer resamples (at least 200)
LABELS = {
    "dummy": "the dummy baseline",
    "linear": "the linear model",
    "gradient_boosting": "gradient boosting",
    "persistence": "persistence",
    "seasonal_persistence": "seasonal persistence",
    "formula": "the formula",
}


def paired_differences(task: str, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[str, np.ndarray]:
    """Per-row differences whose mean is metric(a) - metric(b) on the test rows: ``(metric, differences)``.

    Accuracy: right(a) - right(b) per row. R²: the per-row difference of squared errors, b's minus a's, divided by
    the variance of all the test targets (fixed, not resampled), whose mean is exactly R²(a) - R²(b). Resampling
    these per-row differences is the paired test of the two models on the same rows; it does not resample the
    denominator of R², whose noise is the same for both models.
    """
    y = np.asarray(y)
    if task == "regression":
        truth = y.astype(np.float64).reshape(-1)
        err_a = (truth - np.asarray(a, dtype=np.float64).reshape(-1)) ** 2
        err_b = (truth - np.asarray(b, dtype=np.float64).reshape(-1)) ** 2
        variance = float(truth.var())
        return "r2", (err_b - err_a) / variance if variance > 0 else np.zeros(len(truth))
    truth = y.astype(int).reshape(-1)
    right_a = class_probabilities(task, a).argmax(axis=1) == truth
    right_b = class_probabilities(task, b).argmax(axis=1) == truth
    return "accuracy", right_a.astype(np.float64) - right_b.astype(np.float64)


def paired_bootstrap(
    task: str, y: np.ndarray, a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Difference metric(a) - metric(b) on the same test rows, with a 95 % interval from resampling those rows.

    Accuracy: each resample is drawn as multinomial counts of the rows where a alone, b alone, or both/neither are
    right (the same distribution as resampling rows, in constant time per resample, for any number of rows).
    R²: resampled means of the per-row differences of :func:`paired_differences`; on millions of rows fewer
    resamples (``resamples`` in the result says how many).
    """
    _, d = paired_differences(task, y, a, b)
    n = len(d)
    rng = np.random.default_rng(seed)
    if task != "regression":
        p = np.array([np.mean(d == -1), np.mean(d == 0), np.mean(d == 1)])
        diffs = rng.multinomial(n, p / p.sum(), size=n_boot) @ np.array([-1.0, 0.0, 1.0]) / n
    else:
        n_boot = max(200, min(n_boot, BOOTSTRAP_CELLS // max(n, 1)))
        block = max(1, 2_000_000 // max(n, 1))  # resamples drawn together, a few MB at a time
        diffs = np.concatenate(
            [d[rng.integers(0, n, (min(block, n_boot - i), n))].mean(axis=1) for i in range(0, n_boot, block)]
        )
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"difference": float(d.mean()), "ci95_low": float(lo), "ci95_high": float(hi), "resamples": n_boot}


def _noise(diff: dict[str, float], n_test: int) -> str:
    return (
        f"(95 % interval of the difference from {diff['resamples']:,} bootstrap resamples of the {n_test:,} test rows: "
        f"{diff['ci95_low']:+.3f} to {diff['ci95_high']:+.3f})"
    )


def _overfitting(gap: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether training and validation scores at the best epoch are far apart, and the words for it."""
    if gap is None:
        return False, ""
    if gap["metric"] == "accuracy":
        return gap["train"] - gap["validation"] > 0.1, (
            f", and training accuracy {gap['train']:.2f} vs validation {gap['validation']:.2f}"
        )
    return gap["validation"] > 1.5 * gap["train"], (
        f", and validation RMSE {gap['validation']:.3g} vs training {gap['train']:.3g}"
    )


def _persistence_note(metric: str, network: float, naive: float | None, diff: dict[str, float] | None) -> str:
    """For a forecast: how the network compares with 'the next value equals the last one'."""
    if diff is None or naive is None:
        return ""
    what = f"the naive forecast 'the next value equals the last one' ({metric} {naive:.3f}"
    if diff["ci95_high"] < 0:
        return f" The network is WORSE than {what} vs {network:.3f}): do not use it."
    if diff["ci95_low"] > 0:
        return f" It beats {what}) beyond the noise."
    return f" It does no better than {what}) within the noise."


def verdict(
    task: str,
    y_test: np.ndarray,
    network_output: np.ndarray,
    baseline_outputs: dict[str, np.ndarray],
    n_train: int,
    min_class_train_rows: int | None = None,
    generalization_gap: dict[str, Any] | None = None,
    seed: int = 0,
    formula: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Does the network help? Compares it with every baseline on the same test rows, with bootstrap noise.

    ``baseline_outputs`` must include ``dummy`` (it ignores the inputs). ``generalization_gap``: {"metric", "train",
    "validation"} at the best epoch (overfitting evidence). ``formula``: what the formula finder found on the
    training rows (:meth:`deepwise.formula.FormulaResult.to_dict`), when it found one.

    Returns ``{"code", "message", "evidence"}``; ``code`` is one of :data:`VERDICTS` (precedence: module docstring).
    """
    metric, f_net = row_metric(task, y_test, network_output)
    every = np.arange(len(y_test))
    scores = {name: row_metric(task, y_test, out)[1](every) for name, out in baseline_outputs.items()}
    simple = {k: v for k, v in scores.items() if k != "dummy"}
    best = max(simple, key=simple.get)

    def vs(a: np.ndarray, b: str) -> dict[str, float]:
        return paired_bootstrap(task, y_test, a, baseline_outputs[b], seed=seed)

    evidence = {
        "metric": metric,
        "network": f_net(every),
        "baselines": scores,
        "best_baseline": best,
        "network_minus_best_baseline": vs(network_output, best),
        "network_minus_dummy": vs(network_output, "dummy"),
        "best_baseline_minus_dummy": vs(baseline_outputs[best], "dummy"),
        "n_test": int(len(y_test)),
        "n_train": int(n_train),
        "min_class_train_rows": min_class_train_rows,
        "bootstrap": "1,000 resamples of the test rows; each resample scores both models on the same rows"
        + (" (R²: per-row differences of squared errors over the test variance)" if metric == "r2" else ""),
        "generalization_gap": generalization_gap,
        **({"network_minus_persistence": vs(network_output, "persistence")} if "persistence" in scores else {}),
        **({"formula": formula} if formula else {}),
    }
    code, message = _decide(evidence)
    naive = evidence.get("network_minus_persistence")
    note = _persistence_note(metric, evidence["network"], scores.get("persistence"), naive)
    return {"code": code, "message": message + note, "evidence": evidence}


def _decide(ev: dict[str, Any]) -> tuple[str, str]:
    """The verdict and its message from the evidence, in the order of precedence of the module docstring."""
    metric, network, best = ev["metric"], ev["network"], ev["best_baseline"]
    best_score, dummy = ev["baselines"][best], ev["baselines"]["dummy"]
    vs_best, vs_dummy = ev["network_minus_best_baseline"], ev["network_minus_dummy"]
    best_label, net_text, n_train = LABELS.get(best, best), f"{metric} {network:.3f}", ev["n_train"]
    formula = ev.get("formula")
    if formula:
        return "looks_like_a_computation", (
            f"The target looks like a computation of the inputs: {formula['formula']} ({formula['metric']} "
            f"{formula['held_out_score']:.4f} on training rows the search did not use). Deep learning is a wasteful "
            f"and approximate way to compute it (the network scored {net_text}): check whether this formula is how "
            "the target was made, and compute it instead. If the target should not be computable from the inputs, "
            "one of them may be derived from it (a leak)."
        )
    if metric == "r2" and best_score >= COMPUTATION_R2:
        return "looks_like_a_computation", (
            f"{best_label.capitalize()} predicts the target almost exactly (R² {best_score:.4f}): the target looks "
            "like a fixed computation of the inputs (a sum, a ratio, a formula). Deep learning is a wasteful and "
            "approximate way to compute it; find the formula or use the simple model."
        )
    overfit, gap_text = _overfitting(ev["generalization_gap"])
    learns = vs_dummy["ci95_low"] > 0
    smallest = ev["min_class_train_rows"]
    small = n_train < MIN_TRAIN_ROWS or (smallest is not None and smallest < 10)
    if small or (learns and n_train < 500 and overfit and vs_best["ci95_low"] <= 0):
        return "not_enough_data", (
            f"Not enough data for a network to learn reliably: only {n_train} training rows"
            + (f" (the smallest class has {smallest})" if smallest is not None else "")
            + (gap_text if overfit else "")
            + f". The network scored {net_text}, {best_label} {best_score:.3f}; with this little data the scores "
            "are noisy and simple models are the safer choice. Collect more rows before trusting a network here."
        )
    if vs_best["ci95_low"] > 0:
        return "deep_learning_helps", (
            f"The network ({net_text}) beats the best simple model, {best_label} ({best_score:.3f}), by "
            f"{vs_best['difference']:+.3f}, more than the test-set noise {_noise(vs_best, ev['n_test'])}."
        )
    if ev["best_baseline_minus_dummy"]["ci95_low"] > 0:
        better = vs_best["ci95_high"] < 0
        network_note = (
            ""
            if learns
            else f" The network's lead over the dummy baseline ({dummy:.3f}) is itself inside the noise "
            f"({vs_dummy['ci95_low']:+.3f} to {vs_dummy['ci95_high']:+.3f})."
        )
        return "simpler_model_suffices", (
            f"{best_label.capitalize()} scores {metric} {best_score:.3f} against the network's {network:.3f}: "
            + ("the simple model is better beyond the test-set noise " if better else "as good within the noise ")
            + f"{_noise(vs_best, ev['n_test'])}. Use {best_label} unless you need something only the network gives."
            + network_note
        )
    if learns:  # the network beats the dummy beyond the noise, no simple model does, and none is beaten by it
        return "simpler_model_suffices", (
            f"The network ({net_text}) beats the dummy baseline that ignores the inputs ({dummy:.3f}) by more than "
            f"the test-set noise ({vs_dummy['ci95_low']:+.3f} to {vs_dummy['ci95_high']:+.3f}), but not "
            f"{best_label} ({best_score:.3f}): as good within the noise {_noise(vs_best, ev['n_test'])}. The inputs "
            f"carry little information about the target; use {best_label} unless you need something only the "
            "network gives."
        )
    return "worse_than_chance", (
        f"Neither the network ({net_text}) nor any simple model (best: {best_label}, {best_score:.3f}) beats the "
        f"dummy baseline that ignores the inputs ({dummy:.3f}) by more than the test-set noise (network minus dummy: "
        f"{vs_dummy['ci95_low']:+.3f} to {vs_dummy['ci95_high']:+.3f}). The inputs may not carry information about "
        "the target."
    )
