"""Prepare a table that does not fit in memory: three streaming passes, then arrays on disk.

1. **Sample**: one pass draws a uniform sample of rows (about :data:`SAMPLE_ROWS`) by hashing each row's position,
   and counts the rows. The sample decides the task and the inputs (as the whole table does for small tables), and
   later feeds the data checks, the baselines' training rows, the OOD guard and permutation importance.
2. **Statistics**: a pass over the training rows fits the preprocessing exactly as :meth:`TabularPreprocessor.fit`
   would on them all (means and spreads merged chunk by chunk, every category counted), except the medians used to
   fill missing numbers, which come from the sample's training rows.
3. **Arrays**: a pass transforms every row into the float32 matrices the network reads, appended to ``.npy`` files
   in a temporary folder (``TMPDIR``); training reads shuffled batches from them with plain file reads
   (:class:`DiskArray`, :func:`disk_batches_class`), so the process holds a few MB of them at a time.

The split is decided per row by :func:`deepwise.data.stream.row_hash` of its position and the seed: reproducible,
with no shuffle of the whole table, but not stratified (with millions of rows each split gets its share of every
class anyway).

Example:
    >>> streamed = stream_table(config, TableSource.open("big.csv"))   # config: a resolved deepwise Config
    >>> streamed.x["train"]["features"].shape
    (7000000, 24)
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.config import Config
from deepwise.data.stream import ColumnTypeChanged, TableSource, row_hash
from deepwise.errors import DataError
from deepwise.prepare.tabular import FEATURES, TabularPreprocessor, _json_value, category_strings

SAMPLE_ROWS = 100_000
SPLITS = ("train", "validation", "test")
MAX_COUNTED_CATEGORIES = 200_000  # per column; beyond it the rarest are forgotten (the vocabulary keeps <= 1,000)
_SAMPLE_SALT = 7919  # the sample's hash differs from the split's


@dataclass
class StreamedTable:
    """A table prepared by streaming: arrays on disk, the split sizes, and a uniform sample of raw rows."""

    source: TableSource
    n_rows: int
    sample: pd.DataFrame  # raw rows (every column), target present
    sample_split: np.ndarray  # "train" | "validation" | "test" per sample row
    x: dict[str, dict[str, DiskArray]]  # float32 / int32 arrays on disk, per split
    y: dict[str, np.ndarray]
    folder: Path  # the temporary folder of the arrays
    notes: list[str] = field(default_factory=list)

    def rows(self, split: str) -> pd.DataFrame:
        """The sample's raw rows of ``split``."""
        return self.sample[self.sample_split == split]

    def close(self) -> None:
        """Delete the arrays on disk (also done when the process exits)."""
        self.x = {}
        shutil.rmtree(self.folder, ignore_errors=True)

    def __del__(self) -> None:  # the arrays live as long as the prepared data that reads them
        if getattr(self, "folder", None) is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def split_codes(rows: np.ndarray, seed: int, validation: float, test: float) -> np.ndarray:
    """0 train, 1 validation, 2 test per row position (hash of the position and the seed)."""
    u = row_hash(rows, seed)
    return np.where(u < test, 2, np.where(u < test + validation, 1, 0)).astype(np.int8)


def _with_retry(source: TableSource, run_pass):
    """Run a pass; when a CSV column turns out to hold text further down, read it as text and run it again."""
    for _ in range(len(source.columns) + 1):
        try:
            return run_pass()
        except ColumnTypeChanged as changed:
            source.set_text(changed.column)
    raise AssertionError("unreachable: every column can be read as text")


