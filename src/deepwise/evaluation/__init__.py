"""Measuring honestly: metrics (:mod:`.metrics`), baselines (:mod:`.baselines`), the verdict (:mod:`.verdict`) and
permutation importance (:mod:`.importance`); the same for the network and every baseline."""

from deepwise.evaluation import conformal
from deepwise.evaluation.baselines import BASELINE_NAMES, baseline_models, fit_baselines, model_output
from deepwise.evaluation.importance import grouped_permutation_importance, permutation_importance
from deepwise.evaluation.metrics import (
    LOWER_IS_BETTER,
    class_probabilities,
    headline,
    headline_scores,
    row_metric,
    score,
)
from deepwise.evaluation.verdict import VERDICTS, paired_bootstrap, paired_differences, verdict

__all__ = [
    "BASELINE_NAMES",
    "LOWER_IS_BETTER",
    "VERDICTS",
    "baseline_models",
    "class_probabilities",
    "conformal",
    "fit_baselines",
    "grouped_permutation_importance",
    "headline",
    "headline_scores",
    "model_output",
    "paired_bootstrap",
    "paired_differences",
    "permutation_importance",
    "row_metric",
    "score",
    "verdict",
]
