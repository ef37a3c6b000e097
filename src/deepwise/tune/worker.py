"""One trial worker of ``deepwise tune``: it asks the study for trials, trains each as an ordinary run (pruned per
epoch by the study), and reports the validation score. ``--workers K`` starts K of them as processes.

Example:
    >>> run_worker(plan)   # until the study has plan.trials trials, or plan.timeout
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepwise.backend import keras_module
from deepwise.config import Config, config_from_dict
from deepwise.errors import DataError, DeepwiseError
from deepwise.train import train
from deepwise.tune.space import SearchSpace, apply_params, config_paths, parse_space, suggest
from deepwise.tune.study import (
    ATTR_ERROR,
    ATTR_OPTUNA_S,
    ATTR_OUTCOME,
    ATTR_RUN_DIR,
    ATTR_TRAIN_S,
    CACHE_DIR,
    TRIALS_DIR,
    counted,
    open_study,
    optuna_module,
)


def trial_callback_class():
    """Keras callback: report -val_loss to Optuna each epoch, prune, and fail on a NaN loss."""
    keras = keras_module()
    optuna = optuna_module()

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
class Plan:
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


class TrialFailed(Exception):
    """A trial raised an error; it is recorded as FAIL and the study goes on."""


def objective_for(plan: Plan, config: Config, space: SearchSpace, kinds: dict[str, str]):
    optuna = optuna_module()
    callback_cls = trial_callback_class()
    trials_dir = Path(plan.study_dir) / TRIALS_DIR

    def objective(trial) -> float:
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
            params = suggest(trial, space, kinds)
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
            raise TrialFailed(message) from err
        finish("complete")
        return float(value)

    return objective


def stopper_for(plan: Plan, on_trial=None):
    """Optuna callback after each trial: stop at the study's size, when the parent died, or on a data error."""
    optuna = optuna_module()
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
        done, running = counted(study)
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


def run_worker(plan: Plan, on_trial=None) -> None:
    """Run up to ``plan.share`` trials of the study in this process (stops early at the study's size)."""
    optuna = optuna_module()
    # in-process, deepwise reports failures itself (the traceback is a user attr); workers keep optuna's log
    optuna.logging.set_verbosity(optuna.logging.ERROR if plan.parent_pid is None else optuna.logging.WARNING)
    config = config_from_dict(plan.config, "of the study")
    space = parse_space(plan.space)
    kinds = config_paths()
    study = open_study(
        plan.storage, plan.study_name, config, space, plan.direction, plan.metric, plan.seed, create=False
    )
    done, running = counted(study)
    if done + running >= plan.trials or plan.share <= 0:
        return
    callback, state = stopper_for(plan, on_trial)
    with compilation_cache(Path(plan.study_dir) / CACHE_DIR):
        study.optimize(
            objective_for(plan, config, space, kinds),
            n_trials=plan.share,
            timeout=plan.timeout,
            catch=(TrialFailed,),
            callbacks=[callback],
        )
    if state["error"]:
        raise DataError(
            "Every trial so far failed on the data, whatever the hyperparameters:\n" + state["error"],
            fix="fix the data or the config as the message says (or pass --force, Python force=True, if it is about "
            "the data checks).",
        )


def worker_main(argv: list[str]) -> int:
    """Entry point of a worker process: ``python -m deepwise.tune_worker PLAN.json``."""
    plan = Plan(**json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    try:
        run_worker(plan)
    except KeyboardInterrupt:
        return 130
    except DeepwiseError as err:
        print(f"Error: {err.message}", file=sys.stderr)
        return 2
    return 0
