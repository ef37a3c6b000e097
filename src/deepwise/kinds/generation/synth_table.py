"""Steps 1-6 for a synthetic table (``problem.task: generate`` on a table): read it, learn its columns (numbers,
categories, ranges, rounding, missing values), split the rows, train a table VAE, and measure its rows against the
honest baselines (independent marginals, a Gaussian copula) on the same real rows.

Quality of ``n`` synthetic rows (as many as the training rows), every generator scored the same way:
- ``real_vs_synthetic_auc``: a gradient-boosting classifier telling training rows from synthetic ones
  (5-fold cross-validated ROC AUC; 0.5 = indistinguishable; lower is better; the verdict's metric);
- ``train_on_synthetic`` vs ``train_on_real``: gradient boosting trained on each, scored on the split's real rows
  (accuracy for a categorical target, R² for a numeric one), and their ``tstr_ratio``;
- privacy: ``closer_than_real_share`` (synthetic rows nearer a training row than 95 % of the split's real rows
  are: about 0.05 when nothing is copied) and ``exact_copies``.

Example:
    >>> data = prepare_table_generation(Config(problem={"target": "species", "task": "generate"},
    ...                                        data={"path": "penguins.csv"}))
    >>> data.x["train"].shape
    (224, 20)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.config import Config, TrainingConfig
from deepwise.data.tables import fingerprint, read_table
from deepwise.errors import ConfigError, DataError
from deepwise.guard import OODGuard
from deepwise.inspection import Finding, Findings
from deepwise.kinds.base import Problem
from deepwise.kinds.feeding import merged_splits
from deepwise.kinds.generation.copula import TableGenerator, fit_gaussian_copula, fit_independent_marginals
from deepwise.kinds.generation.quality import (
    distance_to_closest_record,
    real_vs_synthetic_auc,
    train_synthetic_test_real,
)
from deepwise.kinds.generation.synth_common import (
    IMAGINATION,
    GenerativeData,
    auc_standard_error,
    generation_verdict,
    generative_task,
    split_positions,
)
from deepwise.kinds.generation.table_schema import TableSchema, encode_rows, infer_schema

TABLE_GENERATION = generative_task(
    "generate_table",
    "real_vs_synthetic_auc",
    False,
    "real-vs-synthetic ROC AUC (a classifier telling training rows from generated ones, cross-validated; 0.5 = "
    "indistinguishable, lower is better), train-on-synthetic vs train-on-real (the target predicted on the split's "
    "real rows), distance to the closest training row (privacy)",
)
MODEL_TYPES = ("auto", "vae")
BASELINES = ("independent_marginals", "gaussian_copula")
MIN_ROWS = 20
#: training defaults when the config leaves them (epochs: its default; patience: automatic). The VAE's validation loss
#: is a sampled estimate, noisy epoch to epoch: on the penguins (seed 1) the automatic patience of 20 stopped at epoch
#: 118 with a real-vs-synthetic AUC of 0.80; waiting 50 epochs trained to epoch 307 and 0.66 (README)
TABLE_EPOCHS = 500
DEFAULT_EPOCHS = TrainingConfig.model_fields["epochs"].default
TABLE_PATIENCE = 50


def check_generation_config(config: Config) -> None:
    if config.model.type not in MODEL_TYPES:
        raise ConfigError(
            f"model.type '{config.model.type}' does not generate data.",
            expected="model.type: auto (a variational autoencoder; its size is set in the generation section)",
            fix="set model.type: auto and size the VAE with generation.latent_dim and generation.hidden_units.",
        )
    if config.training.distribution != "none":
        raise ConfigError(
            "training.distribution: data_parallel is not available for generative runs yet.",
            expected="training.distribution: none",
            fix="train on one process.",
        )


@dataclass
class TableGenerationProblem(Problem):
    schema: TableSchema | None = None

    @property
    def output(self) -> str:
        return "generate_table"

    @property
    def inputs(self) -> list[str]:
        return self.schema.names if self.schema else []

    def describe_inputs(self) -> list[str]:
        kinds = [c.kind for c in self.schema.columns]
        lines = [
            f"Columns generated: {len(kinds)} ({kinds.count('numeric')} numeric, {kinds.count('categorical')} "
            "categorical), each within its seen range or categories, rounded like the data, missing as often."
        ]
        lines.extend(f"Not generated: '{d['column']}': {d['reason']}." for d in self.schema.left_out)
        return lines

    def explain(self) -> list[str]:
        g = self.config.generation
        return [
            f"Task: generate rows. {self.task_reason}",
            *self.describe_inputs(),
            f"Network: a table VAE (encoder {list(g.hidden_units)} -> {g.latent_dim}-number code -> decoder), "
            "Gaussian numbers with a learned spread per column, softmax categories.",
            f"Loss: {TABLE_GENERATION.why_loss}.",
            f"Metrics: {TABLE_GENERATION.why_metrics}. Baselines: independent marginals (each column on its own) and "
            "a Gaussian copula (the columns' rank correlations kept).",
            f"Warning: {IMAGINATION}",
            *self.notes,
        ]


@dataclass
class TableGenerationPreprocessor:
    """preprocessing.json of a synthetic-table run: the columns' schema, the VAE's size, the baselines' state."""

    schema: TableSchema
    target: str
    network: dict[str, Any]
    generators: dict[str, Any] = field(default_factory=dict)
    classes_: list[Any] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    @property
    def width(self) -> int:
        return int(encode_rows(pd.DataFrame({c: [] for c in self.schema.names}), self.schema).shape[1])

    def input_specs(self) -> dict[str, dict[str, Any]]:
        return {"rows": {"shape": [None, self.width], "dtype": "float32"}}

    def generator(self, method: str) -> TableGenerator:
        return TableGenerator.from_json(self.generators[method])

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": "deepwise.generate_table/1",
                "schema": self.schema.to_json(),
                "target": self.target,
                "network": self.network,
                "generators": self.generators,
            },
            indent=1,
        )

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TableGenerationPreprocessor:
        return cls(TableSchema.from_json(state["schema"]), state["target"], state["network"], state["generators"])


