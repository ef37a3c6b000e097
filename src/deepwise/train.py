"""Steps 3-6 from end to end: prepare the data, check it, train the network, measure it once on the test split
against the baselines, and save the run. Every step that depends on the kind of data is the kind's
(:mod:`deepwise.kinds`); training is :mod:`deepwise.training`; the run directory is :mod:`deepwise.records`.

Example:
    >>> run = train("examples/penguins/penguins.csv", target="species")
    >>> run.metrics["test"]["accuracy"]
    0.98...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from deepwise.collector import set_aside
from deepwise.config import (
    Config,
    DataConfig,
    ProblemConfig,
    apply_values,
    config_from_dict,
    dump_config,
    load_config,
)
from deepwise.console import console_for, print_findings, print_summary
from deepwise.data.images import is_image_source
from deepwise.data.stream import parquet_folder_files
from deepwise.data.tables import is_table_path
from deepwise.errors import ConfigError, DataError, RunError
from deepwise.kinds import DataKind, Prepared, kind_for_config, kind_named
from deepwise.monitor import end_run, require_packages
from deepwise.records import (
    CHECKPOINTS,
    CONFIG,
    FINDINGS,
    FORMAT_VERSION,
    MANIFEST,
    PREPROCESSING,
    STATUS_COMPLETE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_RUNNING,
    DataInfo,
    Manifest,
    RunFiles,
    Timer,
    atomic_write_text,
    create_run_dir,
    environment,
    hold_run_lock,
    release_run_lock,
    remove_stale_temp_files,
    utc_now,
    write_record,
)
from deepwise.report import report_after_training
from deepwise.run import Run
from deepwise.training.checkpoint import load_checkpoint
from deepwise.training.finish import finish_run
from deepwise.training.loop import fit_run, mark
from deepwise.training.model import resolve_training


def resolve_config(config: str | Path | Config | dict, target: str | None = None) -> Config:
    """A Config from a YAML path, a data path (with ``target``), a dict, or a Config."""
    if isinstance(config, Config | dict):
        # a relative data path is the caller's (the working directory), as for a data file; the run's saved config
        # must not read it relative to the run's own folder
        cfg = config.model_copy(deep=True) if isinstance(config, Config) else config_from_dict(config, "(dict)")
        if cfg.data.path and not Path(cfg.data.path).is_absolute():
            cfg.data.path = str(Path(cfg.data.path).resolve())
        return cfg
    path = Path(config)
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    if target and is_yaml:
        raise ConfigError(
            "--target is only for data files; a config names its target in problem.target.",
            fix="drop --target, or edit problem.target in the config.",
        )
    if (path.is_dir() and is_image_source(path)) or path.suffix.lower() == ".npy":
        return Config(problem=ProblemConfig(target=target or "label"), data=DataConfig(path=str(path.resolve())))
    if target or is_table_path(path) or parquet_folder_files(path):
        if not target:
            raise ConfigError(
                f"'{path}' is a data file, so the target column is needed.",
                expected="deepwise train DATA --target COLUMN, or deepwise train CONFIG.yaml",
                fix=f"add --target COLUMN, or write a config with `deepwise init {path} --target COLUMN`.",
            )
        return Config(problem=ProblemConfig(target=target), data=DataConfig(path=str(path.resolve())))
    return load_config(path)


def prepare(config: Config) -> Prepared:
    """Steps 1-3 for a config: its kind of data reads, formulates, splits and preprocesses it (fitted on the training
    split only), and the automatic training settings are resolved."""
    data = kind_for_config(config).prepare(config)
    resolve_training(data.config.training, len(data.y["train"]), data.default_batch_size, data.constant_loss())
    return data


def _check_config(cfg: Config) -> None:
    require_packages(cfg.training.tensorboard, cfg.training.mlflow)
    if cfg.data.split.train_on_validation and cfg.training.early_stopping.enabled:
        raise ConfigError(
            "data.split.train_on_validation trains on the validation rows, so they cannot also decide when to stop "
            "(early stopping is enabled).",
            expected="training.early_stopping.enabled: false and a fixed training.epochs (e.g. the best epoch of an "
            "earlier run with the same config)",
            fix="set training.early_stopping.enabled: false and training.epochs, or drop train_on_validation "
            "(`deepwise tune --refit` writes such a config for you).",
        )


@set_aside()  # the garbage collector skips the imported libraries while the run trains
def train(
    config: str | Path | Config | dict,
    *,
    target: str | None = None,
    runs_dir: str | Path = "runs",
    run_dir: str | Path | None = None,
    verbose: bool = True,
    console: Console | None = None,
    force: bool = False,
    callbacks: list | None = None,
    overrides: dict[str, Any] | None = None,
) -> Run:
    """Train a network on the config (or a data file with ``target``) and return the complete :class:`Run`.

    The data checks of :func:`deepwise.inspect` run first; a "problem" finding (e.g. target leakage) stops
    training unless ``force=True``. ``callbacks``: extra Keras callbacks (e.g. a tuner's pruning callback).
    ``overrides``: config values by dotted path, e.g. ``{"training.tensorboard": True}`` (validated as the config).

    Example:
        >>> run = deepwise.train("deepwise.yaml")
        >>> run.metrics["test"]
    """
    out = console_for(verbose, console)
    timer = Timer()
    started = utc_now()
    cfg = resolve_config(config, target)
    if overrides:
        cfg = apply_values(cfg, overrides, "with the overrides")
    _check_config(cfg)
    if cfg.training.distribution == "data_parallel":
        from deepwise import distributed

        distributed.initialize()  # DEEPWISE_COORDINATOR / _NUM_PROCESSES / _PROCESS_ID; before any JAX work
        distributed.data_parallel()  # the model is built replicated on every device of every process
        if not distributed.is_main_process():  # process 0 writes the run; the others a throw-away copy
            out, run_dir = None, distributed.scratch_run_dir()
    kind = kind_for_config(cfg)
    with timer("prepare"):
        data = prepare(cfg)
    cfg = data.config
    with timer("inspect"):
        findings = data.inspect()
    if findings.problems and not force:
        listed = "\n".join(f"- {f.code}: {f.message} Suggested: {f.action}" for f in findings.problems)
        raise DataError(
            f"The data checks found {len(findings.problems)} problem(s) that would make the results misleading:\n"
            + listed,
            expected="data without problem findings (see `deepwise inspect DATA --target COL`)",
            fix="fix the data or the config as suggested, or pass force=True (CLI: --force) to train anyway (the "
            "findings are recorded in the run).",
        )
    if out:
        out.print(f"[bold]deepwise[/] · {Path(cfg.data.path).name} · target [bold]{cfg.problem.target}[/]")
        for line in data.problem.explain():
            out.print(f"  {line}")
        sizes = data.split_sizes()
        out.print(
            f"  Split (seed {cfg.seed}): {sizes['train']} train · {sizes['validation']} validation · "
            f"{sizes['test']} test {kind.unit}; preprocessing fitted on the training {kind.unit} only."
        )
    path, manifest = _start_run(data, kind, findings, runs_dir, run_dir, started)
    if out:
        print_findings(out, findings)
    return _fit_and_finish(path, data, kind, manifest, timer, out, history=[], resume=None, extra_callbacks=callbacks)


def _start_run(data: Prepared, kind: DataKind, findings, runs_dir, run_dir, started: str) -> tuple[Path, Manifest]:
    """A new run directory with its manifest (status running), resolved config, preprocessing and data checks."""
    cfg = data.config
    path = create_run_dir(runs_dir, cfg.name or Path(cfg.data.path).stem, run_dir)
    (path / CHECKPOINTS).mkdir()
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        status=STATUS_RUNNING,
        created=started,
        seed=cfg.seed,
        kind=kind.name,
        task=data.task.name,
        data=DataInfo(
            path=cfg.data.path,
            fingerprint=f"sha256:{data.fingerprint}",
            rows=int(data.n_rows),
            streamed=True if data.streamed else None,
            split=data.split_sizes(),
        ),
        **environment(),
    )
    write_record(path / MANIFEST, manifest)
    atomic_write_text(path / CONFIG, dump_config(cfg, header="Resolved config of this run (every default)."))
    atomic_write_text(path / PREPROCESSING, data.prep.to_json())
    atomic_write_text(path / FINDINGS, findings.to_json())
    return path, manifest


@set_aside()
def resume(run_dir: str | Path, *, verbose: bool = True, console: Console | None = None) -> Run:
    """Continue an interrupted run from its last checkpoint and return the complete :class:`Run`."""
    out = console_for(verbose, console)
    path = Path(run_dir)
    if not (path / MANIFEST).is_file() or not (path / CONFIG).is_file():
        raise RunError(
            f"'{path}' is not a deepwise run that can be resumed (no {MANIFEST} or {CONFIG}).",
            expected="a run directory written by `deepwise train`",
            fix="pass the run directory printed when training started.",
        )
    release_run_lock(hold_run_lock(path))  # fail fast if another process is training this run right now
    files = RunFiles(path, require_complete=False)
    manifest = files.manifest
    if manifest.status == STATUS_COMPLETE:
        raise RunError(
            f"The run '{path}' is already complete; there is nothing to resume.",
            fix="train a new run, or use this one with `deepwise predict` / `deepwise evaluate`.",
        )
    cfg = files.config
    meta, saved = load_checkpoint(path)
    timer = Timer()
    with timer("prepare"):
        data = prepare(cfg)
    if f"sha256:{data.fingerprint}" != manifest.data.fingerprint:
        raise RunError(
            f"The data file '{cfg.data.path}' changed since the run started (its fingerprint differs).",
            expected="the same data the run was trained on",
            fix="restore the original file, or start a new run.",
        )
    if out:
        out.print(f"Resuming '{path}' after epoch {meta['epochs_done']} of {cfg.training.epochs}.")
    manifest.status = STATUS_RUNNING
    manifest.resumed = [*(manifest.resumed or []), utc_now()]
    write_record(path / MANIFEST, manifest)
    kind = kind_named(manifest.kind_name)
    return _fit_and_finish(path, data, kind, manifest, timer, out, history=list(meta["history"]), resume=(meta, saved))


def _fit_and_finish(
    path: Path,
    data: Prepared,
    kind: DataKind,
    manifest: Manifest,
    timer: Timer,
    out,
    history: list[dict],
    resume,
    extra_callbacks=None,
) -> Run:
    """Train (holding the run's lock), then measure and write the run; a failure to write is a clear error and the
    run resumes without training again."""
    lock = hold_run_lock(path)
    if resume is not None:
        remove_stale_temp_files(path)  # under the lock: no live process can be writing them
    try:
        fitted = fit_run(path, data, manifest, timer, out, history, resume, extra_callbacks)
        try:
            metrics = finish_run(path, data, kind, fitted, manifest, timer, out)
        except KeyboardInterrupt:
            mark(path, manifest, STATUS_INTERRUPTED, timer)
            end_run(path, "KILLED")
            raise
        except OSError as err:
            mark(path, manifest, STATUS_FAILED, timer)
            end_run(path, "FAILED")
            raise RunError(
                f"Training finished, but writing the run failed at '{err.filename or path}': {err.strerror or err}.",
                expected="a writable run folder with free disk space",
                fix=f"free disk space or fix the folder's permissions, then `deepwise train --resume {path}` writes "
                "the run without training again.",
            ) from None
        except Exception:
            mark(path, manifest, STATUS_FAILED, timer)
            end_run(path, "FAILED")
            raise
    finally:
        release_run_lock(lock)
    if out:
        print_summary(out, metrics, data.split_sizes()["test"])
    run = Run(path)
    if data.config.training.distribution == "none":  # a data-parallel model lives in its process group's mesh
        run.adopt_model(fitted.model)
    if data.config.training.report:
        report_after_training(path, out, prepared=(run, data))
    if out:
        out.print(f"Run saved to [bold]{path}[/]")
    return run
