"""User-facing errors: what was received, what was expected, how to fix it.

Anything the user can correct raises :class:`DeepwiseError`; the CLI prints it as one paragraph and exits 2.
"""

from __future__ import annotations


class DeepwiseError(Exception):
    """An error in the user's input, data or config (CLI exit code 2).

    Example:
        >>> raise DeepwiseError("The target column 'spieces' is not in penguins.csv.",
        ...                     expected="one of: species, island, ...", fix="pass --target species")
    """

    exit_code = 2

    def __init__(self, problem: str, *, expected: str | None = None, fix: str | None = None):
        self.problem = problem
        self.expected = expected
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [self.problem.rstrip()]
        if self.expected:
            parts.append(f"Expected: {self.expected.rstrip()}")
        if self.fix:
            parts.append(f"Fix: {self.fix.rstrip()}")
        return "\n".join(parts)


class DataError(DeepwiseError):
    """The data cannot be used as given."""


class ConfigError(DeepwiseError):
    """The config is invalid."""


class RunError(DeepwiseError):
    """A run directory is missing, incomplete or cannot be written."""