def formulate_table_generation(config: Config) -> TableGenerationProblem:
    config = config.model_copy(deep=True)
    check_generation_config(config)
    frame = read_table(config.data.path)
    target = config.problem.target
    if target not in frame.columns:
        raise DataError(
            f"The column '{target}' (problem.target) is not in {Path(config.data.path).name}; a generative run uses "
            "it to check that a model trained on synthetic rows predicts it on real rows.",
            expected="one of: " + ", ".join(map(str, frame.columns[:30])),
            fix="pass --target with one of those columns (the generated table has every column, the target too).",
        )
    if len(frame) < MIN_ROWS:
        raise DataError(
            f"{Path(config.data.path).name} has {len(frame)} rows: too few to split and to learn from.",
            expected=f"at least {MIN_ROWS} rows (hundreds for a network)",
            fix="add rows.",
        )
    config.model.type = "vae"
    config.data.split.test = config.data.split.test_fraction(False)
    config.data.inputs = [str(c) for c in frame.columns]
    training = config.training
    if training.epochs == DEFAULT_EPOCHS:  # left at the config's default (a dump of a config sets every field)
        training.epochs = TABLE_EPOCHS
    if training.early_stopping.patience is None:
        training.early_stopping.patience = TABLE_PATIENCE
    reason = (
        "Rule: problem.task is 'generate' and data.path is a table, so deepwise learns to generate new rows like "
        f"its rows; '{target}' is the column the train-on-synthetic check predicts."
    )
    return TableGenerationProblem(config, frame, reason)


