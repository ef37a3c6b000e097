"""Python's garbage collector kept off the libraries' long-lived objects while deepwise trains.

The cyclic collector's full passes scan every tracked object; once JAX, Keras, pandas and scikit-learn are imported
that is over a million objects (modules, functions, classes), scanned again and again although none of them is
garbage. While a ``train`` call runs, deepwise sets the objects alive at its start, and those Keras' import brings,
aside (:func:`gc.freeze`) and puts them back when it returns (:func:`gc.unfreeze`): nothing lives longer than it
would (garbage among them is collected at the next pass after the call), and the objects the run creates are
collected as usual, young ones a little less often. Measured on the wine table (2 cores, bench/README.md): the time
in the collector fell from 0.73-0.78 s to 0.22-0.36 s of a 5.5 s process. A process that froze objects itself, or
turned the collector off, is left as it is.

The ``deepwise`` command also sets everything aside at its exit (:func:`skip_final_collections`): Python's shutdown
runs full collections while it takes the modules apart, and over the objects of Keras, JAX, pandas and scikit-learn
they took 0.7-0.8 s of every process that imported Keras (0.08-0.10 s with them set aside; bench/README.md,
issue 24). What that skips is the finalizers of objects that only the collector frees, and a module's globals are
such objects (a module's functions refer back to its globals): a script's file left open in a global would not be
flushed. So only the command does it, whose process runs no user code; ``import deepwise`` leaves a script's exit
as Python makes it.

Example:
    >>> with set_aside():
    ...     run = fit()           # full passes scan what the run creates, not the imported libraries
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: objects allocated (less those freed) between two young collections while set aside; Python's default is 700
YOUNG_THRESHOLD = 10_000

_depth = 0  # nested set_aside blocks (tune's trials train inside tune); only the outermost one freezes
_frozen = False  # the outermost block froze objects (and will unfreeze them)


@contextmanager
def set_aside() -> Iterator[None]:
    """Freeze the objects alive now for the duration of the block, then unfreeze them (and restore the thresholds)."""
    global _depth, _frozen
    mine = _depth == 0 and gc.isenabled() and gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    _depth += 1
    if mine:
        gc.freeze()
        gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
        _frozen = True
    try:
        yield
    finally:
        _depth -= 1
        if mine:
            _frozen = False
            gc.set_threshold(*thresholds)
            gc.unfreeze()


def set_aside_imported() -> None:
    """Inside a :func:`set_aside` block, also set aside what a library just imported (call once, right after its
    first import: whatever else is young then is set aside with it until the block ends)."""
    if _frozen:
        gc.freeze()


def _freeze_at_exit() -> None:
    if gc.isenabled():
        gc.freeze()


def skip_final_collections() -> None:
    """Register (once) an exit handler that sets aside every object still alive, so that the interpreter's shutdown
    does not scan them all again (a process that turned the collector off is left as it is). For processes that run
    no user code (the ``deepwise`` command): objects freed only by the collector are not finalized at exit."""
    global _exit_registered
    if not _exit_registered:
        atexit.register(_freeze_at_exit)
        _exit_registered = True


_exit_registered = False
