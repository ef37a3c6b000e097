"""Steps 1-2: formulate the problem and identify inputs and outputs (``deepwise init``).

Reads the data, lets its kind infer the task from the target and choose the inputs (dropping ID-like and constant
columns, with the reason), and resolves a config in which every default is spelled out.

Example:
    >>> problem = formulate("penguins.csv", target="species")
    >>> problem.config.problem.task
    'multiclass'
    >>> problem.write("deepwise.yaml")
"""

from __future__ import annotations

from pathlib import Path

from deepwise.config import Config, DataConfig, ProblemConfig
from deepwise.errors import ConfigError
from deepwise.kinds import Problem, kind_for_config


def formulate(data: str | Path | Config, target: str | None = None) -> Problem:
    """Resolve task and inputs for a data file (with ``target``) or for a config (explicit choices are kept)."""
    if isinstance(data, Config):
        config = data.model_copy(deep=True)
    else:
        if not target:
            raise ConfigError(
                f"No target column given for '{data}'.",
                expected="the name of the column to predict",
                fix="pass the column to predict: --target COLUMN (Python: target=\"COLUMN\"), e.g. --target species.",
            )
        config = Config(problem=ProblemConfig(target=target), data=DataConfig(path=str(Path(data).resolve())))
    return kind_for_config(config).formulate(config)
