"""Step 7: hyperparameter search with Optuna, every trial a normal deepwise run.

The search space is the config's ``tune`` section, keyed by dotted config paths::

    tune:
      model.hidden_units: {choices: [[32], [64, 32], [128, 64]]}
      model.dropout: {low: 0.0, high: 0.5}
      training.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}
      training.batch_size: {choices: [16, 32, 64]}

An empty section means the default space of the model type (:func:`default_space`). Trials are sampled with a
seeded TPE sampler and pruned per epoch by a median pruner; the objective is the run's **validation** main metric
(accuracy, or R² for regression) from its ``metrics.json``. The test split is never read for selection.

Layout of a study folder (default ``studies/<name>/``)::

    study.db                 Optuna's SQLite storage (unless --storage names another database)
    trials/trial-0007/       trial 7: a complete deepwise run directory (predict, report, resume work on it)
    best.yaml                the best config: the resolved config with the best trial's values
    refit/<name>-<stamp>/    with refit: the best config trained again as an ordinary run
    logs/worker-<i>.log      with several workers: each worker process's output
    cache/jax/               JAX's compilation cache, so trials of the same shapes do not compile again

``trials`` is the size the study should reach: re-running an interrupted ``tune`` with the same arguments
continues the same study and runs only the missing trials (raise ``trials`` to search longer). A trial that was
killed with its process is marked FAIL and does not count.

Example:
    >>> result = tune("deepwise.yaml", trials=30)
    >>> result.best.value, result.best.params
    (0.986, {'training.learning_rate': 0.0042, ...})
    >>> result.best_config_path
    PosixPath('studies/penguins/best.yaml')
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
import types
import typing
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator, model_validator
from rich.console import Console
from rich.markup import escape

from deepwise.config import Config, config_from_dict, dump_config
from deepwise.errors import ConfigError, DataError, DeepwiseError, RunError
from deepwise.runs import HISTORY, atomic_write_text

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


# ------------------------------------------------------------------------------------------------- search space


class Range(BaseModel):
    """A number between ``low`` and ``high`` (log-uniform with ``log: true``; integers for integer options)."""

    model_config = ConfigDict(extra="forbid")
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0, description="grid step (not with log)")

    @model_validator(mode="after")
    def _check(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (received {self.low})")
        if self.log and self.step is not None:
            raise ValueError("step and log cannot be combined")
        return self


class Choices(BaseModel):
    """One of a list of values (numbers, strings, booleans, or lists such as hidden layer sizes)."""

    model_config = ConfigDict(extra="forbid")
    choices: list[Any] = Field(min_length=1)

    @field_validator("choices")
    @classmethod
    def _distinct(cls, values: list[Any]) -> list[Any]:
        keys = [_encode(v) for v in values]
        if len(set(keys)) != len(keys):
            raise ValueError("the choices repeat a value")
        return values


ParamSpec = Range | Choices


class SearchSpace(RootModel[dict[str, ParamSpec]]):
    """The ``tune`` section: dotted config path -> :class:`Range` or :class:`Choices`.

    Example:
        >>> space = parse_space({"training.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}})
        >>> list(space.root)
        ['training.learning_rate']
    """

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: v.model_dump(exclude_defaults=True) for k, v in self.root.items()}


def _encode(value: Any) -> Any:
    """Optuna's categorical values must be scalars: lists and dicts travel as JSON text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value)


def _decode(spec: ParamSpec, value: Any) -> Any:
    if isinstance(spec, Choices) and isinstance(value, str):
        for choice in spec.choices:
            if not isinstance(choice, str) and _encode(choice) == value:
                return choice
    return value


def _field_kind(annotation: Any) -> str:
    """'int', 'float', 'bool', 'list', 'literal', 'str' or 'other' for a pydantic field annotation."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = {_field_kind(a) for a in args if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else "other"
    if origin is Literal:
        return "literal"
    if origin in (list, tuple):
        return "list"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is str:
        return "str"
    return "other"


def config_paths() -> dict[str, str]:
    """Every tunable dotted path of the config with its kind (int, float, bool, list, literal, str, other)."""
    paths: dict[str, str] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            if not prefix and name == "tune":
                continue
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
            else:
                paths[f"{prefix}{name}"] = _field_kind(ann)

    walk(Config, "")
    return paths


def _suggest_path(path: str, valid: list[str]) -> str | None:
    match = difflib.get_close_matches(path, valid, n=1, cutoff=0.6)
    if match:
        return match[0]
    last = path.rsplit(".", 1)[-1]
    same_leaf = [p for p in valid if p.rsplit(".", 1)[-1] == last]
    if same_leaf:
        return same_leaf[0]
    leaves = {p.rsplit(".", 1)[-1]: p for p in valid}
    match = difflib.get_close_matches(last, list(leaves), n=1, cutoff=0.6)
    return leaves[match[0]] if match else None


def parse_space(raw: dict[str, Any] | SearchSpace) -> SearchSpace:
    """Validate a ``tune`` section; unknown paths and impossible ranges are :class:`ConfigError`.

    Example:
        >>> parse_space({"model.dropot": {"low": 0, "high": 0.5}})
        Traceback (most recent call last):
        deepwise.errors.ConfigError: The tune section names 'model.dropot', which is not a config option. ...
    """
    if isinstance(raw, SearchSpace):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(
            f"The tune section must be a mapping of config paths to ranges or choices (received {type(raw).__name__}).",
            expected="tune: {training.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}}",
            fix="write the tune section as in the example.",
        )
    paths = config_paths()
    valid = sorted(paths)
    for path in raw:
        if path not in paths:
            suggestion = _suggest_path(str(path), valid)
            hint = f" Did you mean '{suggestion}'?" if suggestion else ""
            raise ConfigError(
                f"The tune section names '{path}', which is not a config option.{hint}",
                expected="dotted paths of config options, e.g. " + ", ".join(list(DEFAULT_MLP_SPACE)[:3]),
                fix=f"rename '{path}' to '{suggestion}'." if suggestion else f"remove '{path}' from tune.",
            )
    try:
        space = SearchSpace.model_validate(raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            where = str(e["loc"][0]) if e["loc"] else "(tune)"
            lines.append(f"- tune.{where}: {e['msg']}")
        raise ConfigError(
            "The tune section is invalid:\n" + "\n".join(dict.fromkeys(lines)),
            expected="each entry either {low: A, high: B} (optionally log: true or step: S) or {choices: [...]}",
            fix="correct the entries listed above.",
        ) from None
    for path, spec in space.root.items():
        kind = paths[path]
        if isinstance(spec, Range):
            if kind not in ("int", "float"):
                raise ConfigError(
                    f"tune.{path} gives a range, but '{path}' is not a number ({kind}).",
                    expected=f"{path}: {{choices: [...]}}",
                    fix=f"list the values to try as choices for '{path}'.",
                )
            if kind == "int":
                bad = [v for v in (spec.low, spec.high, spec.step or 1) if float(v) != int(v)]
                if bad:
                    raise ConfigError(
                        f"tune.{path}: '{path}' is a whole number, but the range has {bad[0]}.",
                        expected="whole-number low, high and step",
                        fix=f"use whole numbers for '{path}'.",
                    )
    return space


DEFAULT_MLP_SPACE: dict[str, dict[str, Any]] = {
    "model.hidden_units": {"choices": [[32], [64], [64, 32], [128, 64], [128, 64, 32]]},
    "model.dropout": {"low": 0.0, "high": 0.5, "step": 0.05},  # a grid, so compiled programs get reused
    "training.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
    "training.batch_size": {"choices": [16, 32, 64, 128]},
}
_TRAINING = {k: v for k, v in DEFAULT_MLP_SPACE.items() if k.startswith("training.")}
# augmentation strength (on 250 MNIST digits a wider CNN with shifts, zoom and small rotations went from 0.92 to 0.95)
_AUGMENTATION: dict[str, dict[str, Any]] = {
    "data.augmentation.translation": {"choices": [0.0, 0.05, 0.1]},
    "data.augmentation.zoom": {"choices": [0.0, 0.1]},
    "data.augmentation.rotation": {"choices": [0.0, 0.05]},
}
_DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "mlp": DEFAULT_MLP_SPACE,
    "conv1d": {
        "model.filters": {"choices": [16, 32, 64]},
        "model.kernel_size": {"choices": [2, 3, 5]},
        "model.hidden_units": {"choices": [[], [32], [64, 32]]},
        "model.dropout": {"low": 0.0, "high": 0.5, "step": 0.05},
        **_TRAINING,
    },
    "lstm": {
        "model.recurrent_units": {"choices": [16, 32, 64, 128]},
        "model.hidden_units": {"choices": [[], [32], [64, 32]]},
        "model.dropout": {"low": 0.0, "high": 0.5, "step": 0.05},
        **_TRAINING,
    },
    "cnn": {
        "model.conv_filters": {"choices": [[16, 32], [32, 64], [32, 64, 128]]},
        "model.dropout": {"low": 0.0, "high": 0.5, "step": 0.05},
        "training.learning_rate": {"low": 1e-4, "high": 3e-3, "log": True},
        "training.batch_size": {"choices": [16, 32, 64]},
        **_AUGMENTATION,
    },
    "pretrained": {
        "model.dropout": {"low": 0.0, "high": 0.5, "step": 0.05},
        "training.learning_rate": {"low": 1e-4, "high": 3e-3, "log": True},
        "training.batch_size": {"choices": [16, 32, 64]},
        **_AUGMENTATION,
    },
}
_DEFAULT_SPACES["gru"] = _DEFAULT_SPACES["lstm"]


def default_space(model_type: str) -> SearchSpace:
    """The search space used when the config's ``tune`` section is empty.

    mlp: hidden layers, dropout, learning rate (log), batch size; conv1d adds filters and kernel size; lstm/gru
    recurrent units; cnn the filters of its conv blocks. Options this version's config lacks are left out.

    Example:
        >>> sorted(default_space("lstm").root)
        ['model.dropout', 'model.hidden_units', 'model.recurrent_units', 'training.batch_size', ...]
    """
    paths = config_paths()
    raw = _DEFAULT_SPACES.get(model_type, DEFAULT_MLP_SPACE)
    return parse_space({k: v for k, v in raw.items() if k in paths})


def _set_path(config: dict[str, Any], path: str, value: Any) -> None:
    node = config
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _get_path(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def apply_params(config: Config | dict[str, Any], params: dict[str, Any]) -> Config:
    """The config with each dotted path set to its value, validated (an impossible value is a ConfigError).

    Example:
        >>> apply_params(cfg, {"training.learning_rate": 0.003}).training.learning_rate
        0.003
    """
    raw = config.model_dump(mode="json") if isinstance(config, Config) else json.loads(json.dumps(config))
    for path, value in params.items():
        _set_path(raw, path, value)
    return config_from_dict(raw, "with the trial's values")


def _suggest(trial, space: SearchSpace, kinds: dict[str, str]) -> dict[str, Any]:
    """Draw every parameter of the space for a trial; returns decoded config values."""
    values: dict[str, Any] = {}
    for path, spec in space.root.items():
        if isinstance(spec, Choices):
            drawn = trial.suggest_categorical(path, [_encode(c) for c in spec.choices])
        elif kinds[path] == "int":
            step = int(spec.step or 1)
            drawn = trial.suggest_int(path, int(spec.low), int(spec.high), step=step, log=spec.log)
        else:
            drawn = trial.suggest_float(path, spec.low, spec.high, step=spec.step, log=spec.log)
        values[path] = _decode(spec, drawn)
    return values


def _current_values(config: Config, space: SearchSpace) -> dict[str, Any]:
    """The config's own values of the searched options that lie in the space (enqueued as trial 0)."""
    raw = config.model_dump(mode="json")
    found: dict[str, Any] = {}
    for path, spec in space.root.items():
        value = _get_path(raw, path)
        if value is None:
            continue
        if isinstance(spec, Choices):
            encoded = [_encode(c) for c in spec.choices]
            if _encode(value) in encoded:
                found[path] = _encode(value)
        elif isinstance(value, (int, float)) and spec.low <= value <= spec.high:
            found[path] = value
    return found


# ----------------------------------------------------------------------------------------------------- results


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
    refit: Any = None  # deepwise.predict.Run with refit=True
    space: dict[str, Any] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)

    def table(self, limit: int | None = None):
        """A rich table of the trials (number, state, params, validation score, duration)."""
        return trials_table(self, limit)

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{t.number}</td><td>{t.state}</td><td>{html.escape(_short_params(t.params))}</td>"
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


def _short_params(params: dict[str, Any]) -> str:
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
        note = escape(_short_params(t.params))
        if t.error and t.state in ("FAIL", "PRUNED") and not t.interrupted:
            note += f"  [{colours[t.state]}]{escape(_one_line(t.error, 60))}[/]"
        table.add_row(
            str(t.number),
            f"[{colours.get(t.state, 'white')}]{state}[/]",
            note,
            value,
            "-" if t.duration_s is None else f"{t.duration_s:.1f} s",
        )
    return table


def _one_line(text: str, width: int) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _summary(frozen) -> TrialSummary:
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


# ------------------------------------------------------------------------------------------------------ storage


def _optuna():
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


def _storage(url: str):
    """Optuna's RDB storage with heartbeats (stale trials of dead processes become FAIL) and a retry on the
    race of several processes creating the tables of an empty database at once."""
    optuna = _optuna()
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    elif url.startswith(("postgresql", "mysql")):
        kwargs = {"pool_pre_ping": True}
        if url.startswith("postgresql"):
            url = _postgres_driver(url)
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
        f"Cannot open the study storage '{hide_password(url)}': {_one_line(str(last), 300)}",
        expected="sqlite:///PATH, or postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE of a running server",
        fix="check the URL, that the server runs and that the database exists (CREATE DATABASE optuna).",
    )


