"""deepwise: find out whether deep learning helps with your data, and get a good model, honestly measured.

Example:
    >>> import deepwise
    >>> run = deepwise.train("examples/penguins/penguins.csv", target="species")
    >>> run.predict(new_rows)
"""

from deepwise import backend as _backend  # noqa: F401  (sets KERAS_BACKEND before Keras is imported)
from deepwise.collector import set_aside as _set_aside

with _set_aside():  # the garbage collector skips the libraries imported before deepwise while deepwise imports
    from deepwise.config import Config, load_config
    from deepwise.doctor import doctor
    from deepwise.errors import DeepwiseError
    from deepwise.formulate import formulate
    from deepwise.inspection import Finding, Findings, inspect
    from deepwise.report import report as write_report
    from deepwise.run import Run, generate, load_run, predict
    from deepwise.train import resume, train
    from deepwise.tune import StudyResult, tune
    from deepwise.version import __version__

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
