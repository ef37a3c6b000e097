"""Write parallel sentences made offline from Babel's CLDR data: dates (and numbers) in two languages.

Each pair is one random date written in the source language and the same date written in the target language, in a
CLDR format chosen at random (``full``: "Tuesday, March 5, 2024" -> "mardi 5 mars 2024"; ``long``, ``medium``,
``short``: "3/5/24" -> "05/03/2024"). With ``--numbers F`` a fraction F of the pairs are numbers instead: decimals,
percentages and amounts of money ("€1,234.50" -> "1 234,50 €"). Sources are unique, so the same sentence never sits
in both the training and the test split. Seeded: the same arguments write the same file, in seconds.

Example:
    python examples/translation/make_dates.py -o dates.csv                       # 5,000 pairs en -> fr
    python examples/translation/make_dates.py -o de.csv --target de --pairs 3000 --seed 1 --numbers 0.3
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from pathlib import Path

import numpy as np
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

FORMATS = ("full", "long", "medium", "short")
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "JPY")


def random_date(rng: np.random.Generator, first: dt.date, last: dt.date) -> dt.date:
    """A uniformly drawn day between ``first`` and ``last`` (both included)."""
    return first + dt.timedelta(days=int(rng.integers(0, (last - first).days + 1)))


def random_number_pair(rng: np.random.Generator, source: str, target: str) -> tuple[str, str]:
    """A number written in both languages: a decimal, a percentage or an amount of money."""
    kind = rng.choice(["decimal", "percent", "money"])
    digits = int(rng.integers(1, 8))
    value = float(rng.integers(0, 10**digits))
    if kind == "percent":
        value = round(float(rng.uniform(0, 1.5)), int(rng.integers(0, 4)))
        return format_percent(value, locale=source), format_percent(value, locale=target)
    if kind == "money":
        currency = str(rng.choice(CURRENCIES))
        value = round(value / 100, 2)
        return format_currency(value, currency, locale=source), format_currency(value, currency, locale=target)
    value = value / 10 ** int(rng.integers(0, 4))
    return format_decimal(value, locale=source), format_decimal(value, locale=target)


def make_pairs(
    n_pairs: int,
    source: str = "en",
    target: str = "fr",
    seed: int = 0,
    formats: tuple[str, ...] = FORMATS,
    first: dt.date = dt.date(1900, 1, 1),
    last: dt.date = dt.date(2099, 12, 31),
    numbers: float = 0.0,
) -> list[tuple[str, str]]:
    """``n_pairs`` (source sentence, target sentence) pairs with unique sources.

    Example:
        >>> make_pairs(2, seed=0)[0]
        ('Feb 15, 2070', '15 févr. 2070')
    """
    rng = np.random.default_rng(seed)
    pairs: dict[str, str] = {}
    attempts = 0
    while len(pairs) < n_pairs:
        attempts += 1
        if attempts > 50 * n_pairs:
            raise SystemExit(f"Only {len(pairs)} distinct sentences after {attempts} draws: ask for fewer pairs.")
        if numbers > 0 and rng.random() < numbers:
            src, tgt = random_number_pair(rng, source, target)
        else:
            day = random_date(rng, first, last)
            fmt = str(rng.choice(formats))
            src, tgt = format_date(day, format=fmt, locale=source), format_date(day, format=fmt, locale=target)
        pairs.setdefault(src, tgt)
    return list(pairs.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="the CSV to write (columns: source, target)")
    parser.add_argument("--pairs", type=int, default=5000, help="how many pairs (default 5000)")
    parser.add_argument("--source", default="en", help="source locale (default en)")
    parser.add_argument("--target", default="fr", help="target locale (default fr)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", default=",".join(FORMATS), help="CLDR date formats, comma-separated")
    parser.add_argument("--first", default="1900-01-01", help="earliest date (default 1900-01-01)")
    parser.add_argument("--last", default="2099-12-31", help="latest date (default 2099-12-31)")
    parser.add_argument("--numbers", type=float, default=0.0, help="fraction of pairs that are numbers (default 0)")
    args = parser.parse_args(argv)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(f"unknown formats {unknown}; choose from {', '.join(FORMATS)}")
    pairs = make_pairs(
        args.pairs,
        args.source,
        args.target,
        args.seed,
        formats,
        dt.date.fromisoformat(args.first),
        dt.date.fromisoformat(args.last),
        args.numbers,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([args.source, args.target])
        writer.writerows(pairs)
    print(f"wrote {len(pairs):,} pairs {args.source} -> {args.target} to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
