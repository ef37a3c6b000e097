"""requirements-lock.txt pins every dependency pyproject.toml declares (main, test and export extras), so that
`pip install -r requirements-lock.txt` rebuilds the tested environment; `make lock` regenerates it."""

from __future__ import annotations

from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def test_the_lock_pins_every_declared_dependency_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    declared += project["optional-dependencies"]["export"]
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            assert version and canonicalize_name(name) not in pins, f"not one exact pin: {line!r}"
            pins[canonicalize_name(name)] = version
    for requirement in map(Requirement, declared):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned: run `make lock`"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} does not satisfy {requirement}"
