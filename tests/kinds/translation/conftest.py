"""Sentence pairs for the translation tests, made offline from Babel's CLDR data by examples/translation, and the
translation kind registered for the tests that go through deepwise's flow."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from translation_pairs import write_pairs

MAKE_DATES = Path(__file__).resolve().parents[3] / "examples" / "translation" / "make_dates.py"


def load_make_dates():
    spec = importlib.util.spec_from_file_location("translation_make_dates", MAKE_DATES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make_dates():
    """The generator module: ``make_dates.make_pairs(n, source, target, seed, ...)``."""
    return load_make_dates()


@pytest.fixture(scope="session")
def date_pairs(make_dates):
    """2,000 en -> fr date pairs (seed 0) as (sources, targets)."""
    pairs = make_dates.make_pairs(2000, "en", "fr", seed=0)
    return [s for s, _ in pairs], [t for _, t in pairs]


@pytest.fixture(scope="session")
def dates_csv(make_dates, tmp_path_factory) -> Path:
    """800 en -> fr date pairs (seed 1) in a CSV with the columns en, fr."""
    return write_pairs(tmp_path_factory.mktemp("dates") / "dates.csv", make_dates.make_pairs(800, seed=1))


@pytest.fixture(scope="session")
def translation_kind():
    """The translation kind, registered while the tests that need deepwise's flow run (the engineer registers it in
    deepwise.kinds for good)."""
    from deepwise.kinds import KINDS, register
    from deepwise.kinds.translation import TranslationKind

    registered = TranslationKind.name in KINDS
    kind = KINDS[TranslationKind.name] if registered else register(TranslationKind())
    yield kind
    if not registered:
        KINDS.pop(kind.name, None)