def _postgres_driver(url: str) -> str:
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


def _sqlite_wal(path: Path) -> None:
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


def _fail_dead_local_trials(study) -> int:
    """RUNNING trials started on this machine by processes that no longer exist become FAIL (interrupted), and so
    do orphans (see :func:`_orphan`). Dead processes on other machines are found by Optuna's heartbeats."""
    optuna = _optuna()
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


def _counted(study) -> tuple[int, int]:
    """(trials that ran to an end of their own, trials running now)."""
    optuna = _optuna()
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


def _open_study(
    url: str, name: str, config: Config, space: SearchSpace, direction: str, metric: str, seed: int, create: bool
):
    optuna = _optuna()
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    epochs = config.training.epochs
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(2, epochs // 10))
    storage = _storage(url)
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


# -------------------------------------------------------------------------------------------------- the trials


def _trial_callback_class():
    """Keras callback: report -val_loss to Optuna each epoch, prune, and fail on a NaN loss."""
    from deepwise.backend import keras_module

    keras = keras_module()
    optuna = _optuna()

    class OptunaPruning(keras.callbacks.Callback):
        """Reports ``-val_loss`` after every epoch (higher is better, like the maximised objective, so the median
        pruner compares in the right direction; ``val_loss`` for a minimised one), raises ``optuna.TrialPruned``
        when the pruner says so, and raises ``FloatingPointError`` when the loss became NaN or infinite (the trial
        is then recorded as FAIL)."""

        def __init__(self, trial):
            super().__init__()
            self.trial = trial
            self.optuna_seconds = 0.0
            maximize = trial.study.direction == optuna.study.StudyDirection.MAXIMIZE
            self.sign = -1.0 if maximize else 1.0

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            loss, val_loss = logs.get("loss"), logs.get("val_loss")
            for name, value in (("loss", loss), ("validation loss", val_loss)):
                if value is not None and not math.isfinite(float(value)):
                    raise FloatingPointError(
                        f"training diverged: the {name} became {float(value)} in epoch {epoch + 1} (learning rate "
                        "too high for this model?)"
                    )
            if val_loss is None:
                return
            start = time.perf_counter()
            self.trial.report(self.sign * float(val_loss), epoch)
            prune = self.trial.should_prune()
            self.optuna_seconds += time.perf_counter() - start
            if prune:
                raise optuna.TrialPruned(
                    f"pruned after epoch {epoch + 1}: validation loss {float(val_loss):.4g} is worse than the median "
                    "of earlier trials at this epoch"
                )

    return OptunaPruning


@dataclass
class _Plan:
    """Everything a worker needs to run trials (sent to worker processes as JSON)."""

    config: dict[str, Any]
    space: dict[str, Any]
    storage: str
    study_name: str
    study_dir: str
    trials: int  # the size the study should reach
    share: int  # trials this worker may run at most
    timeout: float | None
    seed: int
    direction: str
    metric: str
    force: bool
    worker: int = 0
    parent_pid: int | None = None


class _TrialFailed(Exception):
    """A trial raised an error; it is recorded as FAIL and the study goes on."""


def _objective(plan: _Plan, config: Config, space: SearchSpace, kinds: dict[str, str]):
    optuna = _optuna()
    from deepwise.train import train

    callback_cls = _trial_callback_class()
    trials_dir = Path(plan.study_dir) / TRIALS_DIR

    def objective(trial) -> float:
        from deepwise.backend import keras_module

        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("worker", plan.worker)
        run_dir = trials_dir / f"trial-{trial.number:04d}"
        k = 2
        while run_dir.exists():  # a study folder reused with a new database: never overwrite a run
            run_dir = trials_dir / f"trial-{trial.number:04d}-{k}"
            k += 1
        trial.set_user_attr(ATTR_RUN_DIR, str(run_dir.resolve()))
        callback = callback_cls(trial)
        start = time.perf_counter()

        def finish(outcome: str, error: str | None = None) -> None:
            trial.set_user_attr(ATTR_TRAIN_S, round(time.perf_counter() - start, 3))
            trial.set_user_attr(ATTR_OPTUNA_S, round(callback.optuna_seconds, 4))
            if error is not None:
                trial.set_user_attr(ATTR_ERROR, error[:2000])
            trial.set_user_attr(ATTR_OUTCOME, outcome)

        try:
            params = _suggest(trial, space, kinds)
            cfg = apply_params(config, params)
            keras = keras_module()
            run = train(
                cfg,
                run_dir=run_dir,
                verbose=False,
                force=plan.force,
                callbacks=[keras.callbacks.TerminateOnNaN(), callback],
            )
            # model selection reads the validation split only; the run's test numbers are never looked at here
            value = run.metrics["validation"][run.metrics.get("main_metric", plan.metric)]
            if value is None or not math.isfinite(float(value)):
                raise FloatingPointError(f"the validation {plan.metric} is {value}")
        except optuna.TrialPruned as err:
            finish("pruned", str(err))
            raise
        except KeyboardInterrupt:
            raise  # no outcome: the trial was interrupted and does not count
        except Exception as err:  # noqa: BLE001 - any failure of one trial must not stop the study
            message = str(err.message if isinstance(err, DeepwiseError) else err) or type(err).__name__
            finish("failed", f"{type(err).__name__}: {message}")
            trial.set_user_attr("traceback", traceback.format_exc()[-4000:])
            if isinstance(err, DataError):
                trial.set_user_attr("data_error", True)
            raise _TrialFailed(message) from err
        finish("complete")
        return float(value)

    return objective


def _stopper(plan: _Plan, on_trial=None):
    """Optuna callback after each trial: stop at the study's size, when the parent died, or on a data error."""
    optuna = _optuna()
    state: dict[str, Any] = {"data_errors": [], "error": None}

    def callback(study, frozen) -> None:
        if on_trial is not None:
            on_trial(frozen)
        if frozen.user_attrs.get("data_error"):
            state["data_errors"].append(frozen.user_attrs.get(ATTR_ERROR))
            completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if not completed and len(state["data_errors"]) >= 2 and len(set(state["data_errors"][-2:])) == 1:
                state["error"] = state["data_errors"][-1]  # the data, not the trial's values: stop
                study.stop()
                return
        else:
            state["data_errors"].clear()
        done, running = _counted(study)
        if done + running >= plan.trials:  # trials running in other processes will count when they end
            study.stop()
        if plan.parent_pid is not None and os.getppid() != plan.parent_pid:
            study.stop()  # `deepwise tune` was killed: do not go on alone

    return callback, state


@contextlib.contextmanager
def compilation_cache(folder: Path):
    """JAX's persistent compilation cache in ``folder`` while trials run (unless the user configured one).

    Trials that differ only in values Keras keeps in variables (the learning rate) or that repeat a shape
    reuse the compiled XLA programs instead of compiling again: measured on penguins, a 10-epoch trial took
    1.6-3.9 s instead of 6-13 s. The previous settings are restored afterwards.
    """
    from deepwise.backend import keras_module

    if keras_module().backend.backend() != "jax":
        yield
        return
    import jax
    from jax.experimental.compilation_cache import compilation_cache as cc

    if jax.config.jax_compilation_cache_dir:  # the user's own cache wins
        yield
        return
    before = jax.config.jax_persistent_cache_min_compile_time_secs
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    try:
        yield
    finally:
        jax.config.update("jax_compilation_cache_dir", None)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", before)
        cc.reset_cache()


def run_worker(plan: _Plan, on_trial=None) -> None:
    """Run up to ``plan.share`` trials of the study in this process (stops early at the study's size)."""
    optuna = _optuna()
    # in-process, deepwise reports failures itself (the traceback is a user attr); workers keep optuna's log
    optuna.logging.set_verbosity(optuna.logging.ERROR if plan.parent_pid is None else optuna.logging.WARNING)
    config = config_from_dict(plan.config, "of the study")
    space = parse_space(plan.space)
    kinds = config_paths()
    study = _open_study(
        plan.storage, plan.study_name, config, space, plan.direction, plan.metric, plan.seed, create=False
    )
    done, running = _counted(study)
    if done + running >= plan.trials or plan.share <= 0:
        return
    callback, state = _stopper(plan, on_trial)
    with compilation_cache(Path(plan.study_dir) / CACHE_DIR):
        study.optimize(
            _objective(plan, config, space, kinds),
            n_trials=plan.share,
            timeout=plan.timeout,
            catch=(_TrialFailed,),
            callbacks=[callback],
        )
    if state["error"]:
        raise DataError(
            "Every trial so far failed on the data, whatever the hyperparameters:\n" + state["error"],
            fix="fix the data or the config as the message says (or pass --force if it is about the data checks).",
        )


def worker_main(argv: list[str]) -> int:
    """Entry point of a worker process: ``python -m deepwise.tune_worker PLAN.json``."""
    plan = _Plan(**json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    try:
        run_worker(plan)
    except KeyboardInterrupt:
        return 130
    except DeepwiseError as err:
        print(f"Error: {err.message}", file=sys.stderr)
        return 2
    return 0


# ----------------------------------------------------------------------------------------------------- tune()


def _console(verbose: bool, console: Console | None) -> Console | None:
    if not verbose:
        return None
    return console or Console()


def _trial_line(frozen, metric: str) -> str:
    t = _summary(frozen)
    colour = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red"}.get(t.state, "white")
    value = f" · val {metric} {t.value:.4f}" if t.value is not None else ""
    took = f" · {t.duration_s:.1f} s" if t.duration_s is not None else ""
    error = f" · {escape(_one_line(t.error, 90))}" if t.error and t.state == "FAIL" else ""
    return f"  trial {t.number:>3} [{colour}]{t.state:<8}[/]{value}{took} · {escape(_short_params(t.params))}{error}"


def tune(
    config: str | Path | Config | dict,
    *,
    trials: int = 20,
    timeout: float | None = None,
    workers: int = 1,
    storage: str | None = None,
    study_dir: str | Path | None = None,
    study_name: str | None = None,
    refit: bool = False,
    target: str | None = None,
    force: bool = False,
    verbose: bool = True,
    console: Console | None = None,
) -> StudyResult:
    """Search the config's ``tune`` space with Optuna; return every trial, the best one and the best config.

    ``trials``: the size the study should reach (an interrupted study re-run with the same arguments runs only the
    missing trials). ``timeout``: seconds after which no new trial starts (per worker). ``workers``: trial
    processes on this machine (spawned, sharing the storage). ``storage``: an Optuna database URL, e.g.
    ``postgresql://user:pw@host/db`` shared by workers on many machines (default: SQLite ``study.db`` in the
    study folder). ``study_dir``: where trial runs, ``best.yaml`` and logs go (default ``studies/<name>``).

    ``refit=True`` trains the best config once more as an ordinary run in ``<study_dir>/refit/`` on the training
    and validation rows together (``data.split.train_on_validation``), for the number of epochs the best trial's
    early stopping chose, then measures the untouched test split once, with the baselines (fitted on the same
    rows) and the verdict as in every run. Its test score is the first test number anyone looks at: the search
    itself only ever read validation scores.

    Example:
        >>> result = tune("deepwise.yaml", trials=30, workers=2)
        >>> result.best_config_path, result.best.value
    """
    from deepwise.train import prepare, resolve_config

    if trials < 1 or workers < 1:
        raise ConfigError(
            f"--trials and --workers must be at least 1 (received {trials} and {workers}).",
            fix="pass positive numbers.",
        )
    out = _console(verbose, console)
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # deepwise prints each trial itself
    cfg = resolve_config(config, target)
    auto_patience = cfg.training.early_stopping.patience is None
    data = prepare(cfg)  # fails fast on config and data errors, and resolves the task and inputs
    resolved = data.config
    if auto_patience:  # automatic patience depends on the batch size: each trial (and best.yaml) resolves its own
        resolved = resolved.model_copy(deep=True)
        resolved.training.early_stopping.patience = None
    model_type = resolved.model.type
    if model_type == "auto":
        model_type = "cnn" if getattr(data, "images", None) is not None else "mlp"
    space = parse_space(resolved.tune) if resolved.tune else default_space(model_type)
    task = data.task
    metric = task.main_metric
    direction = "maximize" if task.greater_is_better else "minimize"
    name = study_name or resolved.name or Path(resolved.data.path).stem
    folder = Path(study_dir) if study_dir is not None else Path("studies") / name
    (folder / TRIALS_DIR).mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(folder / STUDY_DB).resolve()}"
    if storage is None:
        _sqlite_wal(folder / STUDY_DB)
    study = _open_study(url, name, resolved, space, direction, metric, resolved.seed, create=True)
    if _fail_dead_local_trials(study) and out:
        out.print("  Trials left running by a process that died were marked FAIL (interrupted).")
    done, running = _counted(study)
    if not study.trials:
        start_values = _current_values(resolved, space)
        if start_values:
            study.enqueue_trial(start_values, skip_if_exists=True)  # trial 0: the config as written
    remaining = max(0, trials - done - running)
    if out:
        out.print(
            f"[bold]deepwise tune[/] · study [bold]{escape(name)}[/] · {escape(hide_password(url))} · "
            f"validation {metric} ({direction}) · {len(space.root)} option(s): {', '.join(space.root)}",
            highlight=False,
        )
        if done or running:
            out.print(
                f"  The study already has {done} finished trial(s)"
                + (f" and {running} running elsewhere" if running else "")
                + f"; running {remaining} more to reach {trials}.",
                highlight=False,
            )
    # each run of tune seeds its sampler differently, so a continued study does not repeat its first samples
    seed = resolved.seed + 1009 * len(study.trials)
    plan = _Plan(
        config=resolved.model_dump(mode="json"),
        space=space.to_dict(),
        storage=url,
        study_name=name,
        study_dir=str(folder.resolve()),
        trials=trials,
        share=remaining,
        timeout=timeout,
        seed=seed,
        direction=direction,
        metric=metric,
        force=force,
    )
    if remaining:
        if workers == 1:
            run_worker(plan, on_trial=(lambda frozen: out.print(_trial_line(frozen, metric))) if out else None)
        else:
            _run_workers(plan, min(workers, remaining), out)
    result = _result(study, name, url, folder, metric, space, resolved)
    if out:
        out.print(result.table())
        out.print(
            f"  {result.count('COMPLETE')} complete · {result.count('PRUNED')} pruned · {result.count('FAIL')} failed"
        )
    if result.best is None:
        if out:
            out.print("[red]No trial completed[/]; see the errors above (and the trial run directories).")
        return result
    if out:
        out.print(
            f"Best: trial {result.best.number}, validation {metric} {result.best.value:.4f} "
            f"({escape(_short_params(result.best.params))}); run {escape(str(result.best.run_dir))}",
            highlight=False,
        )
        out.print(f"Best config written to [bold]{escape(str(result.best_config_path))}[/]", highlight=False)
    if refit:
        from deepwise.train import train

        refit_config = refit_config_for(result)
        if out:
            out.print(
                f"[bold]Refit[/]: the best config trained on the training and validation rows together for "
                f"{refit_config.training.epochs} epoch(s) (the best trial's best epoch), measured once on the test "
                "split.",
                highlight=False,
            )
        result.refit = train(refit_config, runs_dir=folder / REFIT_DIR, verbose=verbose, console=out, force=force)
        verdict = result.refit.metrics.get("verdict")
        if out and verdict:
            out.print(
                f"Refit run: {escape(str(result.refit.path))} · verdict [bold]{verdict['code']}[/]", highlight=False
            )
    return result


def _head_best_epoch(run_dir: Path, head_end: int, cfg: Config) -> int | None:
    """The epoch (1-based) whose weights early stopping restored at the end of the head phase, from history.csv."""
    import pandas as pd

    try:
        losses = pd.read_csv(run_dir / HISTORY)["val_loss"].to_numpy()[:head_end]
    except (OSError, KeyError, ValueError):
        return None
    best, best_epoch = math.inf, None
    for epoch, loss in enumerate(losses, start=1):  # Keras' rule: better by more than min_delta
        if best_epoch is None or loss + cfg.training.early_stopping.min_delta < best:  # Keras: the 1st always
            best, best_epoch = loss, epoch
    return best_epoch


def refit_config_for(result: StudyResult) -> Config:
    """The best config as a final refit: train + validation rows, no early stopping, the best trial's best epoch.

    The number of epochs is the one the best trial's early stopping chose on validation; with the validation rows
    added to training there is nothing left to stop on, so the refit trains exactly that long.
    """
    if result.best is None or result.best_config is None:
        raise RunError("The study has no completed trial to refit.", fix="run more trials first.")
    cfg = result.best_config.model_copy(deep=True)
    metrics_path = Path(result.best.run_dir) / "metrics.json" if result.best.run_dir else None
    best_epoch = tuned_from = None
    if metrics_path is not None and metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())
        best_epoch, tuned_from = metrics.get("best_epoch"), metrics.get("fine_tune_from")
    if not best_epoch:
        raise RunError(
            f"The best trial's run ({result.best.run_dir}) has no recorded best epoch to refit with.",
            expected="a complete trial run directory with metrics.json",
            fix="re-run `deepwise tune` without --refit, or train best.yaml yourself with `deepwise train`.",
        )
    head_epochs = int(best_epoch)
    if cfg.model.fine_tune_layers and cfg.model.fine_tune_epochs:
        head_end = cfg.training.epochs if tuned_from is None else int(tuned_from)  # where fine-tuning began
        # the best epoch fell in fine-tuning: the head's best epoch (fine-tuning started from its weights), then
        # that many epochs of fine-tuning; else the head's epochs and no fine-tuning
        cfg.model.fine_tune_epochs = max(head_epochs - head_end, 0)
        if cfg.model.fine_tune_epochs and tuned_from is not None:
            head_epochs = head_end  # without early stopping, fine-tuning started from the head's last epoch
            if cfg.training.early_stopping.enabled:
                head_epochs = _head_best_epoch(Path(result.best.run_dir), head_end, cfg) or head_end
        head_epochs = min(head_epochs, head_end)
    cfg.training.epochs = head_epochs
    cfg.training.early_stopping.enabled = False
    cfg.data.split.train_on_validation = True
    cfg.name = f"{cfg.name or Path(cfg.data.path).stem}-refit"
    return cfg