def prepare_table_generation(config: Config) -> TableGenerationData:
    problem = formulate_table_generation(config)
    cfg, frame = problem.config, problem.frame
    split = cfg.data.split
    three = split_positions(len(frame), cfg.seed, split.validation, split.test)
    if min(len(v) for v in three.values()) < 5:
        raise DataError(
            f"{Path(cfg.data.path).name} has {len(frame)} rows: too few for training, validation and test rows.",
            expected="hundreds of rows",
            fix="add rows.",
        )
    splits = merged_splits(three, cfg)
    train = frame.iloc[splits["train"]]
    schema = infer_schema(train)
    if cfg.problem.target not in schema.names:
        reason = next((d["reason"] for d in schema.left_out if d["column"] == cfg.problem.target), "")
        raise DataError(
            f"The target '{cfg.problem.target}' cannot be generated ({reason}).",
            expected="a numeric or categorical column with values",
            fix="pass another --target.",
        )
    problem.schema = schema
    g = cfg.generation
    network = {"latent_dim": g.latent_dim, "hidden_units": list(g.hidden_units), "beta": g.beta,
               "temperature": g.temperature or 1.0}  # fmt: skip
    generators = {
        "independent_marginals": fit_independent_marginals(train, schema).to_json(),
        "gaussian_copula": fit_gaussian_copula(train, schema, seed=cfg.seed).to_json(),
    }
    prep = TableGenerationPreprocessor(schema, cfg.problem.target, network, generators)
    x = {name: encode_rows(frame.iloc[index], schema).astype(np.float32) for name, index in splits.items()}
    y = {name: x[name] for name in splits}
    return TableGenerationData(problem, TABLE_GENERATION, prep, splits, y, fingerprint(cfg.data.path), x=x)


