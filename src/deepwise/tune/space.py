"""The search space of ``deepwise tune``: dotted config paths to ranges or choices, validated against the config,
and the default space of each model type.

Example:
    >>> space = parse_space({"training.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}})
    >>> apply_params(config, {"training.learning_rate": 0.003}).training.learning_rate
    0.003
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator, model_validator

from deepwise.config import Config, apply_values
from deepwise.errors import ConfigError


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


def decode(spec: ParamSpec, value: Any) -> Any:
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
    "gru": {
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


def default_space(model_type: str) -> SearchSpace:
    """The search space used when the config's ``tune`` section is empty.

    mlp: hidden layers, dropout, learning rate (log), batch size; conv1d adds filters and kernel size; lstm/gru
    recurrent units; cnn the filters of its conv blocks. Options this version's config lacks are left out.

    Example:
        >>> sorted(default_space("lstm").root)
        ['model.dropout', 'model.hidden_units', 'model.recurrent_units', 'training.batch_size', ...]
    """
    paths = config_paths()
    raw = _DEFAULT_SPACES.get(model_type, _TRAINING)  # another kind's model: its learning rate and batch size
    return parse_space({k: v for k, v in raw.items() if k in paths})


def _get_path(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def apply_params(config: Config | dict[str, Any], params: dict[str, Any]) -> Config:
    """The config with a trial's values (dotted paths), validated (an impossible value is a ConfigError).

    Example:
        >>> apply_params(cfg, {"training.learning_rate": 0.003}).training.learning_rate
        0.003
    """
    return apply_values(config, params, "with the trial's values")


def suggest(trial, space: SearchSpace, kinds: dict[str, str]) -> dict[str, Any]:
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
        values[path] = decode(spec, drawn)
    return values


def current_values(config: Config, space: SearchSpace) -> dict[str, Any]:
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
