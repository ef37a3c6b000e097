"""The text kind, registered first (before the images kind, which takes any folder) for the tests that go through
deepwise's flow (the engineer registers it in deepwise.kinds for good), and small real corpora made from BBC News."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from text_corpus import bbc


@pytest.fixture(scope="session")
def text_kind():
    """The text kind, first in the registry while the session runs."""
    from deepwise.kinds import KINDS
    from deepwise.kinds.text import TextKind

    registered = TextKind.name in KINDS
    kind = KINDS.get(TextKind.name) or TextKind()
    ordered = {TextKind.name: kind, **{name: k for name, k in KINDS.items() if name != TextKind.name}}
    KINDS.clear()
    KINDS.update(ordered)
    yield kind
    if not registered:
        KINDS.pop(TextKind.name, None)


def write_folder(root: Path, per_class: int, seed: int = 0, titles: bool = False) -> Path:
    """``per_class`` BBC documents of each class as ``root/<class>/<n>.txt`` (the first line alone: ``titles``)."""
    texts, labels, classes = bbc()
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j, i in enumerate(rng.choice(np.flatnonzero(labels == k), per_class, replace=False)):
            text = texts[i].split("\n", 1)[0] if titles else texts[i]
            (root / name / f"{j:03d}.txt").write_text(text, encoding="utf-8")
    return root


def mixed_table(n: int | None = None, seed: int = 0) -> pd.DataFrame:
    """BBC articles with a numeric and a categorical column and a binary target that depends on all three.

    The text carries the topic (business or tech vs the rest), ``amount`` is N(0, 1), ``channel`` uniform over three
    values; the target is drawn from sigmoid(3 * (+1 if business/tech else -1) + 3 * amount + {web: -0.75, print: 0,
    radio: +0.75}): the best accuracy is about 0.89 knowing all three, 0.80 from the topic alone, 0.69 from the two
    table columns alone (simulated with 2 million rows by the earlier helper).
    """
    texts, labels, classes = bbc()
    rng = np.random.default_rng(seed)
    if n is not None:
        keep = np.sort(rng.choice(len(texts), n, replace=False))
        texts, labels = texts[keep], labels[keep]
    topic = np.isin(labels, [classes.index("business"), classes.index("tech")])
    amount = rng.normal(size=len(texts))
    channel = rng.choice(["web", "print", "radio"], size=len(texts))
    effect = pd.Series(channel).map({"web": -0.75, "print": 0.0, "radio": 0.75}).to_numpy()
    logit = 3.0 * np.where(topic, 1.0, -1.0) + 3.0 * amount + effect
    target = np.where(rng.random(len(texts)) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({"article": texts, "amount": amount.round(4), "channel": channel, "bought": target})


@pytest.fixture(scope="session")
def small_folder(tmp_path_factory) -> Path:
    """40 BBC articles of each of the 5 classes as a folder of class sub-folders."""
    return write_folder(tmp_path_factory.mktemp("bbc-small") / "bbc", per_class=40)


@pytest.fixture(scope="session")
def mixed_csv(tmp_path_factory) -> Path:
    """400 rows of the composed mixed table (text + amount + channel -> bought) as a CSV."""
    path = tmp_path_factory.mktemp("mixed") / "orders.csv"
    mixed_table(400).to_csv(path, index=False)
    return path
