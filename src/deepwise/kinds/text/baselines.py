"""Simple text baselines that a network must beat on the same test split.

- ``majority``: the most frequent training class (the mean for regression).
- ``tfidf_linear``: TF-IDF of words (1-2 grams) and of characters (2-5 grams within word boundaries, ``char_wb``:
  robust to spelling variants, inflections and unseen compounds), sublinear term frequencies, then logistic
  regression (classification) or ridge regression. Often very strong on topic-like tasks (BBC News: ~0.98).
- ``tfidf_table_linear``: the same text features joined with a table's numeric (median-imputed, standardized) and
  categorical (one-hot) columns, to measure what a mixed table's text adds.

All are scikit-learn pipelines fitted on the training split only; they are scored in the run, not saved (no pickle).
Fit them inside ``threadpoolctl.threadpool_limits(1)`` (as :func:`fit_text_baselines` does): BLAS threads make the
logistic regression 10x slower on a shared CPU.

Example:
    >>> baselines = fit_text_baselines(train_texts, y_train, task="multiclass")
    >>> accuracy = (baselines["tfidf_linear"].predict(test_texts) == y_test).mean()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

#: Vocabulary caps: enough for corpora of tens of thousands of documents, bounded memory for bigger ones.
MAX_WORD_FEATURES = 200_000
MAX_CHAR_FEATURES = 300_000
#: Characters of each document the TF-IDF features read (char n-grams of a 50 MB document would take minutes).
MAX_BASELINE_CHARS = 100_000


def _clip_texts(texts) -> list[str]:
    return [str(t)[:MAX_BASELINE_CHARS] for t in texts]


def tfidf_features(min_df: int = 2) -> FeatureUnion:
    """Word 1-2 gram + character 2-5 gram (``char_wb``) TF-IDF features, sublinear tf, documents L2-normalized.

    Example:
        >>> X = tfidf_features().fit_transform(train_texts)
    """
    word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=min_df, sublinear_tf=True,
                           max_features=MAX_WORD_FEATURES, dtype=np.float32)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=min_df, sublinear_tf=True,
                           max_features=MAX_CHAR_FEATURES, dtype=np.float32)
    return FeatureUnion([("word", word), ("char", char)])


def _linear(task: str, C: float = 10.0, alpha: float = 1.0):
    if task == "regression":
        return Ridge(alpha=alpha)
    return LogisticRegression(C=C, max_iter=2000)


def tfidf_linear(task: str = "multiclass", C: float = 10.0, alpha: float = 1.0, min_df: int = 2) -> Pipeline:
    """TF-IDF (words + characters) -> logistic regression (``C``) or ridge (``alpha``), unfitted.

    Example:
        >>> model = tfidf_linear("multiclass").fit(train_texts, y_train)
    """
    clip = FunctionTransformer(_clip_texts, validate=False)
    return make_pipeline(clip, tfidf_features(min_df), _linear(task, C, alpha))


def majority(task: str = "multiclass"):
    """The most frequent training class (``predict_proba``: the training class shares), or the training mean."""
    return DummyRegressor(strategy="mean") if task == "regression" else DummyClassifier(strategy="prior")


def fit_text_baselines(texts: Sequence[Any], y: np.ndarray, task: str = "multiclass") -> dict[str, Any]:
    """Fit ``majority`` and ``tfidf_linear`` on the training texts and targets; ``{name: fitted model}``.

    Example:
        >>> fitted = fit_text_baselines(train_texts, y_train, "multiclass")
        >>> fitted["tfidf_linear"].predict_proba(test_texts)
    """
    from threadpoolctl import threadpool_limits

    texts = list(texts)
    # one thread: BLAS threads on these small dense products only fight over a shared CPU (logistic regression on
    # BBC headlines: 2.6 s with one thread, 35 s with the default threads on a loaded 2-core machine)
    with threadpool_limits(1):
        return {
            "majority": majority(task).fit(np.zeros((len(texts), 1)), y),
            "tfidf_linear": tfidf_linear(task).fit(texts, y),
        }


def tfidf_table_linear(text_columns: Sequence[str], numeric_columns: Sequence[str] = (),
                       categorical_columns: Sequence[str] = (), task: str = "multiclass", C: float = 10.0,
                       alpha: float = 1.0) -> Pipeline:
    """A linear model over a mixed table: TF-IDF of each text column + numeric + one-hot categorical columns.

    With ``text_columns=()`` it is the table-only model, so the pair measures what the text adds.

    Example:
        >>> both = tfidf_table_linear(["review"], ["price"], ["brand"]).fit(train_frame, y_train)
    """
    parts: list[tuple[str, Any, Any]] = []
    for column in text_columns:
        clip = FunctionTransformer(_clip_texts, validate=False)
        parts.append((f"text_{column}", make_pipeline(clip, tfidf_features()), column))
    if numeric_columns:
        numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
        parts.append(("numeric", numeric, list(numeric_columns)))
    if categorical_columns:
        to_str = FunctionTransformer(lambda frame: pd.DataFrame(frame).astype(str), validate=False)
        categorical = make_pipeline(to_str, OneHotEncoder(handle_unknown="ignore", min_frequency=2))
        parts.append(("categorical", categorical, list(categorical_columns)))
    if not parts:
        raise ValueError("tfidf_table_linear needs at least one column")
    return make_pipeline(ColumnTransformer(parts), _linear(task, C, alpha))
