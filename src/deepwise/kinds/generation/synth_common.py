"""What the two generative kinds (images from nothing, synthetic tables) share: the lesson's warning, the Prepared
base that feeds a VAE to Keras' own ``fit`` (the model's ``compute_loss`` is the loss), the verdict of a generator
against simple generators, and the split.

Example:
    >>> generation_verdict("real_vs_synthetic_auc", False, (0.62, 0.02), {"gaussian_copula": (0.89, 0.02)}, 250)
    {'code': 'deep_learning_helps', ...}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepwise.kinds.base import Prepared
from deepwise.tasks import TaskSpec

#: the lesson's warning, measured in every generative run's report and written into every generated file's mark
IMAGINATION = (
    "A statistical imagination, not data: every generated image or row is what the model learned that data like the "
    "training data usually looks like. It is no measurement of anything, it can look right and be wrong, and it "
    "may copy training examples (the memorisation check measures how close it comes)."
)
MIN_TRAIN = 100  # fewer training examples: the verdict is not_enough_data


def generative_task(name: str, main_metric: str, greater_is_better: bool, why_metrics: str) -> TaskSpec:
    """The TaskSpec of a generative kind: no output layer of the task's, no compiled loss (the VAE adds its own)."""
    return TaskSpec(
        name=name,
        activation="linear",
        loss="vae",
        keras_metrics=(),
        main_metric=main_metric,
        greater_is_better=greater_is_better,
        why_output="the decoder's output for a latent code (a VAE: encoder -> code distribution -> decoder)",
        why_loss="the negative evidence lower bound: reconstruction error + beta x KL divergence of the code "
        "distribution from a standard normal (the model's own compute_loss)",
        why_metrics=why_metrics,
    )


def split_positions(n: int, seed: int, validation: float, test: float) -> dict[str, np.ndarray]:
    """Positions of the train, validation and test examples (a seeded permutation).

    Example:
        >>> {k: len(v) for k, v in split_positions(100, 0, 0.15, 0.2).items()}
        {'train': 65, 'validation': 15, 'test': 20}
    """
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = int(round(test * n)), int(round(validation * n))
    return {
        "train": np.sort(order[n_test + n_val :]),
        "validation": np.sort(order[n_test : n_test + n_val]),
        "test": np.sort(order[:n_test]),
    }


@dataclass
class GenerativeData(Prepared):
    """A VAE's data: ``x`` per split, float32 arrays (encoded rows or images in [0, 1]); the VAE reconstructs them."""

    x: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def loss(self) -> Any:
        return None  # the VAE's compute_loss: reconstruction + beta * KL

    def keras_metrics(self) -> list:
        return []

    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        model.fit(
            self.x["train"],
            self.x["train"],
            validation_data=(self.x["validation"], self.x["validation"]),
            batch_size=self.config.training.batch_size,
            shuffle=True,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=0,
        )

    def probe_batch(self, batch_size: int):
        return self.x["train"][:batch_size], self.x["train"][:batch_size]

    def generalization_gap(self, history: list[dict], best_epoch: int) -> dict[str, Any] | None:
        return None

    def uncertainty(self, validation_output, test_output) -> dict[str, Any] | None:
        return None  # no conformal sets: a generated example has no truth to cover

    def inspected_columns(self) -> list[str]:
        return []

    @property
    def temperature(self) -> float:
        return float(self.prep.network["temperature"])

    def metrics_extra(self) -> dict[str, Any]:
        return {"generation": self.extra} if self.extra else {}


def auc_standard_error(auc: float, n1: int, n2: int) -> float:
    """Hanley & McNeil (1982): the standard error of a ROC AUC from n1 positives and n2 negatives.

    Example:
        >>> round(auc_standard_error(0.5, 250, 250), 4)
        0.0258
    """
    auc = min(max(auc, 1e-6), 1 - 1e-6)
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n2 - 1) * (q2 - auc**2)) / (n1 * n2)
    return math.sqrt(max(var, 0.0))


def share_standard_error(share: float, n: int) -> float:
    """The standard error of a proportion measured on ``n`` examples."""
    return math.sqrt(max(share * (1 - share), 1e-12) / max(n, 1))


def generation_verdict(
    metric: str,
    greater_is_better: bool,
    network: tuple[float, float],
    baselines: dict[str, tuple[float, float]],
    n_train: int,
    unit: str = "examples",
    note: str = "",
) -> dict[str, Any]:
    """Does the VAE generate better than the simple generators? ``network`` and each baseline: (value, standard
    error) of ``metric``; the difference counts when it exceeds 1.96 standard errors of the difference (95 %).

    Example:
        >>> generation_verdict("confident_share", True, (0.9, 0.01), {"pca_gaussian": (0.5, 0.02)}, 3500)["code"]
        'deep_learning_helps'
    """
    sign = 1.0 if greater_is_better else -1.0
    best = max(baselines, key=lambda k: sign * baselines[k][0])
    value, se = network
    b_value, b_se = baselines[best]
    lead = sign * (value - b_value)
    margin = 1.96 * math.sqrt(se**2 + b_se**2)
    evidence = {
        "metric": metric,
        "greater_is_better": greater_is_better,
        "network": value,
        "network_se": se,
        "baselines": {k: v[0] for k, v in baselines.items()},
        "best_baseline": best,
        "network_lead": lead,
        "ci95_low": lead - margin,
        "ci95_high": lead + margin,
        "n_train": int(n_train),
        "noise": "normal approximation: 1.96 standard errors of the difference (AUC: Hanley & McNeil; shares: "
        "binomial)",
    }
    words = f"{metric.replace('_', ' ')}: VAE {value:.3f}, {best.replace('_', ' ')} {b_value:.3f}"
    interval = f"(the VAE's lead {lead:+.3f}, 95 % interval {lead - margin:+.3f} to {lead + margin:+.3f})"

    def result(code: str, message: str) -> dict[str, Any]:
        return {"code": code, "message": (message + (" " + note if note else "")).strip(), "evidence": evidence}

    if n_train < MIN_TRAIN:
        return result(
            "not_enough_data",
            f"Only {n_train} training {unit}: too few for a generative network to learn their distribution; {words}.",
        )
    if lead - margin > 0:
        better = f"The VAE generates better than the simple generators: {words} {interval}."
        return result("deep_learning_helps", better)
    return result(
        "simpler_model_suffices",
        f"A simple generator is as good or better: {words} {interval}. Use {best.replace('_', ' ')}: it is faster, "
        "explainable and needs no training.",
    )
