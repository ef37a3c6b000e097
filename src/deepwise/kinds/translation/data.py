"""Steps 1-6 for sentence pairs: read them (a table or two aligned files), split by source sentence, fit the
tokenizers on the training pairs, feed the network with teacher forcing, decode, score, compare with the baselines
and fit the guard.

Example:
    >>> data = prepare_translation(Config(problem={"target": "fr", "task": "translation"}, data={"path": "dates.csv"}))
    >>> data.arrays["train"]["source"].shape, data.split_sizes()
    ((3250, 30), {'train': 3250, 'validation': 750, 'test': 1000})
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.config import Config
from deepwise.data.tables import fingerprint as file_fingerprint
from deepwise.errors import ConfigError, DataError
from deepwise.guard import OODGuard
from deepwise.inspection import Findings
from deepwise.kinds.base import Prepared, Problem
from deepwise.kinds.feeding import merged_splits
from deepwise.kinds.translation.baselines import RetrievalBaseline, copy_source
from deepwise.kinds.translation.checks import pair_findings
from deepwise.kinds.translation.decode import translate
from deepwise.kinds.translation.detect import detection_reason
from deepwise.kinds.translation.fit import fit_teacher_forcing, token_accuracy, token_loss, whole_batches
from deepwise.kinds.translation.guard import TranslationGuard
from deepwise.kinds.translation.invented import InventionFlagger, invention_summary
from deepwise.kinds.translation.metrics import corpus_scores, sentence_chrf, translation_verdict
from deepwise.kinds.translation.models import Seq2Seq, Seq2SeqConfig, from_state, from_trained
from deepwise.kinds.translation.read import Pairs, read_aligned, read_pairs
from deepwise.kinds.translation.state import MAX_GUARD_SOURCES, TranslationPreprocessor
from deepwise.kinds.translation.tokenize import SPECIALS, PairTokenizer
from deepwise.tasks import TaskSpec

TRANSLATION = TaskSpec(
    name="translation",
    activation="linear",
    loss="sparse_categorical_crossentropy",
    keras_metrics=("token_accuracy",),
    main_metric="chrf",
    greater_is_better=True,
    why_output="one score (logit) per target token at every output position; a softmax turns them into the "
    "probabilities of the next token",
    why_loss="token cross-entropy with teacher forcing: the negative log-probability of each true next token when "
    "the decoder reads the true previous ones, padding weighted 0",
    why_metrics="chrF (character n-gram F-score, the verdict's metric: it credits nearly right words), BLEU (word "
    "n-grams) and exact match (outputs identical to the reference), on greedy or beam-search outputs; token "
    "accuracy per epoch",
)
#: translation trains at batch 64: per target token a step of the GRU costs less at 64 than at 32 on a CPU, and the
#: Babel dates reached chrF 94-95 at 64 (the leaf helper's measurement); 16-32 only add steps.
TRANSLATION_BATCH_SIZE = 64
#: early stopping waits 5 epochs: the validation loss of a seq2seq network falls smoothly, and the automatic 20
#: epochs (1,000 steps at 51 steps an epoch) would double the training time after the best epoch
TRANSLATION_PATIENCE = 5
DEFAULT_DROPOUT = 0.1


@dataclass
class TranslationProblem(Problem):
    """Sentence pairs and the choices made for them (the tokenizers and the network once :func:`prepare_translation`
    fitted them)."""

    pairs: Pairs | None = None
    tokenizer: PairTokenizer | None = None
    network: dict[str, Any] | None = None

    @property
    def output(self) -> str:
        return "translation"

    @property
    def inputs(self) -> list[str]:
        return [self.pairs.source_name] if self.pairs is not None else []

    def describe_inputs(self) -> list[str]:
        pairs = self.pairs
        lines = [
            f"Pairs: {len(pairs):,} from {pairs.origin}: source '{pairs.source_name}' -> target "
            f"'{self.config.problem.target}'; split by distinct source sentence, so the same sentence is never on "
            "two sides."
        ]
        if self.tokenizer is not None:
            tok = self.tokenizer
            lines.append(f"Tokens: {tok.why}. Start {SPECIALS[1]} and end {SPECIALS[2]} tokens mark each sentence.")
            lines.append(f"Source tokens: {tok.source.describe()}.")
            lines.append(f"Target tokens: {tok.target.describe()}.")
        return lines

    def explain(self) -> list[str]:
        """Plain-language lines on what was chosen and why."""
        task = TRANSLATION
        lines = [f"Task: translation. {self.task_reason}", *self.describe_inputs()]
        if self.network is not None:
            c = self.network["config"]
            network = (
                f"GRU encoder-decoder with {c['attention']} attention, {c['units']} units, "
                f"{c['embed_dim']}-dimensional embeddings"
                if c["architecture"] == "gru"
                else f"Transformer, {c['layers']} blocks each side, width {c['units']}, {c['heads']} heads"
            )
            lines.append(f"Network: {network}; dropout {c['dropout']:g}.")
        lines.append(f"Output layer: {task.why_output}.")
        lines.append(f"Loss: {task.why_loss}.")
        t = self.config.translation
        decoding = f"beam search ({t.beam} candidates)" if t.decoding == "beam" else "greedy (the likeliest token)"
        lines.append(f"Decoding: {decoding}, autoregressive (each token reads the network's own previous one).")
        lines.append(f"Metrics: {task.why_metrics}. Baselines: copy the source; nearest-neighbour retrieval.")
        return lines + self.notes


def _target_path(config: Config) -> Path | None:
    """translation.target_path, a relative one resolved against the source file's folder when the file is there."""
    raw = config.translation.target_path
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_absolute():
        beside = Path(config.data.path).parent / path
        path = beside if beside.exists() else path.resolve()
    return path


