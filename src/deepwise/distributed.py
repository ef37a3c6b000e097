"""Data-parallel training across processes and machines with ``keras.distribution`` + ``jax.distributed``.

Every process runs the same program on its own shard of the training rows; gradients are averaged with
collectives (gloo on CPU, NCCL on GPUs), so the weights stay identical in every process. Nothing here is a
home-made cluster: :func:`initialize` calls ``keras.distribution.initialize`` (which starts
``jax.distributed`` and syncs the random seed), :func:`data_parallel` sets Keras' ``DataParallel``
distribution, and :func:`shard` gives each process an equal share of the rows (equal steps per epoch, which
the collectives need).

The processes are told who they are by arguments or by environment variables::

    DEEPWISE_COORDINATOR=10.0.0.1:7777   # host:port of process 0 (every process gives the same address)
    DEEPWISE_NUM_PROCESSES=2
    DEEPWISE_PROCESS_ID=0                # 0 .. n-1, a different one in each process

Example (run once per process, with its own ``DEEPWISE_PROCESS_ID``):
    >>> from deepwise import distributed
    >>> distributed.initialize()                      # reads DEEPWISE_* (no-op for one process)
    >>> distributed.data_parallel()                   # before the model is built
    >>> model = build_model(data)
    >>> x, y = distributed.shard(data.x["train"]["features"], data.y["train"])
    >>> model.fit(x, y, batch_size=distributed.per_process_batch(32), epochs=50)
    >>> if distributed.is_main_process(): save(model)
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.errors import ConfigError

ENV_COORDINATOR = "DEEPWISE_COORDINATOR"
ENV_NUM_PROCESSES = "DEEPWISE_NUM_PROCESSES"
ENV_PROCESS_ID = "DEEPWISE_PROCESS_ID"

_state: dict[str, Any] = {"initialized": False, "num_processes": 1, "process_id": 0}


@dataclass(frozen=True)
class ProcessInfo:
    """Who this process is in the job."""

    process_id: int
    num_processes: int
    coordinator: str | None

    @property
    def is_main(self) -> bool:
        return self.process_id == 0


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            f"The environment variable {name}={raw!r} is not a whole number.",
            expected=f"{name}=<integer>",
            fix=f"set {name} to a number, or unset it.",
        ) from None


def initialize(
    coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> ProcessInfo:
    """Join the multi-process job (``keras.distribution.initialize``); a no-op for a single process.

    Arguments win over ``DEEPWISE_COORDINATOR`` / ``DEEPWISE_NUM_PROCESSES`` / ``DEEPWISE_PROCESS_ID``. Call it
    once per process, before any JAX computation. Calling it again in the same process returns the same info.

    Example:
        >>> initialize("127.0.0.1:7777", num_processes=2, process_id=1)
        ProcessInfo(process_id=1, num_processes=2, coordinator='127.0.0.1:7777')
    """
    coordinator = coordinator or os.environ.get(ENV_COORDINATOR) or None
    num_processes = num_processes if num_processes is not None else _env_int(ENV_NUM_PROCESSES)
    process_id = process_id if process_id is not None else _env_int(ENV_PROCESS_ID)
    if _state["initialized"]:
        return info()
    if num_processes is None or num_processes <= 1:
        _state.update(initialized=True, num_processes=1, process_id=0, coordinator=None)
        return info()
    if coordinator is None or process_id is None:
        missing = [n for n, v in ((ENV_COORDINATOR, coordinator), (ENV_PROCESS_ID, process_id)) if v is None]
        raise ConfigError(
            f"Data-parallel training over {num_processes} processes needs {' and '.join(missing)}.",
            expected="the coordinator's host:port (the same in every process) and this process's id 0..n-1",
            fix=f"set {ENV_COORDINATOR}=HOST:PORT and {ENV_PROCESS_ID}=<0..{num_processes - 1}> in each process.",
        )
    if not 0 <= process_id < num_processes:
        raise ConfigError(
            f"Process id {process_id} is outside 0..{num_processes - 1}.",
            expected=f"{ENV_PROCESS_ID} between 0 and {ENV_NUM_PROCESSES} - 1",
            fix="give every process a different id, starting at 0 (the coordinator).",
        )
    keras = keras_module()
    if keras.backend.backend() != "jax":
        raise ConfigError(
            f"Multi-process data parallelism needs the JAX backend (KERAS_BACKEND is {keras.backend.backend()}).",
            fix="unset KERAS_BACKEND or set it to jax.",
        )
    keras.distribution.initialize(job_addresses=coordinator, num_processes=num_processes, process_id=process_id)
    _state.update(initialized=True, num_processes=num_processes, process_id=process_id, coordinator=coordinator)
    return info()


def info() -> ProcessInfo:
    """This process's id, the number of processes and the coordinator (1 process before :func:`initialize`)."""
    return ProcessInfo(_state["process_id"], _state["num_processes"], _state.get("coordinator"))


