"""Is a config's data sentence pairs? The translation kind's ``claims`` rule, cheap enough to run on every config.

A config is translation when it says so (``problem.task: translation``), when it names aligned files
(``translation.target_path``), or, with ``problem.task: auto``, when its data is a table (CSV, TSV, Parquet) of
which one column is the target and exactly one other column is the input (or ``translation.source`` names it), and
both are **free text** in the first :data:`SAMPLE_ROWS` rows (nothing more is read):

- at least :data:`MIN_ROWS` non-empty values;
- words, not numbers: at least half of the values hold a letter, fewer than half read as a number (dates such
  as "3/5/24" hold none, so half, not all);
- not categories: at least half of the non-empty values are distinct (a label column repeats a few values; a
  translation repeats few sentences).

A table with a text input and a class target (text classification) is not claimed: its target repeats. A table with
more than one input column is not claimed either (name ``translation.source``, or set ``problem.task: translation``).

Example:
    >>> claims_translation(Config(problem={"target": "fr"}, data={"path": "dates.csv"}))
    True
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deepwise.config import Config

SAMPLE_ROWS = 2000
MIN_ROWS = 20
MIN_LETTERS = 0.5
MAX_NUMERIC = 0.5
MIN_DISTINCT = 0.5
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq")


def sample_table(path: Path, rows: int = SAMPLE_ROWS) -> pd.DataFrame | None:
    """The first ``rows`` rows of a table as text (None when it is not a readable table)."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
        return None if batch is None else batch.to_pandas().astype(str)
    if suffix not in TABLE_SUFFIXES[:3]:
        return None
    return pd.read_csv(
        path,
        sep="\t" if suffix in (".tsv", ".tab") else ",",
        nrows=rows,
        dtype=str,
        keep_default_na=False,
        encoding_errors="replace",
        on_bad_lines="skip",
    )


def is_free_text(values: pd.Series) -> bool:
    """Words that mostly differ from row to row (see the module's rule).

    Example:
        >>> is_free_text(pd.Series([f"{d} March 2024" for d in range(1, 29)]))
        True
    """
    text = values.astype(str).str.strip()
    text = text[text != ""]
    if len(text) < MIN_ROWS:
        return False
    letters = text.str.contains(r"[^\W\d_]", regex=True).mean()
    numeric = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce").notna().mean()
    distinct = text.nunique() / len(text)
    return bool(letters >= MIN_LETTERS and numeric < MAX_NUMERIC and distinct >= MIN_DISTINCT)


def text_columns(frame: pd.DataFrame, config: Config) -> tuple[str, str] | None:
    """(source, target) when the sampled table is one free-text column into another, else None."""
    target = config.problem.target
    if target not in frame.columns:
        return None
    source = config.translation.source
    if source is None:
        chosen = config.data.inputs or [c for c in frame.columns if c != target and c not in config.data.exclude]
        if len(chosen) != 1:
            return None
        source = chosen[0]
    if source not in frame.columns or source == target:
        return None
    if is_free_text(frame[source]) and is_free_text(frame[target]):
        return str(source), str(target)
    return None


def claims_translation(config: Config) -> bool:
    """True when the config is a translation problem (the module's rule); never raises (a table that cannot be read
    is left to the table kind, whose error names the problem)."""
    if config.problem.task == "translation" or config.translation.target_path:
        return True
    if config.problem.task != "auto":
        return False
    path = Path(config.data.path)
    try:
        if not path.is_file():
            return False
        frame = sample_table(path)
    except Exception:  # unreadable here: the table kind reads it and says what is wrong
        return False
    return frame is not None and text_columns(frame, config) is not None


def detection_reason(config: Config) -> str:
    """Why the config was taken for translation, in words (for ``problem.explain()``)."""
    if config.problem.task == "translation":
        return "set in the config (problem.task: translation)."
    if config.translation.target_path:
        return "two aligned text files (translation.target_path)."
    return (
        f"inferred: the input and the target are both free text (in the first {SAMPLE_ROWS:,} rows, at least "
        f"{MIN_LETTERS:.0%} of the values hold words and at least {MIN_DISTINCT:.0%} are distinct). Set problem.task "
        "(--task) if another task was meant."
    )
