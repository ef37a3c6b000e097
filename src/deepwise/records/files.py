"""The run directory on disk: its file names, creating it, locking it, and writing its files atomically.

A run is ``runs/<name>-<YYYYMMDD-HHMMSS>/`` holding config.yaml, model.keras, preprocessing.json, metrics.json,
history.csv, manifest.json and checkpoints/. Every file is written to a temporary name and renamed, and
``manifest.json`` says ``"status": "complete"`` only once everything else is in place.

Example:
    >>> run_dir = create_run_dir("runs", "penguins")
    >>> write_json(run_dir / "notes.json", {"seen": True})
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from deepwise.errors import RunError

CONFIG = "config.yaml"
MODEL = "model.keras"
PREPROCESSING = "preprocessing.json"
METRICS = "metrics.json"
HISTORY = "history.csv"
MANIFEST = "manifest.json"
CHECKPOINTS = "checkpoints"
GUARD = "guard.npz"
FINDINGS = "findings.json"
LOCK = "run.lock"
REPORT = "report.html"
MODEL_CARD = "MODEL_CARD.md"
#: what a complete run always holds (guard.npz and findings.json are optional: a run may be trained without them)
REQUIRED = (CONFIG, MODEL, PREPROCESSING, METRICS, HISTORY, MANIFEST)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "run"


def create_run_dir(runs_dir: str | Path, name: str, run_dir: str | Path | None = None) -> Path:
    """Create a new, empty run directory; never reuses an existing one."""
    if run_dir is not None:
        path = Path(run_dir)
        if path.exists():
            raise RunError(
                f"The run directory '{path}' already exists; deepwise never overwrites a run.",
                expected="a path that does not exist yet",
                fix="choose another run directory (--run-dir; Python: run_dir=), delete the old run yourself, or "
                "continue it with `deepwise train --resume` (Python: deepwise.resume).",
            )
        _mkdir(path.parent, parents=True)
        _mkdir(path)
        return path
    base = Path(runs_dir)
    _mkdir(base, parents=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = f"{_slug(name)}-{stamp}"
    for attempt in range(1000):
        path = base / (stem if attempt == 0 else f"{stem}-{attempt + 1}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunError(f"Could not create a new run directory in '{base}'.", fix="clean up old runs.")


def _mkdir(path: Path, parents: bool = False) -> None:
    try:
        path.mkdir(parents=parents, exist_ok=parents)
    except OSError as err:
        raise RunError(
            f"Cannot create the folder '{path}': {err.strerror or err}.",
            expected="a writable location for runs",
            fix="choose another --runs-dir / --run-dir, or free disk space / fix permissions.",
        ) from None


def _umask() -> int:
    try:  # Linux says it without changing it (changing it, even briefly, races with other threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def hold_run_lock(path: Path) -> Any:
    """An exclusive lock on the run while this process trains it; the OS drops it if the process dies, so a run
    killed with kill -9 can be resumed, and two processes can never train (or resume) one run at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; a run is still never created twice (mkdir is atomic)
        return None
    handle = open(path / LOCK, "a+")  # noqa: SIM115 - held until release_run_lock
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RunError(
            f"The run '{path}' is being trained by another process right now.",
            expected="a run that no running process is training or resuming",
            fix="wait for that process to finish (or stop it); an interrupted run can then be resumed.",
        ) from None
    return handle


def release_run_lock(handle: Any) -> None:
    if handle is None:
        return
    Path(handle.name).unlink(missing_ok=True)
    handle.close()


_UMASK = _umask()


_FAILPOINT_ENV = "DEEPWISE_FAILPOINT"
_failpoint_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Fault injection for the crash tests: ``DEEPWISE_FAILPOINT=model.keras:2`` makes this process kill itself
    (SIGKILL, as a dead laptop battery would) at the 2nd write of ``model.keras``, after the new data is on disk
    in a temporary file and before it replaces the old one. Unset (always, outside tests), it does nothing."""
    spec = os.environ.get(_FAILPOINT_ENV)
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _failpoint_hits[name] = _failpoint_hits.get(name, 0) + 1
    if _failpoint_hits[name] == int(nth or 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write a file so that readers (and a crash at any moment) see the old content or the new, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private; runs are meant to be shared
        failpoint(path.name)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False, default=_json_default) + "\n")


def write_record(path: str | Path, record: Any) -> None:
    """Write a typed record (:mod:`deepwise.records.schema`) as its JSON file, atomically."""
    write_json(path, record.to_json())


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def save_model(model, path: str | Path) -> None:
    """Save a Keras model atomically (Keras wants the name to end in .keras)."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        model.save(tmp)
        with open(tmp, "rb+") as fh:  # on disk before it replaces the old one (a power cut keeps one or the other)
            os.fsync(fh.fileno())
        failpoint(path.name)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temp_files(run_dir: str | Path) -> list[str]:
    """Delete the temporary files a killed process left behind (never read; named like nothing else)."""
    removed = []
    for tmp in Path(run_dir).rglob(".*"):
        if tmp.is_file() and (tmp.name.endswith(".tmp") or tmp.name.startswith(".tmp-")):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
    return removed