def _check_config(config: Config) -> None:
    model, t = config.model, config.translation
    if model.type not in ("auto", "gru") or (model.type == "gru" and t.architecture != "gru"):
        raise ConfigError(
            f"model.type '{model.type}' does not translate"
            + (f" with translation.architecture: {t.architecture}" if model.type == "gru" else "")
            + ".",
            expected="model.type: auto (the network is chosen by translation.architecture: gru or transformer)",
            fix="set model.type: auto and choose the network with translation.architecture.",
        )
    if config.training.distribution != "none":
        raise ConfigError(
            "training.distribution: data_parallel is not available for translation yet.",
            expected="training.distribution: none",
            fix="train on one process (a GRU translates short sentences in minutes on a CPU).",
        )


def read_config_pairs(config: Config) -> Pairs:
    """The sentence pairs a config names: two aligned files, or a table's source and target columns."""
    t = config.translation
    target_path = _target_path(config)
    if target_path is not None:
        return read_aligned(config.data.path, target_path, max_chars=t.max_chars)
    path = Path(config.data.path)
    if path.is_dir():
        raise DataError(
            f"'{path}' is a folder; translation reads sentence pairs from a table or two aligned text files.",
            expected="a CSV/TSV/Parquet table with a source and a target text column, or data.path (the source "
            "lines) with translation.target_path (the target lines)",
            fix="point data.path at the table, or at the source file and set translation.target_path.",
        )
    return read_pairs(path, target=config.problem.target, source=t.source, max_chars=t.max_chars)


def formulate_translation(config: Config) -> TranslationProblem:
    """Read the pairs and resolve the config: the task, the source column, the split, the training defaults."""
    config = config.model_copy(deep=True)
    _check_config(config)
    reason = detection_reason(config)
    pairs = read_config_pairs(config)
    target_path = _target_path(config)
    if target_path is not None:
        config.translation.target_path = str(target_path)
        pairs.source_name = Path(config.data.path).name
    else:
        config.translation.source = pairs.source_name
    config.problem.task = "translation"
    if config.translation.architecture == "gru":
        config.model.type = "gru"
    if config.model.dropout is None:
        config.model.dropout = DEFAULT_DROPOUT
    config.data.split.test = config.data.split.test_fraction(False)
    if config.training.early_stopping.patience is None:
        config.training.early_stopping.patience = TRANSLATION_PATIENCE
    frame = pd.DataFrame({"source": pairs.sources, "target": pairs.targets})
    return TranslationProblem(config, frame, reason, [], list(pairs.notes), pairs=pairs)


