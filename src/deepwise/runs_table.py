"""``deepwise runs``: the runs in a folder as a table, with a warning when their test scores are not comparable.

Reads only what each run directory holds (manifest.json, metrics.json, config.yaml); incomplete or damaged runs are
listed with their status, never skipped silently and never a crash.

Example:
    >>> table = list_runs("runs", sort="metric")
    >>> [(row["name"], row["metric"], row["verdict"]) for row in table.rows]
    >>> table.warnings
    []
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepwise.errors import DeepwiseError
from deepwise.evaluation import LOWER_IS_BETTER
from deepwise.records import CONFIG, MANIFEST, Metrics, scan_run

SORT_KEYS = ("created", "name", "status", "task", "metric", "baseline_score", "verdict", "duration", "fingerprint")


@dataclass
class RunsTable:
    """Rows (one dict per run) and warnings (sentences) about comparing them."""

    directory: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "runs": self.rows, "warnings": self.warnings}


def _best_baseline(metrics: Metrics, metric: str | None) -> tuple[str | None, float | None]:
    evidence = (metrics.get("verdict") or {}).get("evidence") or {}
    name = evidence.get("best_baseline")
    baselines = metrics.baselines
    if metric is None or not baselines:
        return name, None
    if name is None:
        scored = {k: v.get(metric) for k, v in baselines.items() if k != "dummy" and v.get(metric) is not None}
        if not scored:
            return None, None
        pick = min if metric in LOWER_IS_BETTER else max
        name = pick(scored, key=scored.get)
    score = (baselines.get(name) or {}).get(metric)
    return name, float(score) if isinstance(score, (int, float)) else None


def read_run_row(path: Path) -> dict[str, Any]:
    """One row of the table for a run directory (whatever state it is in)."""
    manifest, metrics, config, status = scan_run(path)
    data_cfg = config.get("data") or {}
    split = data_cfg.get("split") or {}
    fingerprint = manifest.data.fingerprint if manifest is not None else ""
    main = metrics.main_metric if metrics is not None else None
    value = metrics.test.get(main) if metrics is not None else None
    baseline, baseline_score = _best_baseline(metrics, main) if metrics is not None else (None, None)
    task = metrics.task if metrics is not None else (manifest.task if manifest is not None else None)
    return {
        "name": path.name,
        "path": str(path),
        "status": status,
        "task": task or (config.get("problem") or {}).get("task"),
        "created": manifest.created if manifest is not None else None,
        "fingerprint": fingerprint.split(":", 1)[-1][:12] if fingerprint else None,
        "model": (config.get("model") or {}).get("type"),
        "metric_name": main,
        "metric": float(value) if isinstance(value, (int, float)) else None,
        "baseline": baseline,
        "baseline_score": baseline_score,
        "verdict": metrics.verdict.code if metrics is not None and metrics.verdict is not None else None,
        "duration": manifest.duration_s if manifest is not None else None,
        "split": {
            "validation": split.get("validation"),
            "test": split.get("test"),
            "stratify": split.get("stratify"),
            "seed": config.get("seed", manifest.seed if manifest is not None else None),
        },
    }


def _sort_key(key: str):
    descending = key in ("metric", "baseline_score")

    def sort_key(row: dict[str, Any]):
        value = row.get(key)
        if value is None:
            return (1, 0, "")
        if isinstance(value, (int, float)):
            lower_is_better = row.get("metric_name") in LOWER_IS_BETTER
            return (0, -value if descending and not lower_is_better else value, "")
        return (0, 0, str(value))

    return sort_key


def comparability_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """Sentences saying why the listed test scores cannot be compared (different data, split or task)."""
    warnings: list[str] = []
    scored = [r for r in rows if r["status"] == "complete"]
    fingerprints = {r["fingerprint"] for r in scored if r["fingerprint"]}
    if len(fingerprints) > 1:
        groups = {fp: [r["name"] for r in scored if r["fingerprint"] == fp] for fp in sorted(fingerprints)}
        listed = "; ".join(f"{fp}: {', '.join(names)}" for fp, names in groups.items())
        warnings.append(
            f"These runs were trained on {len(fingerprints)} different data files (fingerprints {listed}): their "
            "test scores come from different rows and cannot be compared. Compare only runs with the same fingerprint."
        )
    splits = {json.dumps(r["split"], sort_keys=True) for r in scored}
    if len(splits) > 1:
        shown = "; ".join(
            sorted(
                f"{', '.join(r['name'] for r in scored if json.dumps(r['split'], sort_keys=True) == s)}: "
                + ", ".join(f"{k} {v}" for k, v in json.loads(s).items())
                for s in splits
            )
        )
        warnings.append(
            f"These runs split their data differently (data.split and seed: {shown}): each was tested on other rows, "
            "so differences between their test scores mix model quality with the luck of the split. Use the same "
            "seed and split to compare models."
        )
    tasks = {r["task"] for r in scored if r["task"]}
    if len(tasks) > 1:
        warnings.append(
            f"These runs solve different tasks ({', '.join(sorted(map(str, tasks)))}): their metrics measure different "
            "things."
        )
    return warnings


def list_runs(directory: str | Path = "runs", sort: str = "created") -> RunsTable:
    """Every run directory in ``directory`` (newest last by default), with comparability warnings.

    Example:
        >>> list_runs("runs", sort="metric").rows[0]["name"]   # the best main test metric first
    """
    base = Path(directory)
    if sort not in SORT_KEYS:
        raise DeepwiseError(
            f"Cannot sort runs by '{sort}'.",
            expected="one of: " + ", ".join(SORT_KEYS),
            fix="sort by one of those keys: --sort metric (Python: list_runs(folder, sort=\"metric\")).",
        )
    if not base.is_dir():
        raise DeepwiseError(
            f"'{base}' is not a folder of runs.",
            expected="the folder `deepwise train` writes runs to (runs/ by default)",
            fix="pass the folder that holds your runs, e.g. `deepwise runs runs/`.",
        )
    candidates = sorted(p for p in base.iterdir() if p.is_dir() and ((p / MANIFEST).exists() or (p / CONFIG).exists()))
    rows = [read_run_row(p) for p in candidates]
    rows.sort(key=_sort_key("name"))
    rows.sort(key=_sort_key(sort))
    return RunsTable(base, rows, comparability_warnings(rows))
