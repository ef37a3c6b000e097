"""Properties of the readers that must hold for any input, shared by tests/test_properties.py (a few dozen examples
each, in CI) and bench/fuzz.py (as many as fit in a time budget).

Each property is a plain function of the values drawn from its strategy; it raises AssertionError (or lets an
unexpected exception through) when the property does not hold.
"""

from __future__ import annotations

import json
import os
import string
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import strategies as st

os.environ.setdefault("KERAS_BACKEND", "jax")

from deepwise.config import Config, ConfigError, load_config  # noqa: E402
from deepwise.data.tables import read_table  # noqa: E402
from deepwise.errors import DeepwiseError  # noqa: E402
from deepwise.prepare.tabular import SMALL_BATCH, TabularPreprocessor, category_strings  # noqa: E402

# ------------------------------------------------------------------------------------------ 1. the CSV reader
# bytes that look like tables often enough to reach the parser: delimiters, quotes, newlines, BOMs, NULs, high bytes
_TABLE_BYTES = st.sampled_from(
    [b",", b";", b"\t", b"|", b'"', b"\n", b"\r\n", b"\r", b" ", b"a", b"1", b"2.5", b"3,5", b"-", b"e", b"nan",
     b"inf", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\xe9", b"\xc3\xa9", b"\x80", b"#", b"''", b"NA", b"x,y\n"]
)  # fmt: skip
table_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(_TABLE_BYTES, max_size=80).map(b"".join),
)
table_suffix = st.sampled_from([".csv", ".tsv", ".txt", ".parquet"])


def check_read_bytes(data: bytes, suffix: str) -> None:
    """Any bytes under a table name: a DataFrame, or a DeepwiseError (never another exception, never a hang)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(data)
        try:
            df = read_table(path)
        except DeepwiseError:
            return
        assert isinstance(df, pd.DataFrame)
        assert len(df) > 0 and df.shape[1] > 0
        assert df.columns.is_unique, list(df.columns)


_names = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=8)
_cells = st.one_of(
    st.none(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.text(max_size=12).map(lambda t: t.replace("\r", "")),  # pandas writes a lone CR unquoted: a line break
    st.booleans(),
)


@st.composite
def small_frames(draw) -> pd.DataFrame:
    names = draw(st.lists(_names, min_size=1, max_size=6, unique_by=str.lower))
    rows = draw(st.integers(1, 12))
    columns = {name: draw(st.lists(_cells, min_size=rows, max_size=rows)) for name in names}
    return pd.DataFrame(columns)


frame_options = st.fixed_dictionaries(
    {"sep": st.sampled_from([",", ";", "\t"]), "encoding": st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])}
)


def check_read_frame(df: pd.DataFrame, options: dict) -> None:
    """A DataFrame written by pandas (any delimiter, UTF-8/BOM/UTF-16) reads back with its shape, or is refused
    with a DeepwiseError."""
    suffix = ".tsv" if options["sep"] == "\t" else ".csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"frame{suffix}"
        try:
            df.to_csv(path, index=False, sep=options["sep"], encoding=options["encoding"])
        except UnicodeEncodeError:  # lone surrogates cannot be written in any encoding
            return
        try:
            back = read_table(path)
        except DeepwiseError:
            return
        assert back.columns.is_unique

        def empty(v) -> bool:
            return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())

        blank = any(all(empty(v) for v in row) for row in df.itertuples(index=False))
        if df.shape[1] >= 2 and not blank:
            assert back.shape == df.shape, (back.shape, df.shape, back.columns.tolist())
            assert back.columns.tolist() == df.columns.tolist()


# ------------------------------------------------------------------------- 2. tabular preprocessing round trip
_numeric_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(10**9), 10**9).map(float),
    st.just(float("nan")),
)
_category_values = st.one_of(
    st.none(),
    st.sampled_from(["a", "b", "c", " a", "A", "é", "1", "1.0", "", "  ", "nan", "<unknown>"]),
    st.text(max_size=6),
    st.integers(-3, 3),
    st.booleans(),
)


@st.composite
def preprocessing_frames(draw) -> tuple[pd.DataFrame, list[str], list[str], str]:
    rows = draw(st.integers(2, 40))
    n_numeric = draw(st.integers(0, 3))
    n_categorical = draw(st.integers(0 if n_numeric else 1, 3))
    data = {}
    for i in range(n_numeric):
        data[f"x{i}"] = draw(st.lists(_numeric_values, min_size=rows, max_size=rows))
    for i in range(n_categorical):
        data[f"c{i}"] = draw(st.lists(_category_values, min_size=rows, max_size=rows))
    encoding = draw(st.sampled_from(["auto", "one_hot", "embedding"]))
    df = pd.DataFrame(data)
    for name in list(df.columns):
        if name.startswith("c") and draw(st.booleans()):
            df[name] = df[name].astype(object)
    return df, [f"x{i}" for i in range(n_numeric)], [f"c{i}" for i in range(n_categorical)], encoding


def check_preprocessing_round_trip(drawn: tuple[pd.DataFrame, list[str], list[str], str]) -> None:
    """fit -> JSON -> load -> transform gives exactly the arrays of the fitted preprocessor; every category seen in
    training gets its own index (never 'unknown')."""
    df, numeric, categorical, encoding = drawn
    prep = TabularPreprocessor(numeric, categorical, encoding=encoding, max_categories=8)
    try:
        prep.fit(df)
    except DeepwiseError:
        return  # e.g. a numeric column with no finite value: refused with a message
    text = prep.to_json()  # allow_nan=False: raises on NaN or infinity in the fitted state
    loaded = TabularPreprocessor.from_dict(json.loads(text))
    before, after = prep.transform(df), loaded.transform(df)
    assert sorted(before) == sorted(after)
    for key in before:
        assert before[key].dtype == after[key].dtype
        np.testing.assert_array_equal(before[key], after[key])
        if before[key].dtype.kind == "f":
            assert np.isfinite(before[key]).all()
    assert loaded.feature_names_ == prep.feature_names_
    for name in categorical:
        idx = prep.category_indices(df, name)
        vocab = set(prep.vocabularies_[name])
        if len(vocab) < prep.max_categories:  # every training category is in the vocabulary
            assert not (idx == 0).any(), (name, df[name].tolist(), prep.vocabularies_[name])


# ------------------------------------------------------------------------------------------ 3. the config loader
_yaml_tokens = st.sampled_from(
    ["problem:", "data:", "model:", "training:", "tune:", " target: y", " path: x.csv", " epochs: 3", "epochs:",
     "{", "}", "[", "]", ",", ":", "- ", "&a ", "*a", "&b ", "*b", "!!python/object/apply:os.system ['true']",
     "!!binary ", "!!str", "!!int ", "!!float ", "!!set ", "!!omap ", "!!python/name:os.system", "<<: *a", "~",
     "null", "true", "1e400", "-1", "0x1F", "'", '"', "\t", "\n", "\n  ", "#", "%YAML 1.1\n", "---\n", "...\n",
     "? ", "|", ">", "\\x00", "\ufeff", "é", "  ", "seed: 7", "image_size: [0, 5]", "channels: 2", "~nosuchuser/x"]
)  # fmt: skip
yaml_texts = st.one_of(
    st.text(max_size=200),
    st.lists(_yaml_tokens, max_size=40).map("".join),
)
_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=10))
_sections = {name: list(field.annotation.model_fields) for name, field in Config.model_fields.items()
             if isinstance(field.annotation, type) and hasattr(field.annotation, "model_fields")}  # fmt: skip
config_dicts = st.dictionaries(
    st.sampled_from([*Config.model_fields, "extra"]),
    st.one_of(
        _leaf,
        st.dictionaries(
            st.sampled_from(sorted({k for keys in _sections.values() for k in keys} | {"bogus"})),
            st.one_of(_leaf, st.lists(_leaf, max_size=3), st.dictionaries(st.text(max_size=5), _leaf, max_size=2)),
            max_size=5,
        ),
    ),
    max_size=6,
)


def check_config_text(text: str) -> None:
    """Any text as deepwise.yaml: a Config, or a ConfigError/DeepwiseError (never another exception)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deepwise.yaml"
        try:
            path.write_text(text, encoding="utf-8")
        except UnicodeEncodeError:
            path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            config = load_config(path)
        except ConfigError:
            return
        except DeepwiseError:
            return
        assert isinstance(config, Config)