def split_pairs(
    sources: list[str], seed: int, fractions: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the train, validation and test pairs; pairs with the same source stay together.

    Example:
        >>> train_idx, val_idx, test_idx = split_pairs(pairs.sources, seed=0, fractions=(0.65, 0.15, 0.2))
    """
    distinct, group = np.unique(np.asarray(sources, dtype=object).astype(str), return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(distinct))
    cut1 = int(round(fractions[0] * len(distinct)))
    cut2 = int(round((fractions[0] + fractions[1]) * len(distinct)))
    side = np.empty(len(distinct), dtype=np.int8)
    side[order[:cut1]], side[order[cut1:cut2]], side[order[cut2:]] = 0, 1, 2
    where = side[group.reshape(-1)]
    return np.flatnonzero(where == 0), np.flatnonzero(where == 1), np.flatnonzero(where == 2)


def network_state(config: Config, tokenizer: PairTokenizer) -> dict[str, Any]:
    """The network's shape (Seq2Seq.state) from the config and the fitted tokenizers, checked."""
    t = config.translation
    model = Seq2SeqConfig(
        architecture=t.architecture,
        embed_dim=t.embed_dim,
        units=t.units,
        attention=t.attention,
        dropout=float(config.model.dropout if config.model.dropout is not None else DEFAULT_DROPOUT),
    ).resolved()
    model.check()
    return {
        "config": asdict(model),
        "source_len": int(tokenizer.source.max_len),
        "target_len": int(tokenizer.target.max_len),
        "source_vocab": int(tokenizer.source.vocab_size),
        "target_vocab": int(tokenizer.target.vocab_size),
    }


def _fingerprint(config: Config) -> str:
    """sha256 of the table; for aligned files, of both files' fingerprints."""
    target_path = _target_path(config)
    if target_path is None:
        return file_fingerprint(config.data.path)
    both = f"{file_fingerprint(config.data.path)}:{file_fingerprint(target_path)}"
    return hashlib.sha256(both.encode()).hexdigest()


def _three_splits(pairs: Pairs, config: Config) -> dict[str, np.ndarray]:
    split = config.data.split
    fractions = (1.0 - split.validation - split.test, split.validation, split.test)
    train, validation, test = split_pairs(pairs.sources, config.seed, fractions)
    if min(len(train), len(validation), len(test)) == 0:
        raise DataError(
            f"{pairs.origin} has {len(pairs):,} sentence pairs ({len(set(pairs.sources)):,} distinct sources): too "
            "few to split into training, validation and test pairs.",
            expected="hundreds of pairs at least (thousands for a network to learn to translate)",
            fix="add sentence pairs",
        )
    return {"train": train, "validation": validation, "test": test}


def prepare_translation(config: Config) -> TranslationData:
    """Read, split, tokenize (fitted on the training pairs only) and build the teacher-forcing arrays."""
    problem = formulate_translation(config)
    cfg, pairs = problem.config, problem.pairs
    three = _three_splits(pairs, cfg)
    splits = merged_splits(three, cfg)
    texts = {name: pairs.subset(index) for name, index in splits.items()}
    t = cfg.translation
    tokenizer = PairTokenizer.fit(texts["train"].sources, texts["train"].targets, t.tokenizer, t.vocab_size)
    arrays = {name: tokenizer.training_arrays(p.sources, p.targets) for name, p in texts.items()}
    problem.tokenizer, problem.network = tokenizer, network_state(cfg, tokenizer)
    guard_sources = [pairs.sources[i] for i in three["train"]]  # never the validation sources: they calibrate it
    if len(guard_sources) > MAX_GUARD_SOURCES:
        keep = np.sort(np.random.default_rng(cfg.seed).choice(len(guard_sources), MAX_GUARD_SOURCES, replace=False))
        guard_sources = [guard_sources[i] for i in keep]
    prep = TranslationPreprocessor(
        source_column=pairs.source_name,
        target_column=cfg.problem.target,
        tokenizer=tokenizer,
        network=problem.network,
        flagger=InventionFlagger.fit(texts["train"].sources, texts["train"].targets, seed=cfg.seed),
        guard_sources=guard_sources,
        decoding=t.decoding,
        beam=t.beam,
        max_chars=t.max_chars,
        target_path=t.target_path,
    )
    y = {name: a["decoder_target"] for name, a in arrays.items()}
    return TranslationData(problem, TRANSLATION, prep, splits, y, _fingerprint(cfg), texts=texts, arrays=arrays)


@dataclass
class TranslationData(Prepared):
    """Sentence pairs split by position: the texts, and the token arrays for teacher forcing, in memory."""

    texts: dict[str, Pairs] = field(default_factory=dict)
    arrays: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    networks: list = field(default_factory=list)  # (Keras model, its Seq2Seq), newest last

    default_batch_size = TRANSLATION_BATCH_SIZE

    # ---------------------------------------------------------------------------------------------- the network
    def loss(self):
        return token_loss()

    def keras_metrics(self) -> list:
        return [token_accuracy()]

    def build_network(self):
        s2s = from_state(self.prep.network, seed=self.config.seed)
        self._remember(s2s.training, s2s)
        return s2s.training

    def _remember(self, model, s2s) -> None:
        self.networks = [*self.networks[-1:], (model, s2s)]  # the two newest: training's, and a loaded run's

    def network_for(self, model) -> Seq2Seq:
        """The Seq2Seq (encoder and one-step decoder) of ``model``: the one built here, or one rebuilt around the
        weights of a model that was not (a loaded run's)."""
        for known, s2s in self.networks:
            if known is model:
                return s2s
        s2s = from_trained(self.prep.network, model)
        self._remember(model, s2s)
        return s2s

    def describe_network(self, model) -> str:
        return self.network_for(model).describe()

    # --------------------------------------------------------------------------------------------- feeding Keras
    def fit(self, model, callbacks: list, epochs: int, initial_epoch: int) -> None:
        fit_teacher_forcing(
            model,
            self.arrays["train"],
            self.arrays["validation"],
            batch_size=self.config.training.batch_size,
            callbacks=callbacks,
            epochs=epochs,
            initial_epoch=initial_epoch,
        )

    def predict(self, model, split: str) -> np.ndarray:
        """The network's translations of a split's sources (autoregressive decoding), as an array of text."""
        started = time.perf_counter()
        p = self.prep
        out = translate(self.network_for(model), p.tokenizer, self.texts[split].sources, p.decoding, p.beam)
        self.extra.setdefault("decode", {})[split] = {
            "sentences": len(out),
            "seconds": round(time.perf_counter() - started, 3),
            "decoding": p.decoding,
        }
        return np.asarray(out, dtype=object)

    def probe_batch(self, batch_size: int):
        """One whole batch, shaped as every training batch (so the probe compiles the step training reuses)."""
        x, y = whole_batches(self.arrays["train"], batch_size)
        return {name: value[:batch_size] for name, value in x.items()}, y[:batch_size]

    # --------------------------------------------------------------------------------------------- data checks
    def inspect(self) -> Findings:
        return pair_findings(self.problem.pairs, self.texts, self.prep.tokenizer, self.arrays)

    def inspected_columns(self) -> list[str]:
        return [self.prep.source_column, self.prep.target_column]

    # ------------------------------------------------------------------------------------------ after training
    def score(self, split: str, output: np.ndarray) -> dict[str, Any]:
        """chrF, BLEU and exact match of the outputs against the split's reference translations."""
        return corpus_scores([str(o) for o in output], self.texts[split].targets)

    def baseline_inputs(self) -> tuple[Any, np.ndarray, Any]:
        train = self.texts["train"]
        return train.sources, np.asarray(train.targets, dtype=object), self.texts["test"].sources

    def compare_with_baselines(self, test_output: np.ndarray, history: list[dict], best_epoch: int) -> dict:
        """Copy the source and nearest-neighbour retrieval on the same test pairs; the verdict from the paired
        bootstrap of corpus chrF; the invented content and the best and worst test translations."""
        train, test = self.texts["train"], self.texts["test"]
        started = time.perf_counter()
        retrieval = RetrievalBaseline().fit(train.sources, train.targets)
        retrieved = retrieval.predict(test.sources)
        outputs = {"copy_source": copy_source(test.sources), "retrieval": retrieved}
        seconds = {"copy_source": 0.0, "retrieval": time.perf_counter() - started}
        models = {
            "copy_source": "the source sentence, unchanged",
            "retrieval": "the training translation of the most similar training source (character n-gram TF-IDF)",
        }
        network = [str(o) for o in test_output]
        baselines = {
            name: {**corpus_scores(out, test.targets), "model": models[name], "fit_seconds": round(seconds[name], 3)}
            for name, out in outputs.items()
        }
        found = translation_verdict(test.targets, network, outputs, n_train=len(train), seed=self.config.seed)
        self.extra.update(self._test_extras(network, history))
        return {"baselines": baselines, "verdict": found}

    def _test_extras(self, network: list[str], history: list[dict]) -> dict[str, Any]:
        test, tok = self.texts["test"], self.prep.tokenizer
        per_sentence = sentence_chrf(network, test.targets)
        order = np.argsort(per_sentence, kind="stable")

        def examples(index) -> list[dict[str, Any]]:
            return [
                {"source": test.sources[i], "output": network[i], "reference": test.targets[i],
                 "chrf": round(float(per_sentence[i]), 2)}
                for i in index
            ]  # fmt: skip

        tokens = float(self.arrays["train"]["weights"].sum())
        epochs = [float(row["seconds"]) for row in history if row.get("seconds")]
        steady = epochs[1:] or epochs
        return {
            "source_column": self.prep.source_column,
            "target_column": self.prep.target_column,
            "tokenizer": {
                "why": tok.why,
                "source": tok.source.describe(),
                "target": tok.target.describe(),
                "truncated": {name: a["truncated"] for name, a in self.arrays.items()},
            },
            "network": self.networks[-1][1].describe() if self.networks else "",
            "training_speed": {
                "target_tokens_per_epoch": tokens,
                "tokens_per_s": round(tokens / float(np.median(steady)), 1) if steady else None,
                "note": "real target tokens of an epoch over its median time after the first epoch (which "
                "compiles), validation pass included",
            },
            "best": examples(order[::-1][:5]),
            "worst": examples(order[:5]),
            "invented": invention_summary(
                self.prep.flagger, test.sources, test.targets, network, seed=self.config.seed
            ),
        }

    def uncertainty(self, validation_output: np.ndarray, test_output: np.ndarray) -> dict[str, Any] | None:
        return None  # no conformal sets for sentences; the guard and the invented-content flags say when to doubt

    def fit_guard(self, model, validation_output: np.ndarray, test_output: np.ndarray) -> tuple[OODGuard, float]:
        """The TranslationGuard (unknown tokens, length, distance to the nearest training source), calibrated on the
        validation sources; saved in guard.npz as an OODGuard record whose calibration holds its state."""
        rate = self.config.guard.false_alarm_rate
        index = RetrievalBaseline().fit(self.prep.guard_sources, self.prep.guard_sources)
        validation = self.texts["validation"].sources
        guard = TranslationGuard.fit(self.prep.guard_sources, validation, self.prep.tokenizer.source, index, rate)
        test = guard.summary(self.texts["test"].sources)
        record = OODGuard(rate=rate, k=1, seed=self.config.seed)
        record.k_ = 1
        record.reference_ = np.zeros((0, 1), dtype=np.float32)
        record.threshold_ = guard.distance_threshold
        record.calibration_ = {
            "false_alarm_rate_target": rate,
            "threshold": guard.distance_threshold,
            "k": 1,
            "space": "character n-grams of the source sentence (TF-IDF, cosine distance to the nearest training "
            "source), unknown tokens and length",
            "reference_rows": len(self.prep.guard_sources),
            "calibration_rows": len(validation),
            "validation_flag_rate": guard.summary(validation)["rate"],
            "translation_guard": guard.to_json(),
        }
        self.extra["guard"] = test
        return record, test["rate"]

    def metrics_extra(self) -> dict[str, Any]:
        """metrics.json's ``translation``: tokenizers, speed, best and worst examples, invented content, guard."""
        return {"translation": self.extra} if self.extra else {}