def _result(study, name: str, url: str, folder: Path, metric: str, space: SearchSpace, resolved: Config) -> StudyResult:
    summaries = [_summary(t) for t in study.get_trials(deepcopy=False)]
    completed = [t for t in summaries if t.state == "COMPLETE"]
    best = best_config = best_path = None
    if completed:
        frozen = study.best_trial
        best = next(t for t in summaries if t.number == frozen.number)
        best_config = apply_params(resolved, {k: _decode(space.root[k], v) for k, v in best.params.items()})
        best_config.tune = resolved.tune
        best_path = folder / BEST_CONFIG
        header = (
            f"Best config of study '{name}' ({hide_password(url)}): trial {best.number}, validation {metric} "
            f"{best.value:.4f} over {len(completed)} complete trial(s).\nTrain it: deepwise train {best_path}"
        )
        atomic_write_text(best_path, dump_config(best_config, header=header))
    return StudyResult(
        name, hide_password(url), folder, metric, summaries, best, best_config, best_path, None, space.to_dict()
    )


def _run_workers(plan: _Plan, workers: int, out: Console | None) -> None:
    """Start ``workers`` processes (spawned, not forked: JAX is not fork-safe), each with its share of the trials,
    and print each trial as it finishes."""
    logs = Path(plan.study_dir) / LOGS_DIR
    logs.mkdir(parents=True, exist_ok=True)
    base, extra = divmod(plan.share, workers)
    procs: list[tuple[subprocess.Popen, Any]] = []
    study = _open_study(
        plan.storage,
        plan.study_name,
        config_from_dict(plan.config),
        parse_space(plan.space),
        plan.direction,
        plan.metric,
        plan.seed,
        create=False,
    )
    seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # each worker gets its share of the cores for OpenMP / BLAS (scikit-learn baselines): oversubscribed OpenMP
    # threads spin and can make a 1-second fit take a minute
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)
    # (XLA's own threads are left alone: pinning each worker to one measured 1.06x vs 1.23x unpinned, 2 cores)
    waiting = (_optuna().trial.TrialState.WAITING,)
    try:
        for i in range(workers):
            if i == 1:
                # SQLite has no row locks: two workers could both take the one enqueued trial (the config as
                # written), so the others start once worker 0 has taken it
                while study.get_trials(deepcopy=False, states=waiting) and procs[0][0].poll() is None:
                    time.sleep(0.2)
            share = base + (1 if i < extra else 0)
            worker_plan = replace(plan, share=share, worker=i, seed=plan.seed + 7919 * (i + 1), parent_pid=os.getpid())
            plan_file = logs / f"worker-{i}.json"
            atomic_write_text(plan_file, json.dumps(asdict(worker_plan)))
            log = open(logs / f"worker-{i}.log", "ab")  # noqa: SIM115 - closed below
            proc = subprocess.Popen(
                [sys.executable, "-m", "deepwise.tune_worker", str(plan_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            procs.append((proc, log))
        if out:
            out.print(f"  Started {workers} worker processes (logs in {escape(str(logs))}).", highlight=False)
        while True:
            finished = all(p.poll() is not None for p, _ in procs)
            for frozen in study.get_trials(deepcopy=False):
                if frozen.state.is_finished() and frozen.number not in seen:
                    seen.add(frozen.number)
                    if out:
                        out.print(_trial_line(frozen, plan.metric))
            if finished:
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        for p, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        for p, _ in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
        raise
    finally:
        for _, log in procs:
            log.close()
    done, running = _counted(study)
    if done < plan.trials and out:
        out.print(
            f"[yellow]The study has {done} of {plan.trials} trials[/]"
            + (f" ({running} still running elsewhere)" if running else "")
            + "; run the same command again to continue it."
        )
    bad = [(i, p.returncode) for i, (p, _) in enumerate(procs) if p.returncode not in (0, None)]
    if bad and out:
        for i, code in bad:
            out.print(f"[yellow]Worker {i} exited with code {code}[/]; see {escape(str(logs / f'worker-{i}.log'))}.")
    user_errors = [i for i, code in bad if code == 2]
    if user_errors:
        tail = (logs / f"worker-{user_errors[0]}.log").read_text(errors="replace").strip().splitlines()[-6:]
        raise DeepwiseError(
            f"Worker {user_errors[0]} stopped on an error in the data or the config:\n" + "\n".join(tail),
            fix="correct what the message says, then run the same command again (finished trials are kept).",
        )
