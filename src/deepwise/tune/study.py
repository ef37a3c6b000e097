"""The Optuna study of ``deepwise tune``: its storage (SQLite in the study folder, or a shared PostgreSQL), its
folder layout, trials that died with their process, and the result as a table.

Example:
    >>> study = open_study(url, "penguins", config, space, "maximize", "accuracy", seed=42, create=True)
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.markup import escape

from deepwise.config import Config
from deepwise.errors import ConfigError, DeepwiseError
from deepwise.tune.space import SearchSpace

STUDY_DB = "study.db"
BEST_CONFIG = "best.yaml"
TRIALS_DIR = "trials"
REFIT_DIR = "refit"
LOGS_DIR = "logs"
CACHE_DIR = "cache/jax"  # JAX persistent compilation cache shared by the trials
HEARTBEAT_S = 15  # trials of dead processes on other machines are failed after GRACE_S without a heartbeat
GRACE_S = 60
SQLITE_TIMEOUT_S = 60

# user attrs of a trial
ATTR_OUTCOME = "outcome"  # set once the trial ran to an end of its own (complete, pruned, failed): it counts
ATTR_ERROR = "error"
ATTR_RUN_DIR = "run_dir"
ATTR_TRAIN_S = "train_seconds"
ATTR_OPTUNA_S = "optuna_seconds_in_callbacks"


@dataclass
class TrialSummary:
    """One trial as shown in the table."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING (FAIL with interrupted=True: its process died or was stopped)
    params: dict[str, Any]
    value: float | None  # validation main metric (None unless COMPLETE)
    duration_s: float | None
    run_dir: str | None
    error: str | None = None
    interrupted: bool = False
    train_s: float | None = None
    optuna_s: float | None = None


@dataclass
class StudyResult:
    """What :func:`tune` returns: every trial, the best one, the best config and the refit run (if any)."""

    study_name: str
    storage: str  # URL with any password hidden
    study_dir: Path
    metric: str  # e.g. "accuracy": the validation metric that ranks trials
    trials: list[TrialSummary]
    best: TrialSummary | None
    best_config: Config | None
    best_config_path: Path | None
    refit: Any = None  # the deepwise.run.Run of --refit
    space: dict[str, Any] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)

    def table(self, limit: int | None = None):
        """A rich table of the trials (number, state, params, validation score, duration)."""
        return trials_table(self, limit)

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{t.number}</td><td>{t.state}</td><td>{html.escape(short_params(t.params))}</td>"
            f"<td>{'' if t.value is None else f'{t.value:.4f}'}</td></tr>"
            for t in self.trials
        )
        return (
            f"<b>deepwise study</b> {html.escape(self.study_name)} · validation {self.metric}"
            f"<table><tr><th>trial</th><th>state</th><th>params</th><th>value</th></tr>{rows}</table>"
        )


def _short_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str) and value.startswith("["):
        return value.replace(" ", "")
    return json.dumps(value).replace(" ", "") if isinstance(value, (list, dict)) else str(value)


def short_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k.rsplit('.', 1)[-1]}={_short_value(v)}" for k, v in params.items())


def trials_table(result: StudyResult, limit: int | None = None):
    from rich.table import Table

    table = Table(
        title=f"Study {result.study_name}: validation {result.metric} (higher is better)", title_justify="left"
    )
    table.add_column("trial", justify="right")
    table.add_column("state")
    table.add_column("params")
    table.add_column(f"val {result.metric}", justify="right")
    table.add_column("time", justify="right")
    shown = result.trials if limit is None else result.trials[-limit:]
    best = result.best.number if result.best else None
    colours = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red", "RUNNING": "cyan"}
    for t in shown:
        state = "FAIL (interrupted)" if t.interrupted else t.state
        value = "-" if t.value is None else f"{t.value:.4f}"
        if t.number == best:
            value = f"[bold]{value} *[/]"
        note = escape(short_params(t.params))
        if t.error and t.state in ("FAIL", "PRUNED") and not t.interrupted:
            note += f"  [{colours[t.state]}]{escape(one_line(t.error, 60))}[/]"
        table.add_row(
            str(t.number),
            f"[{colours.get(t.state, 'white')}]{state}[/]",
            note,
            value,
            "-" if t.duration_s is None else f"{t.duration_s:.1f} s",
        )
    return table


def one_line(text: str, width: int) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def trial_summary(frozen) -> TrialSummary:
    attrs = frozen.user_attrs
    duration = frozen.duration.total_seconds() if frozen.duration is not None else None
    state = frozen.state.name
    return TrialSummary(
        number=frozen.number,
        state=state,
        params=dict(frozen.params),
        value=frozen.value if state == "COMPLETE" else None,
        duration_s=duration,
        run_dir=attrs.get(ATTR_RUN_DIR),
        error=attrs.get(ATTR_ERROR),
        interrupted=state == "FAIL" and ATTR_OUTCOME not in attrs,
        train_s=attrs.get(ATTR_TRAIN_S),
        optuna_s=attrs.get(ATTR_OPTUNA_S),
    )


def optuna_module():
    try:
        import optuna
    except ImportError:  # pragma: no cover - a dependency
        raise DeepwiseError(
            "deepwise tune needs Optuna, which is not installed.",
            fix="pip install 'optuna>=3.6' (it is a dependency of deepwise: reinstall deepwise).",
        ) from None
    return optuna


def hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def storage_for(url: str):
    """Optuna's RDB storage with heartbeats (stale trials of dead processes become FAIL) and a retry on the
    race of several processes creating the tables of an empty database at once."""
    optuna = optuna_module()
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    elif url.startswith(("postgresql", "mysql")):
        kwargs = {"pool_pre_ping": True}
        if url.startswith("postgresql"):
            url = postgres_driver(url)
    last: Exception | None = None
    for attempt in range(6):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental; we rely on them knowingly
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
                )
        except DeepwiseError:
            raise
        except Exception as err:  # noqa: BLE001 - the table-creation race, or a database that is not there
            last = err
            if "UniqueViolation" in repr(err) or "already exists" in str(err) or "IntegrityError" in repr(err):
                time.sleep(0.2 * (attempt + 1))
                continue
            break
    raise DeepwiseError(
        f"Cannot open the study storage '{hide_password(url)}': {one_line(str(last), 300)}",
        expected="sqlite:///PATH, or postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE of a running server",
        fix="check the URL, that the server runs and that the database exists (CREATE DATABASE optuna).",
    )


def postgres_driver(url: str) -> str:
    """Name the installed driver: SQLAlchemy 2.1 means psycopg 3 by a bare ``postgresql://``, 2.0 psycopg2."""
    import importlib.util

    if not url.startswith(("postgresql://", "postgres://")):
        return url  # the user named a driver (postgresql+psycopg2://...)
    rest = url.split("://", 1)[1]
    for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}://{rest}"
    raise DeepwiseError(
        "A PostgreSQL storage needs a driver (psycopg2), which is not installed.",
        fix="pip install 'deepwise[postgres]' (or psycopg2-binary).",
    )


def sqlite_wal(path: Path) -> None:
    """Write-ahead logging lets several local worker processes read while one writes."""
    import sqlite3

    with sqlite3.connect(path, timeout=SQLITE_TIMEOUT_S) as con:
        con.execute("PRAGMA journal_mode=WAL")


def _orphan(frozen) -> bool:
    """A RUNNING trial whose process died between creating it and starting it (it never said who runs it; a
    live process says so within milliseconds)."""
    if "pid" in frozen.user_attrs or frozen.datetime_start is None:
        return False
    return (datetime.now() - frozen.datetime_start).total_seconds() > GRACE_S


def fail_dead_local_trials(study) -> int:
    """RUNNING trials started on this machine by processes that no longer exist become FAIL (interrupted), and so
    do orphans (see :func:`_orphan`). Dead processes on other machines are found by Optuna's heartbeats."""
    optuna = optuna_module()
    host = socket.gethostname()
    failed = 0
    for frozen in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        attrs = frozen.user_attrs
        dead = attrs.get("host") == host and isinstance(attrs.get("pid"), int) and not _alive(attrs["pid"])
        if not (dead or _orphan(frozen)):
            continue
        try:
            study._storage.set_trial_state_values(frozen._trial_id, state=optuna.trial.TrialState.FAIL)
            failed += 1
        except Exception:  # noqa: BLE001 - another process failed it first
            pass
    return failed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def counted(study) -> tuple[int, int]:
    """(trials that ran to an end of their own, trials running now)."""
    optuna = optuna_module()
    done = running = 0
    for frozen in study.get_trials(deepcopy=False):
        if frozen.state == optuna.trial.TrialState.RUNNING:
            running += not _orphan(frozen)
        elif frozen.state.is_finished() and ATTR_OUTCOME in frozen.user_attrs:
            done += 1
    return done, running


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _fingerprint(config: Config) -> dict[str, Any]:
    """What makes trials of one study comparable: the resolved config except where the data file lives."""
    raw = config.model_dump(mode="json")
    raw.pop("tune", None)
    raw.get("data", {}).pop("path", None)
    return raw


def open_study(
    url: str, name: str, config: Config, space: SearchSpace, direction: str, metric: str, seed: int, create: bool
):
    optuna = optuna_module()
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    epochs = config.training.epochs
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(2, epochs // 10))
    storage = storage_for(url)
    if create:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            sampler=sampler,
            pruner=pruner,
            direction=direction,
            load_if_exists=True,
        )
    else:
        study = optuna.load_study(storage=storage, study_name=name, sampler=sampler, pruner=pruner)
    attrs = study.user_attrs
    fingerprint = _fingerprint(config)
    if "deepwise_config" not in attrs:
        study.set_user_attr("deepwise_config", fingerprint)
        study.set_user_attr("deepwise_space", space.to_dict())
        study.set_user_attr("metric", metric)
    else:
        before, now = _flatten(attrs["deepwise_config"]), _flatten(fingerprint)
        # options only one side knows come from another deepwise version (a new option keeps the old behaviour)
        changed = sorted(k for k in set(before) & set(now) if before[k] != now[k])
        if attrs.get("deepwise_space") != space.to_dict():
            changed.append("tune (the search space)")
        if changed:
            raise ConfigError(
                f"The study '{name}' in {hide_password(url)} was started with a different config; changed: "
                + ", ".join(changed[:8])
                + ("..." if len(changed) > 8 else "")
                + ". Its trials would not be comparable with new ones.",
                expected="the same config as the study's earlier trials, to continue it",
                fix="use another --study-dir (or --study-name with --storage) for the new config, or restore "
                "the config the study started with.",
            )
    return study