def is_main_process() -> bool:
    """True in process 0, the one that writes results (and in a single-process program)."""
    return _state["process_id"] == 0


def num_processes() -> int:
    return _state["num_processes"]


def data_parallel():
    """Replicate the model on every device of every process and split each batch across them.

    Call it after :func:`initialize` and before the model is built. Returns the distribution.
    ``auto_shard_dataset=False``: every process feeds its own shard (:func:`shard`) as NumPy arrays.

    Example:
        >>> data_parallel()
        >>> model = build_model(data)   # variables are created replicated
    """
    keras = keras_module()
    import jax

    distribution = keras.distribution.DataParallel(devices=jax.devices(), auto_shard_dataset=False)
    keras.distribution.set_distribution(distribution)
    return distribution


def no_distribution() -> None:
    """Back to ordinary single-process execution (for evaluating a copy of the trained model locally)."""
    keras_module().distribution.set_distribution(None)


def shard(*arrays: Any, process_id: int | None = None, n_processes: int | None = None):
    """This process's rows of each array: ``x[i::n]``, cut to the same length in every process.

    Every process gets ``len // n`` rows (at most ``n - 1`` rows are left out overall), so all processes run the
    same number of steps per epoch. Dicts of arrays (several model inputs) are sharded key by key.
    Returns one array when one is given, else a tuple.

    Example:
        >>> shard(np.arange(10), process_id=1, n_processes=3)
        array([1, 4, 7])
    """
    i = _state["process_id"] if process_id is None else process_id
    n = _state["num_processes"] if n_processes is None else n_processes

    def one(a):
        if isinstance(a, dict):
            return {k: one(v) for k, v in a.items()}
        if n <= 1:
            return a
        per = len(a) // n
        return a[i::n][:per]

    out = tuple(one(a) for a in arrays)
    return out[0] if len(out) == 1 else out


def per_process_batch(global_batch: int, n_processes: int | None = None) -> int:
    """Rows per step in each process so that one step over all processes sees ``global_batch`` rows.

    Example:
        >>> per_process_batch(32, 2)
        16
    """
    n = _state["num_processes"] if n_processes is None else n_processes
    return max(1, math.ceil(global_batch / n))


def scratch_run_dir() -> Path:
    """A throw-away run directory for processes other than 0 (removed when the process exits).

    Every process runs the same training code, run directory writes included; only process 0's are kept.

    Example:
        >>> run_dir = None if is_main_process() else scratch_run_dir()
    """
    folder = tempfile.mkdtemp(prefix=f"deepwise-process-{_state['process_id']}-")
    atexit.register(shutil.rmtree, folder, True)
    return Path(folder) / "run"


def local_copy(model, build: Callable[[], Any]):
    """A single-process model with the trained (replicated) weights, for evaluating and saving locally.

    ``build`` builds the same architecture (e.g. ``lambda: build_model(data)``); it is called with the
    distribution switched off.

    Example:
        >>> model = local_copy(model, lambda: build_model(data))
        >>> model.predict(x_test)
    """
    weights = [np.asarray(w) for w in model.get_weights()]
    no_distribution()
    copy = build()
    copy.set_weights(weights)
    return copy