@dataclass
class TableGenerationData(GenerativeData):
    """A table's rows, encoded (standardised numbers, one-hot categories), split by row."""

    @property
    def schema(self) -> TableSchema:
        return self.prep.schema

    def rows(self, split: str) -> pd.DataFrame:
        return self.problem.frame.iloc[self.splits[split]]

    def build_network(self):
        from deepwise.kinds.generation.vae import build_table_vae, table_spans

        n = self.prep.network
        return build_table_vae(self.x["train"].shape[1], table_spans(self.schema), n["latent_dim"],
                               tuple(n["hidden_units"]), n["beta"], self.config.seed)  # fmt: skip

    def describe_network(self, model) -> str:
        n = self.prep.network
        return (f"table VAE: {self.x['train'].shape[1]} encoded columns -> {n['hidden_units']} -> a "
                f"{n['latent_dim']}-number code and back, {model.count_params():,} parameters")  # fmt: skip

    def n_samples(self) -> int:
        return len(self.splits["train"])

    def predict(self, model, split: str) -> pd.DataFrame:
        """Synthetic rows from the trained VAE (as many as the training rows; seeded: the same rows every time)."""
        from deepwise.kinds.generation.vae import TableVAE

        return TableVAE(model, self.schema).sample(self.n_samples(), seed=self.config.seed + 1,
                                                    temperature=self.temperature)  # fmt: skip

    def score(self, split: str, output: pd.DataFrame) -> dict[str, Any]:
        return table_quality(self.rows("train"), self.rows(split), output, self.schema, self.prep.target,
                             self.config.seed)  # fmt: skip

    def inspect(self) -> Findings:
        frame, schema = self.problem.frame, self.schema
        findings = [Finding("overview", "info", f"{len(frame):,} rows, {frame.shape[1]} columns; "
                            f"{len(schema.columns)} generated.", "")]  # fmt: skip
        for item in schema.left_out:
            findings.append(Finding("left_out", "info", f"'{item['column']}' is not generated: {item['reason']}.",
                                    "", columns=[item["column"]]))  # fmt: skip
        if len(frame) < 500:
            findings.append(Finding(
                "few_rows", "warning",
                f"Only {len(frame)} rows: a generator learns their distribution roughly, and the quality measures are "
                "noisy.", "Compare with the Gaussian copula in the report; prefer it when it is as good."))  # fmt: skip
        return Findings(findings)

    def baseline_inputs(self):
        return self.x["train"], self.x["train"], self.x["test"]

    def compare_with_baselines(self, test_output: pd.DataFrame, history: list[dict], best_epoch: int) -> dict:
        n = self.n_samples()
        baselines = {}
        for method in BASELINES:
            synthetic = self.prep.generator(method).sample(n, seed=self.config.seed + 1)
            baselines[method] = {**self.score("test", synthetic), "model": METHOD_WORDS[method], "fit_seconds": 0.0}
        network = self.score("test", test_output)
        found = generation_verdict(
            "real_vs_synthetic_auc",
            False,
            (network["real_vs_synthetic_auc"], auc_se(network)),
            {k: (v["real_vs_synthetic_auc"], auc_se(v)) for k, v in baselines.items()},
            n_train=len(self.splits["train"]),
            unit="rows",
            note=f"Train on synthetic rows, test on real ones: VAE {network['tstr_ratio']:.2f}x training on real rows, "
            + ", ".join(f"{k.replace('_', ' ')} {v['tstr_ratio']:.2f}x" for k, v in baselines.items()) + ".",
        )
        sample = test_output.head(10)
        self.extra.update({"warning": IMAGINATION, "samples": json.loads(sample.to_json(orient="records")),
                           "real": json.loads(self.rows("test").head(10)[self.schema.names].to_json(orient="records"))})
        return {"baselines": baselines, "verdict": found}

    def fit_guard(self, model, validation_output, test_output) -> tuple[OODGuard, float]:
        """k-nearest-neighbour distance on encoded rows: new rows unlike the training rows are flagged by
        ``deepwise predict`` (where the VAE's typicality score means least)."""
        rate = self.config.guard.false_alarm_rate
        guard = OODGuard(rate=rate, seed=self.config.seed).fit_arrays(self.x["train"], self.x["validation"])
        guard.calibration_["space"] = "encoded rows (standardised numbers, one-hot categories)"
        return guard, float(np.mean(guard.score_arrays(self.x["test"]) > 1.0))


METHOD_WORDS = {
    "independent_marginals": "independent marginals: each column drawn on its own from its seen distribution",
    "gaussian_copula": "Gaussian copula: each column's own distribution, tied by the normal scores' correlations",
}


def auc_se(scores: dict[str, Any]) -> float:
    n = int(scores["rows_compared"])
    return auc_standard_error(float(scores["real_vs_synthetic_auc"]), n, n)


def table_quality(
    train: pd.DataFrame, real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema, target: str, seed: int
) -> dict[str, Any]:
    """Every quality measure of synthetic rows (see the module docstring); ``real``: the held-out real rows.

    Example:
        >>> table_quality(train, test, copula_rows, schema, "species", 0)["real_vs_synthetic_auc"]
        0.89
    """
    auc = real_vs_synthetic_auc(train, synthetic, schema, seed=seed)
    tstr = train_synthetic_test_real(train, real, synthetic, target, schema, seed=seed)
    privacy = distance_to_closest_record(synthetic, train, real, schema)
    return {
        "real_vs_synthetic_auc": auc["auc"],
        "tstr_ratio": tstr["ratio"],
        "train_on_synthetic": tstr["train_on_synthetic"],
        "train_on_real": tstr["train_on_real"],
        "tstr_metric": tstr["metric"],
        "closer_than_real_share": privacy["share_closer_than_real"],
        "exact_copies": privacy["exact_copies"],
        "synthetic_closest_median": privacy["synthetic_median"],
        "real_closest_median": privacy["real_heldout_median"],
        "rows_compared": auc["rows_each"],
        "synthetic_rows": int(len(synthetic)),
        "n": int(len(real)),
    }