def sample_rows(source: TableSource, seed: int, size: int = SAMPLE_ROWS) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Pass 1: ``(sample, its row positions, number of rows)``; a uniform sample of about ``size`` rows."""
    fraction = min(1.0, 1.3 * size / max(source.estimated_rows, 1))

    def run() -> tuple[pd.DataFrame, np.ndarray, int]:
        parts, positions, offset = [], [], 0
        for chunk in source.chunks():
            rows = np.arange(offset, offset + len(chunk))
            keep = row_hash(rows, seed + _SAMPLE_SALT) < fraction
            parts.append(chunk[keep])
            positions.append(rows[keep])
            offset += len(chunk)
        if not parts:
            return pd.DataFrame(columns=source.columns), np.zeros(0, dtype=np.int64), 0
        return pd.concat(parts, ignore_index=True), np.concatenate(positions), offset

    sample, positions, n_rows = _with_retry(source, run)
    if len(sample) > size:  # the row estimate was low: keep the rows with the smallest hashes (still uniform)
        order = np.sort(np.argsort(row_hash(positions, seed + _SAMPLE_SALT), kind="stable")[:size])
        sample, positions = sample.iloc[order].reset_index(drop=True), positions[order]
    return sample, positions, n_rows


class StreamingStatistics:
    """Accumulates what :meth:`TabularPreprocessor.fit` learns, one chunk of training rows at a time."""

    def __init__(self, prep: TabularPreprocessor):
        self.prep = prep
        self.numeric = {
            name: {"n": 0, "mean": 0.0, "m2": 0.0, "min": math.inf, "max": -math.inf, "missing": 0}
            for name in prep.numeric
        }
        self.categories: dict[str, Counter] = {name: Counter() for name in prep.categorical}
        self.pruned: set[str] = set()
        self.target = {"n": 0, "mean": 0.0, "m2": 0.0}
        self.classes: dict[str, Counter] = {s: Counter() for s in SPLITS}

    def update(self, chunk: pd.DataFrame, codes: np.ndarray) -> None:
        prep = self.prep
        train = chunk[codes == 0]
        for name, acc in self.numeric.items():
            values = prep._numeric_column(train, name)
            present = values[np.isfinite(values)]
            acc["missing"] += int(values.size - present.size)
            if present.size:
                with np.errstate(over="ignore", invalid="ignore"):
                    _merge_moments(acc, present)
                acc["min"] = min(acc["min"], float(present.min()))
                acc["max"] = max(acc["max"], float(present.max()))
        for name, counter in self.categories.items():
            counter.update(category_strings(train[name]).dropna().value_counts().to_dict())
            if len(counter) > MAX_COUNTED_CATEGORIES:
                self.categories[name] = Counter(dict(counter.most_common(MAX_COUNTED_CATEGORIES // 2)))
                self.pruned.add(name)
        target = chunk[prep.target]
        if prep.task == "regression":
            values = pd.to_numeric(target[codes == 0], errors="coerce").to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                with np.errstate(over="ignore", invalid="ignore"):
                    _merge_moments(self.target, values)
        else:
            for code, split in enumerate(SPLITS):
                for value, count in target[codes == code].value_counts().items():
                    self.classes[split][_json_value(value)] += int(count)

    def preprocessor(self, sample_train: pd.DataFrame) -> TabularPreprocessor:
        """The fitted preprocessing (medians from ``sample_train``, the sample's training rows)."""
        prep = self.prep
        stats: dict[str, dict[str, float]] = {}
        for name, acc in self.numeric.items():
            if acc["n"] == 0:
                raise DataError(
                    f"The numeric input '{name}' has no values in the training split (all missing).",
                    expected="numbers in most rows of every input column",
                    fix=f"fill in '{name}', or remove it from data.inputs (or add it to data.exclude).",
                )
            in_sample = prep._numeric_column(sample_train, name) if len(sample_train) else np.zeros(0)
            in_sample = in_sample[np.isfinite(in_sample)]
            std = math.sqrt(acc["m2"] / acc["n"]) if acc["m2"] >= 0 else math.nan
            stats[name] = {
                "median": float(np.median(in_sample)) if in_sample.size else float(acc["mean"]),
                "mean": float(acc["mean"]) if math.isfinite(acc["mean"]) else 0.0,
                "std": std if std > 1e-12 and math.isfinite(std) else 1.0,
                "min": acc["min"],
                "max": acc["max"],
                "missing_indicator": acc["missing"] > 0,
            }
        vocabularies = {}
        for name, counter in self.categories.items():
            counts = pd.Series(counter, dtype="int64")
            counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
            vocabularies[name] = [str(v) for v in counts.index[: prep.max_categories]]
        classes = target_stats = None
        if prep.task == "regression":
            if self.target["n"] == 0:
                raise DataError(
                    f"The target '{prep.target}' has no finite numbers in the training split.",
                    expected="numbers in the target column for regression",
                    fix="check the target column (or set problem.task to a classification task).",
                )
            std = math.sqrt(max(self.target["m2"], 0.0) / self.target["n"])
            target_stats = {"mean": float(self.target["mean"]), "std": std if std and math.isfinite(std) else 1.0}
        else:
            classes = sorted(self.classes["train"], key=lambda v: (str(type(v)), v))
            if len(classes) < 2:
                raise DataError(
                    f"The training rows of '{prep.target}' hold {len(classes)} class(es): {classes}.",
                    expected="at least two classes among the training rows",
                    fix="check the target column; a classifier needs examples of more than one class.",
                )
        return prep.with_statistics(stats, vocabularies, classes, target_stats)


def _merge_moments(acc: dict[str, Any], values: np.ndarray) -> None:
    """Chan et al.'s parallel update of count, mean and sum of squared deviations."""
    n_b = values.size
    mean_b = float(values.mean())
    m2_b = float(((values - mean_b) ** 2).sum())
    n_a, mean_a = acc["n"], acc["mean"]
    n = n_a + n_b
    delta = mean_b - mean_a
    acc["mean"] = mean_a + delta * n_b / n
    acc["m2"] = acc["m2"] + m2_b + delta * delta * n_a * n_b / n
    acc["n"] = n


# One piece: the three streaming passes share the split codes, the usable-row rule and the counters of rows
# left out; they are closures over the same source and config.
def stream_table(config: Config, source: TableSource, resolve: Any) -> tuple[Any, TabularPreprocessor, StreamedTable]:
    """Passes 1 to 3 (module docstring). ``resolve(config, sample) -> Problem`` decides task and inputs from the
    sample. Returns ``(problem, fitted preprocessing, streamed arrays)``."""
    cfg = config
    target = cfg.problem.target
    sample, positions, n_rows = sample_rows(source, cfg.seed)
    if target in sample.columns:
        present = sample[target].notna().to_numpy()
        sample, positions = sample[present].reset_index(drop=True), positions[present]
    problem = resolve(cfg, sample)
    cfg = problem.config
    split = cfg.data.split
    validation = split.validation
    sample_codes = split_codes(positions, cfg.seed, validation, split.test)
    inputs = list(cfg.data.inputs or [])
    categorical = list(cfg.data.categorical or [])
    prep = TabularPreprocessor(
        numeric=[c for c in inputs if c not in categorical],
        categorical=categorical,
        target=target,
        task=cfg.problem.task,
        encoding=cfg.model.categorical_encoding,
    )
    columns = inputs + [target]
    stats = StreamingStatistics(prep)
    no_target = [0]

    def usable(chunk: pd.DataFrame) -> np.ndarray:
        if prep.task == "regression":
            values = pd.to_numeric(chunk[target], errors="coerce").to_numpy(dtype=float)
            return np.isfinite(values)
        return chunk[target].notna().to_numpy().copy()

    def codes_of(offset: int, n: int) -> np.ndarray:
        codes = split_codes(np.arange(offset, offset + n), cfg.seed, validation, split.test)
        if split.train_on_validation:
            codes = np.where(codes == 1, 0, codes)  # validation rows also train (and are still scored)
        return codes

    def statistics_pass() -> None:
        offset = 0
        for chunk in source.chunks(columns):
            keep = usable(chunk)
            no_target[0] += int((~keep).sum())
            stats.update(chunk[keep], codes_of(offset, len(chunk))[keep])
            offset += len(chunk)

    _with_retry(source, statistics_pass)
    train_codes = np.where(sample_codes == 1, 0, sample_codes) if split.train_on_validation else sample_codes
    prep = stats.preprocessor(sample[train_codes == 0])
    known = {str(c) for c in prep.classes_} if prep.classes_ is not None else None
    dropped_class = 0
    if known is not None:
        dropped_class = sum(
            count
            for s in ("validation", "test")
            for value, count in stats.classes[s].items()
            if str(value) not in known
        )
    folder = Path(tempfile.mkdtemp(prefix="deepwise-stream-"))
    try:
        x, y = _write_arrays(source, prep, columns, codes_of, usable, known, folder, cfg, validation)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    for s in SPLITS:
        if len(y[s]) < 2:
            shutil.rmtree(folder, ignore_errors=True)
            raise DataError(
                f"The streamed split left {len(y[s])} row(s) for {s} out of {n_rows:,} rows.",
                expected="a table big enough for training, validation and test rows (streaming is for big tables)",
                fix="set data.in_memory: true for a small table, or check that the target has values.",
            )
    notes = [
        f"Streamed from disk: {n_rows:,} rows read in chunks (the table would take about "
        f"{source.estimated_memory() / 1e9:.1f} GB in memory); the model's inputs are read from {folder} (removed "
        "afterwards).",
        f"Split by a hash of each row's position (seed {cfg.seed}), not stratified; the data checks, the baselines' "
        f"training rows, the OOD guard and feature importance use a uniform sample of {len(sample):,} rows.",
    ]
    if no_target[0]:
        notes.append(f"{no_target[0]:,} row(s) have no usable '{target}' value and are left out.")
    if dropped_class:
        notes.append(
            f"{dropped_class:,} validation/test row(s) have a class that no training row has; they are left out."
        )
    if stats.pruned:
        notes.append(
            "Columns with more than 200,000 distinct values were counted approximately (rarest forgotten): "
            + ", ".join(sorted(stats.pruned))
            + "."
        )
    problem.notes.extend(notes)
    streamed = StreamedTable(source, n_rows, sample, np.array(SPLITS)[sample_codes], x, y, folder, notes)
    return problem, prep, streamed


class DiskArray:
    """A read-only ``.npy`` array on disk, read a slice at a time with plain file reads (no memory map, so the
    pages read count against the page cache, not against the process).

    Example:
        >>> a = DiskArray("train-features.npy")
        >>> a.shape, a[:32].shape
        ((7000000, 24), (32, 24))
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            self.offset = fh.tell()
        assert not fortran
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def rows(self, start: int, stop: int) -> np.ndarray:
        start, stop = max(0, start), min(stop, self.shape[0])
        count = max(stop - start, 0) * self.row_bytes // self.dtype.itemsize
        values = np.fromfile(self.path, dtype=self.dtype, count=count, offset=self.offset + start * self.row_bytes)
        return values.reshape((max(stop - start, 0), *self.shape[1:]))

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(self.shape[0])
            return self.rows(start, stop)
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None):
        values = self.rows(0, self.shape[0])
        return values.astype(dtype) if dtype is not None else values


class FlatRows:
    """The baselines' flat input of a split on disk, computed a slice at a time (``len`` and slicing only)."""

    def __init__(self, prep: TabularPreprocessor, arrays: dict[str, DiskArray]):
        self.prep, self.arrays = prep, arrays

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def __getitem__(self, key: slice) -> np.ndarray:
        return self.prep.flat({name: array[key] for name, array in self.arrays.items()})


WINDOW_ROWS = 2048  # rows read in one go; a shuffled batch mixes rows of WINDOWS_PER_GROUP random windows
WINDOWS_PER_GROUP = 16


def disk_batches_class():
    """The Keras ``PyDataset`` of batches read from :class:`DiskArray` files (imported lazily: Keras)."""
    from deepwise.backend import keras_module

    keras = keras_module()

    class DiskBatches(keras.utils.PyDataset):
        """Batches from arrays on disk. Shuffled: each epoch visits the rows in a new order, reading random windows
        of :data:`WINDOW_ROWS` consecutive rows, :data:`WINDOWS_PER_GROUP` at a time, and shuffling the rows of each
        group (a shuffle buffer of 32,768 rows drawn from all over the file; memory stays a few MB). Not shuffled:
        the rows in file order (for evaluation and prediction)."""

        def __init__(self, arrays, labels, batch_size: int, shuffle: bool = False, seed: int = 0):
            super().__init__(workers=1, use_multiprocessing=False)
            self.arrays = arrays
            self.labels = labels
            self.n = len(next(iter(arrays.values())))
            self.batch_size = batch_size
            self.shuffle = shuffle
            self.seed = seed
            self.epoch = 0
            self._plan()

        def _plan(self) -> None:
            n_windows = math.ceil(self.n / WINDOW_ROWS)
            order = np.arange(n_windows)
            if self.shuffle:
                np.random.default_rng([self.seed, self.epoch]).shuffle(order)
            self.groups = [order[i : i + WINDOWS_PER_GROUP] for i in range(0, n_windows, WINDOWS_PER_GROUP)]
            sizes = [sum(min(WINDOW_ROWS, self.n - w * WINDOW_ROWS) for w in g) for g in self.groups]
            self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            self._cache: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}

        def _group(self, g: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            if g not in self._cache:
                if len(self._cache) > 1:
                    self._cache.pop(min(self._cache))
                windows = self.groups[g]
                if not self.shuffle:  # consecutive windows: one read each
                    lo, hi = int(windows[0]) * WINDOW_ROWS, min(self.n, (int(windows[-1]) + 1) * WINDOW_ROWS)
                    positions = np.arange(lo, hi)
                    values = {k: a.rows(lo, hi) for k, a in self.arrays.items()}
                else:
                    spans = [(int(w) * WINDOW_ROWS, min(self.n, (int(w) + 1) * WINDOW_ROWS)) for w in windows]
                    positions = np.concatenate([np.arange(lo, hi) for lo, hi in spans])
                    values = {k: np.concatenate([a.rows(lo, hi) for lo, hi in spans]) for k, a in self.arrays.items()}
                    mix = np.random.default_rng([self.seed, self.epoch, g]).permutation(len(positions))
                    positions = positions[mix]
                    values = {k: v[mix] for k, v in values.items()}
                self._cache[g] = (positions, values)
            return self._cache[g]

        def __len__(self) -> int:
            return math.ceil(self.n / self.batch_size)

        def __getitem__(self, i: int):
            start, stop = i * self.batch_size, min(self.n, (i + 1) * self.batch_size)
            first = int(np.searchsorted(self.starts, start, side="right") - 1)
            parts_pos, parts = [], []
            g = first
            while g < len(self.groups) and self.starts[g] < stop:
                positions, values = self._group(g)
                lo, hi = max(start, self.starts[g]) - self.starts[g], min(stop, self.starts[g + 1]) - self.starts[g]
                parts_pos.append(positions[lo:hi])
                parts.append({k: v[lo:hi] for k, v in values.items()})
                g += 1
            x = {k: np.concatenate([p[k] for p in parts]) if len(parts) > 1 else parts[0][k] for k in self.arrays}
            x = x[FEATURES] if list(x) == [FEATURES] else x
            if self.labels is None:
                return x
            positions = np.concatenate(parts_pos) if len(parts_pos) > 1 else parts_pos[0]
            return x, self.labels[positions]

        def on_epoch_end(self) -> None:
            if self.shuffle:
                self.epoch += 1
                self._plan()

    return DiskBatches


def _write_arrays(source, prep, columns, codes_of, usable, known, folder, cfg, validation):
    """Pass 3: transform every row; append each split's arrays to ``.npy`` files in ``folder`` (plain writes, so
    the process holds one chunk at a time); return them as :class:`DiskArray`."""
    specs = prep.input_specs()
    # first count each split's rows exactly (the pass before counted classes, not regression rows)
    sizes = {s: 0 for s in SPLITS}

    def count_pass() -> None:
        offset = 0
        for chunk in source.chunks([prep.target]):
            keep = usable(chunk)
            if known is not None:
                keep = keep & class_keys(chunk[prep.target]).isin(known).to_numpy()
            codes = codes_of(offset, len(chunk))
            for code, s in enumerate(SPLITS):
                sizes[s] += int(((codes == code) & keep).sum())
            if cfg.data.split.train_on_validation:
                raw = split_codes(np.arange(offset, offset + len(chunk)), cfg.seed, validation, cfg.data.split.test)
                sizes["validation"] += int(((raw == 1) & keep).sum())
            offset += len(chunk)

    _with_retry(source, count_pass)
    files: dict[str, dict[str, Any]] = {s: {} for s in SPLITS}
    try:
        y = _fill(source, prep, columns, codes_of, usable, known, cfg, validation, specs, sizes, files, folder)
    finally:
        for s in SPLITS:
            for fh in files[s].values():
                fh.close()
    x = {s: {name: DiskArray(folder / f"{s}-{name}.npy") for name in specs} for s in SPLITS}
    return x, y


def _fill(source, prep, columns, codes_of, usable, known, cfg, validation, specs, sizes, files, folder):
    for s in SPLITS:
        for name, spec in specs.items():
            fh = open(folder / f"{s}-{name}.npy", "wb")  # noqa: SIM115 (closed below)
            header = {"descr": np.dtype(spec["dtype"]).str, "fortran_order": False, "shape": (sizes[s], *spec["shape"])}
            np.lib.format.write_array_header_2_0(fh, header)
            files[s][name] = fh
    y_dtype = np.float32 if prep.task in ("regression", "binary") else np.int32
    y = {s: np.empty(sizes[s], dtype=y_dtype) for s in SPLITS}
    filled = {s: 0 for s in SPLITS}
    offset = 0
    for chunk in source.chunks(columns):
        keep = usable(chunk)
        if known is not None:
            keep = keep & class_keys(chunk[prep.target]).isin(known).to_numpy()
        codes = codes_of(offset, len(chunk))
        raw = codes  # the validation rows' own codes (codes_of moves them to training for a final refit)
        if cfg.data.split.train_on_validation:
            raw = split_codes(np.arange(offset, offset + len(chunk)), cfg.seed, validation, cfg.data.split.test)
        offset += len(chunk)
        rows = chunk[keep]
        if not len(rows):
            continue
        arrays = prep.transform(rows)
        target = prep.transform_target(rows[prep.target])
        masks = {"train": codes[keep] == 0, "validation": raw[keep] == 1, "test": codes[keep] == 2}
        for s, mask in masks.items():
            n = int(mask.sum())
            if not n:
                continue
            for name, values in arrays.items():
                files[s][name].write(np.ascontiguousarray(values[mask], dtype=specs[name]["dtype"]).tobytes())
            y[s][filled[s] : filled[s] + n] = target[mask]
            filled[s] += n
    return y


def class_keys(values: pd.Series) -> pd.Series:
    """The class key of each target value (as :meth:`TabularPreprocessor.transform_target` compares them), one
    formatting per distinct value."""
    codes, uniques = pd.factorize(values)
    keys = np.array([str(_json_value(v)) for v in uniques] + ["nan"], dtype=object)
    return pd.Series(keys[codes], index=values.index)
