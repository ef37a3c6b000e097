"""deepwise: find out whether deep learning helps with your data, and get a good model, honestly measured.

Example:
    >>> import deepwise
    >>> run = deepwise.train("examples/penguins/penguins.csv", target="species")
    >>> run.predict(new_rows)
"""

from deepwise import backend as _backend  # noqa: F401  (sets KERAS_BACKEND before Keras is imported)
from deepwise.config import Config, load_config  # noqa: E402
from deepwise.doctor import doctor  # noqa: E402
from deepwise.errors import DeepwiseError  # noqa: E402
from deepwise.formulate import formulate  # noqa: E402
from deepwise.inspection import Finding, Findings, inspect  # noqa: E402
from deepwise.report import report as write_report  # noqa: E402
from deepwise.run import Run, generate, load_run, predict  # noqa: E402
from deepwise.train import resume, train  # noqa: E402
from deepwise.tune import StudyResult, tune  # noqa: E402
from deepwise.version import __version__  # noqa: E402

__all__ = [
    "Config",
    "DeepwiseError",
    "Finding",
    "Findings",
    "Run",
    "StudyResult",
    "__version__",
    "doctor",
    "formulate",
    "generate",
    "inspect",
    "load_config",
    "load_run",
    "predict",
    "resume",
    "train",
    "tune",
    "write_report",
]