def check_config_dict(raw: dict) -> None:
    """Any mapping of sections, written as YAML: a Config, or a ConfigError."""
    import yaml

    check_config_text(yaml.safe_dump(raw, allow_unicode=True))


def check_numeric_block_matches_each_column(drawn: tuple[pd.DataFrame, list[str], list[str], str]) -> None:
    """``numeric_values`` (numeric columns converted together) = ``pd.to_numeric`` column by column,
    ``transform``'s numeric features = the per-column standardization it replaced, category indices of factorized
    columns = the value-by-value lookup, and the one-hot blocks sit where ``feature_names_`` says."""
    df, numeric, categorical, encoding = drawn
    prep = TabularPreprocessor(numeric, categorical, encoding=encoding, max_categories=8)
    try:
        prep.fit(df)
    except DeepwiseError:
        return
    mixed = df.astype({numeric[0]: object}) if numeric else df  # one column through the text path
    for frame in (df, mixed):
        values = prep.numeric_values(frame)
        for j, name in enumerate(numeric):
            expected = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            np.testing.assert_array_equal(values[:, j], expected)
    columns = []
    for name in numeric:
        stats = prep.numeric_stats_[name]
        column = prep._numeric_column(df, name)
        missing = np.isnan(column)
        with np.errstate(over="ignore"):
            columns.append((np.where(missing, stats["median"], column) - stats["mean"]) / stats["std"])
        if stats["missing_indicator"]:
            columns.append(missing.astype(np.float64))
    features = prep.transform(df)["features"]
    if columns:
        expected = np.clip(np.column_stack(columns), -1e6, 1e6).astype(np.float32)
        np.testing.assert_array_equal(features[:, : len(columns)], expected)
    at = len(columns)  # then each one-hot block: the category index of every row, value by value
    many = pd.concat([df] * (SMALL_BATCH // len(df) + 1), ignore_index=True)  # past the few-rows path
    for name in categorical:
        by_value = prep._vocabulary_indices(name, category_strings(df[name]))
        np.testing.assert_array_equal(prep.category_indices(df, name), by_value)
        np.testing.assert_array_equal(
            prep.category_indices(many, name), prep._vocabulary_indices(name, category_strings(many[name]))
        )
        if prep.encodings_[name] == "one_hot":
            width = len(prep.vocabularies_[name]) + 2
            np.testing.assert_array_equal(features[:, at : at + width], np.eye(width, dtype=np.float32)[by_value])
            at += width
    assert at == features.shape[1]
