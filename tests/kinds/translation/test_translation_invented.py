"""Invented-content flags on hand-made cases, and their precision and recall on planted inventions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepwise.kinds.translation.invented import InventionFlagger, numbers, plant_inventions, wrong_content


@pytest.fixture(scope="module")
def flagger(date_pairs):
    sources, targets = date_pairs
    return InventionFlagger.fit(sources[:1500], targets[:1500])


def test_numbers_compare_digits_across_conventions():
    assert [n.digits for n in numbers("1 234,50 € le 05/03")] == ["123450", "5", "3"]
    assert [n.digits for n in numbers("€1,234.50 on March 5, 2024")] == ["123450", "5", "2024"]


@pytest.mark.parametrize(
    "source, output",
    [
        ("Tuesday, March 5, 2024", "mardi 5 mars 2024"),
        ("3/5/2024", "05/03/2024"),  # reordered, leading zeros
        ("€1,234.50", "1 234,50 €"),  # other separators
        ("Mar 5, 2024", "5 mars 2024"),  # an abbreviation licenses the full month name
        ("Tuesday, March 5, 2024", "Mardi 5 mars 2024"),  # capitalised at the start: not a name
        ("Friday, May 1, 2020", "vendredi 1 mai 2020"),
    ],
)
def test_faithful_translations_are_not_flagged(flagger, source, output):
    finding = flagger.check(source, output)
    assert not finding.flagged, finding


@pytest.mark.parametrize(
    "source, output, invented",
    [
        ("Tuesday, March 5, 2024", "mardi 5 mars 2042", [("number", "2042")]),
        ("Tuesday, March 5, 2024", "lundi 5 mars 2024", [("word", "lundi")]),
        ("Tuesday, March 5, 2024", "mardi 5 avril 2024", [("word", "avril")]),
        ("March 5, 2024", "5 mars 2024 à Paris", [("word", "à"), ("word", "Paris")]),  # "à": never in a target
        ("March 5, 2024", "5 mars 2024, Marcel", [("word", "Marcel")]),
        ("March 5, 2024", "15 mars 2024", [("number", "15")]),
    ],
)
def test_inventions_are_flagged(flagger, source, output, invented):
    assert flagger.check(source, output).invented == invented


def test_a_century_added_to_a_two_digit_year_is_a_guess(flagger):
    finding = flagger.check("1/27/05", "27/01/2005")
    assert not finding.flagged and finding.guessed == [("number", "2005", "05")]
    assert flagger.check("1/27/05", "20.01.05").invented == [("number", "20.01.05")]  # a chain is checked run by run


def test_digits_that_translate_a_word_are_licensed(make_dates):
    pairs = make_dates.make_pairs(1500, "en", "de", seed=1, formats=("medium",))
    flagger = InventionFlagger.fit([s for s, _ in pairs], [t for _, t in pairs])
    assert "jul" in flagger.partners["#7"]
    assert not flagger.check("Jul 12, 2012", "12.07.2012").flagged
    assert flagger.check("Jun 12, 2012", "12.07.2012").invented == [("number", "12.07.2012")]


def test_partners_are_learned_from_training_pairs(flagger):
    assert "tuesday" in flagger.partners["mardi"] and "march" in flagger.partners["mars"]
    again = InventionFlagger.from_json(json.loads(json.dumps(flagger.to_json())))
    assert again.check("Tuesday, March 5, 2024", "lundi 5 mars 2024").invented == [("word", "lundi")]


def test_precision_and_recall_on_planted_inventions(flagger, date_pairs):
    sources, targets = date_pairs[0][1500:], date_pairs[1][1500:]
    outputs, planted = plant_inventions(targets, seed=0, vocabulary=flagger.content_words)
    flags = np.array([f.flagged for f in flagger.check_all(sources, outputs)])
    precision = (flags & planted).sum() / flags.sum()
    recall = (flags & planted).sum() / planted.sum()
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    assert not any(f.flagged for f in flagger.check_all(sources, targets))  # the references themselves


def test_wrong_content_ground_truth():
    assert wrong_content("lundi 5 mars 2024", "mardi 5 mars 2024")
    assert not wrong_content("5 mars 2024", "mardi 5 mars 2024")  # missing content is not invented
