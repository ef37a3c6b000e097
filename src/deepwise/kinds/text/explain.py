"""Which words pushed a prediction: occlusion.

For one document, each distinct word is removed (every occurrence of it at once) and the document is predicted
again; a word's importance is how much the explained output falls without it: the predicted class's probability
(classification) or the predicted value (regression; a negative importance means the word pulled the value down).
All the occluded copies of a document go to the model in one call. It needs only a function from texts to outputs,
so it explains the network, a baseline or a pretrained encoder alike.

Example:
    >>> predict = lambda texts: predict_rows(model, {"tokens": tokenizer.transform(texts)})
    >>> occlusion_word_importance("Shares in the firm rose 5% after profits beat forecasts", predict)[:3]
    [('profits', 0.21), ('shares', 0.12), ('forecasts', 0.05)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 300  # distinct words occluded per document (the most frequent first): bounds the cost of a long one
MAX_CHARS = 20_000


def _occlude(text: str, word: str) -> str:
    return re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", " ", text, flags=re.IGNORECASE)


def _explained_output(outputs: Any, target: int | None, regression: bool) -> tuple[np.ndarray, int | None]:
    """The explained output of every variant (row 0 = the original) and the class it belongs to (None: a value)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim == 2 and outputs.shape[1] > 1:  # class probabilities
        chosen = int(np.argmax(outputs[0])) if target is None else int(target)
        return outputs[:, chosen], chosen
    flat = outputs.reshape(len(outputs))
    if regression:
        return flat, None
    chosen = int(flat[0] >= 0.5) if target is None else int(target)  # one sigmoid unit: P(second class)
    return (flat if chosen == 1 else 1.0 - flat), chosen


def occlusion_word_importance(text: str, predict: Callable[[list[str]], Any], target: int | None = None,
                              top: int = 10, max_words: int = MAX_WORDS, regression: bool = False,
                              max_chars: int = MAX_CHARS) -> list[tuple[str, float]]:
    """The ``top`` words of ``text`` whose removal lowers the explained output most, with that drop.

    ``predict`` maps a list of texts to outputs ``[n, classes]`` (probabilities) or ``[n]`` / ``[n, 1]`` (a value
    or a sigmoid's probability; ``regression=True``: a value). ``target`` picks the class to explain (default: the
    predicted one). Only the first ``max_chars`` characters are explained (a model reads only its first tokens).

    Example:
        >>> occlusion_word_importance(doc, predict, top=5)
        [('election', 0.31), ('labour', 0.22), ...]
    """
    text = text[:max_chars]
    words = [w.lower() for w in WORD.findall(text)]
    if not words:
        return []
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    vocabulary = sorted(counts, key=lambda w: (-counts[w], w))[:max_words]
    variants = [text] + [_occlude(text, w) for w in vocabulary]
    explained, _ = _explained_output(predict(variants), target, regression)
    drops = explained[0] - explained[1:]
    order = np.argsort(-drops, kind="stable")[:top]
    return [(vocabulary[i], float(drops[i])) for i in order]


def explain_documents(texts: Sequence[str], predict: Callable[[list[str]], Any], top: int = 10,
                      class_names: Sequence[str] | None = None, regression: bool = False) -> list[dict[str, Any]]:
    """Occlusion importances for a few documents: ``[{"prediction", "words": [(word, drop), ...]}, ...]``.

    Example:
        >>> explain_documents(test_texts[:3], predict, class_names=classes)[0]["prediction"]
        'business'
    """
    results = []
    for text in texts:
        outputs = np.asarray(predict([text]))
        _, chosen = _explained_output(outputs, None, regression)
        label: Any = chosen if chosen is not None else float(outputs.reshape(-1)[0])
        if class_names is not None and chosen is not None:
            label = class_names[chosen]
        words = occlusion_word_importance(text, predict, chosen, top, regression=regression)
        results.append({"prediction": label, "words": words})
    return results
