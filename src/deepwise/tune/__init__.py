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

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from deepwise.config import Config, apply_values, config_from_dict, dump_config
from deepwise.errors import ConfigError, DeepwiseError, RunError
from deepwise.records import HISTORY, atomic_write_text
from deepwise.train import prepare, resolve_config, train
from deepwise.tune.space import SearchSpace, apply_params, current_values, decode, default_space, parse_space
from deepwise.tune.study import (
    BEST_CONFIG,
    LOGS_DIR,
    REFIT_DIR,
    STUDY_DB,
    TRIALS_DIR,
    StudyResult,
    counted,
    fail_dead_local_trials,
    hide_password,
    one_line,
    open_study,
    optuna_module,
    short_params,
    sqlite_wal,
    trial_summary,
)
from deepwise.tune.worker import Plan, run_worker


def _console(verbose: bool, console: Console | None) -> Console | None:
    if not verbose:
        return None
    return console or Console()


def _trial_line(frozen, metric: str) -> str:
    t = trial_summary(frozen)
    colour = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red"}.get(t.state, "white")
    value = f" · val {metric} {t.value:.4f}" if t.value is not None else ""
    took = f" · {t.duration_s:.1f} s" if t.duration_s is not None else ""
    error = f" · {escape(one_line(t.error, 90))}" if t.error and t.state == "FAIL" else ""
    return f"  trial {t.number:>3} [{colour}]{t.state:<8}[/]{value}{took} · {escape(short_params(t.params))}{error}"


# One piece: the steps of a study in the order a user reads them in its output (open or continue the study,
# run the trials, write best.yaml, refit); each step is a call, the rest is what it prints between them.
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
    overrides: dict[str, Any] | None = None,
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
    if trials < 1 or workers < 1:
        raise ConfigError(
            f"--trials and --workers must be at least 1 (received {trials} and {workers}).",
            fix="pass positive numbers.",
        )
    out = _console(verbose, console)
    optuna = optuna_module()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # deepwise prints each trial itself
    cfg = resolve_config(config, target)
    if overrides:  # config values by dotted path, e.g. {"training.tensorboard": True}: every trial has them
        cfg = apply_values(cfg, overrides, "with the overrides")
    auto_patience = cfg.training.early_stopping.patience is None
    data = prepare(cfg)  # fails fast on config and data errors, and resolves the task and inputs
    resolved = data.config
    if auto_patience:  # automatic patience depends on the batch size: each trial (and best.yaml) resolves its own
        resolved = resolved.model_copy(deep=True)
        resolved.training.early_stopping.patience = None
    space = parse_space(resolved.tune) if resolved.tune else default_space(resolved.model.type)  # resolved by kind
    task = data.task
    metric = task.main_metric
    direction = "maximize" if task.greater_is_better else "minimize"
    name = study_name or resolved.name or Path(resolved.data.path).stem
    folder = Path(study_dir) if study_dir is not None else Path("studies") / name
    (folder / TRIALS_DIR).mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(folder / STUDY_DB).resolve()}"
    if storage is None:
        sqlite_wal(folder / STUDY_DB)
    study = open_study(url, name, resolved, space, direction, metric, resolved.seed, create=True)
    if fail_dead_local_trials(study) and out:
        out.print("  Trials left running by a process that died were marked FAIL (interrupted).")
    done, running = counted(study)
    if not study.trials:
        start_values = current_values(resolved, space)
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
    plan = Plan(
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
            f"({escape(short_params(result.best.params))}); run {escape(str(result.best.run_dir))}",
            highlight=False,
        )
        out.print(f"Best config written to [bold]{escape(str(result.best_config_path))}[/]", highlight=False)
    if refit:
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
        if best_epoch is None or loss + (cfg.training.early_stopping.min_delta or 0.0) < best:  # Keras: the 1st always
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
    summaries = [trial_summary(t) for t in study.get_trials(deepcopy=False)]
    completed = [t for t in summaries if t.state == "COMPLETE"]
    best = best_config = best_path = None
    if completed:
        frozen = study.best_trial
        best = next(t for t in summaries if t.number == frozen.number)
        best_config = apply_params(resolved, {k: decode(space.root[k], v) for k, v in best.params.items()})
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


# One piece: starting, watching and stopping the worker processes share their handles and log files, and a
# Ctrl-C at any point must stop every one of them (the try/finally spans it all).
def _run_workers(plan: Plan, workers: int, out: Console | None) -> None:
    """Start ``workers`` processes (spawned, not forked: JAX is not fork-safe), each with its share of the trials,
    and print each trial as it finishes."""
    logs = Path(plan.study_dir) / LOGS_DIR
    logs.mkdir(parents=True, exist_ok=True)
    base, extra = divmod(plan.share, workers)
    procs: list[tuple[subprocess.Popen, Any]] = []
    study = open_study(
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
    waiting = (optuna_module().trial.TrialState.WAITING,)
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
    done, running = counted(study)
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
