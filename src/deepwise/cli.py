"""The ``deepwise`` command: a thin layer over the public API (parse, call, print).

Exit codes: 0 success · 2 wrong input or config (message, no traceback unless --debug) · 1 internal error ·
130 interrupted (progress kept, resumable).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deepwise import backend as _backend  # noqa: F401  (sets KERAS_BACKEND first)
from deepwise.collector import skip_final_collections
from deepwise.errors import DeepwiseError

app = typer.Typer(
    help="deepwise: find out whether deep learning helps with your data, and get a good model honestly measured.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True)
_state = {"debug": bool(os.environ.get("DEEPWISE_DEBUG"))}


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for every error.")] = False,
) -> None:
    _state["debug"] = debug or bool(os.environ.get("DEEPWISE_DEBUG"))  # per invocation, not sticky


Unsafe = Annotated[
    bool,
    typer.Option(
        "--unsafe",
        help="Load a model file that carries Python code (Lambda layers) with Keras safe mode off. It runs that "
        "code: only for runs you trust.",
    ),
]


def _loading(unsafe: bool):
    """Where a command loads a run's model: Keras safe mode, unless --unsafe (with a warning)."""
    from contextlib import nullcontext

    if not unsafe:
        return nullcontext()
    from deepwise.records import unsafe_models

    err_console.print(
        "[yellow]Warning:[/] --unsafe: the model is loaded with Keras safe mode off, so any Python code stored in "
        "the model file runs on this machine. Use it only for a run you trained yourself or fully trust.",
        highlight=False,
    )
    return unsafe_models()


def handled(func):
    """Turn deepwise errors into exit 2, interruptions into 130, bugs into exit 1 with a report hint."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DeepwiseError as err:
            if _state["debug"]:
                traceback.print_exc()
            err_console.print(f"[bold red]Error:[/] {escape(err.message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print(
                "\n[yellow]Interrupted.[/] Progress up to the last finished epoch is kept; continue with "
                "`deepwise train --resume RUN_DIR`."
            )
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception:
            traceback.print_exc()
            err_console.print(
                "[bold red]Internal error[/] (a bug in deepwise, not in your data). Please report it with the "
                "traceback above and `deepwise doctor` output."
            )
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@handled
def init(
    data: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file.")],
    target: Annotated[str, typer.Option("--target", "-t", help="The column to predict.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the config.")] = Path("deepwise.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config file.")] = False,
) -> None:
    """Infer the task and the inputs and write a config with every default spelled out."""
    from deepwise.formulate import formulate

    if output.exists() and not force:
        raise DeepwiseError(
            f"'{output}' already exists; deepwise will not overwrite it.",
            expected="a new file name",
            fix="pass another -o path, or --force to replace it.",
        )
    problem = formulate(data, target)
    problem.write(output)
    for line in problem.explain():
        console.print(f"  {line}", highlight=False)
    console.print(f"Wrote [bold]{output}[/]. Next: [bold]deepwise train {output}[/]")


@app.command()
@handled
def train(
    source: Annotated[
        Path | None, typer.Argument(help="A config (deepwise.yaml) or a data file (with --target).")
    ] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Column to predict (data files).")] = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Folder that holds the runs.")] = Path("runs"),
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="Exact run directory (must not exist).")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue this interrupted run.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Train even when the data checks find problems.")] = False,
    tensorboard: Annotated[
        bool, typer.Option("--tensorboard", help="Also write TensorBoard logs to RUN/tensorboard/.")
    ] = False,
    task: Annotated[
        str | None,
        typer.Option("--task", help="The task, when inferring it is not what you want (problem.task in a config)."),
    ] = None,
) -> None:
    """Train, evaluate once on the test split, and save the run (the one-liner: DATA --target COL)."""
    import deepwise

    if resume is not None:
        if source is not None:
            raise DeepwiseError(
                "--resume continues an existing run; a config or data file cannot be given with it.",
                fix=f"run `deepwise train --resume {resume}` alone.",
            )
        run = deepwise.resume(resume, verbose=not quiet, console=console)
    else:
        if source is None:
            raise DeepwiseError(
                "Nothing to train on.",
                expected="deepwise train CONFIG.yaml, or deepwise train DATA --target COLUMN",
                fix="pass a config or a data file.",
            )
        run = deepwise.train(
            source,
            target=target,
            runs_dir=runs_dir,
            run_dir=run_dir,
            verbose=not quiet,
            console=console,
            force=force,
            overrides={
                **({"training.tensorboard": True} if tensorboard else {}),
                **({"problem.task": task} if task else {}),
            }
            or None,
        )
    if quiet:
        console.print(f"{run.path}\t{run.headline()}", highlight=False)


@app.command()
@handled
def inspect(
    data: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file.")],
    target: Annotated[str | None, typer.Option("--target", "-t", help="The column to predict.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the findings as JSON here.")] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Time column: check the rows as a time series (order, gaps).")
    ] = None,
) -> None:
    """Know your data: missing values, duplicates, imbalance, outliers, leakage, enough rows for deep learning."""
    from deepwise.inspection import inspect as run_inspect
    from deepwise.records import atomic_write_text

    findings = None
    if data.is_dir():  # a folder: the checks of its kind (classified images, segmentation, Parquet tables, ...)
        from deepwise.config import Config
        from deepwise.kinds import kind_for_config

        config = Config(problem={"target": target or "label"}, data={"path": str(data.resolve())})
        findings = kind_for_config(config).inspect_data(config, target, time)
    if findings is None:
        findings = run_inspect(data, target=target, time_column=time)
    findings.render(console)
    if json_file is not None:
        atomic_write_text(json_file, findings.to_json())
        console.print(f"Wrote {len(findings)} finding(s) to [bold]{json_file}[/]")
    if findings.problems:
        console.print(f"[red]{len(findings.problems)} problem(s)[/]: `deepwise train` stops on these unless --force.")


@app.command()
@handled
def predict(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    data: Annotated[Path, typer.Argument(help="Rows to predict (CSV, TSV or Parquet).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write predictions here (CSV); default: print.")
    ] = None,
    no_guard: Annotated[
        bool,
        typer.Option(
            "--no-guard",
            help="Skip the out-of-distribution check (no ood columns): faster bulk scoring of data you know.",
        ),
    ] = False,
    overlays: Annotated[
        bool,
        typer.Option("--overlays", help="Segmentation (with -o): also write each image with its mask drawn over it."),
    ] = False,
    unsafe: Unsafe = False,
) -> None:
    """Predict on new rows; rows keep their order. Segmentation: -o OUT writes a mask PNG per image and a CSV."""
    from deepwise.run import load_run

    if output is not None:  # to a file: tables too big for memory are predicted a chunk at a time
        with _loading(unsafe):
            loaded = load_run(run)
        report = loaded.predict_to_csv(data, output, guard=not no_guard, overlays=overlays)
        if len(report.ood):
            err_console.print(report.summary(), highlight=False)
        console.print(f"Wrote predictions to [bold]{output}[/]")
        return
    with _loading(unsafe):
        result = load_run(run).predict(data, guard=not no_guard)
    from deepwise.guard import GuardReport

    report = GuardReport.of_predictions(result)
    if report is not None:
        err_console.print(report.summary(), highlight=False)
    sys.stdout.write(result.to_csv(index=False))


@app.command()
@handled
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    data: Annotated[Path | None, typer.Argument(help="Labelled rows; default: the run's held-out test split.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    unsafe: Unsafe = False,
) -> None:
    """Measure a run again: on its held-out test split, or on new labelled data."""
    from deepwise.evaluation import headline
    from deepwise.run import load_run

    with _loading(unsafe):
        loaded = load_run(run)
        scores = loaded.evaluate(data)
    if as_json:
        sys.stdout.write(json.dumps(scores, indent=2) + "\n")
        return
    where = f"'{data}'" if data else "the held-out test split"
    console.print(f"{loaded.task} · {scores['n']} rows of {where}: {headline(loaded.task, scores)}", highlight=False)


@app.command()
@handled
def generate(
    run: Annotated[Path, typer.Argument(help="A generative run (trained with --task generate).")],
    n: Annotated[int, typer.Option("-n", "--count", help="How many examples to generate.")] = 64,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Images: a folder (PNGs + grid.png); tables: a CSV file. Default: a "
                     "table is printed, images need -o."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (the same seed gives the same examples).")] = 0,
    method: Annotated[
        str, typer.Option("--method", help="vae (the network), or for tables a baseline: gaussian_copula, "
                          "independent_marginals.")
    ] = "vae",
    unsafe: Unsafe = False,
) -> None:
    """New data from a generative run, every file or row marked as generated (a statistical imagination)."""
    import deepwise

    with _loading(unsafe):
        loaded = deepwise.load_run(run)
        if output is None and loaded.kind.data_noun == "images":
            raise DeepwiseError(
                "Generated images are written as files, so they need a folder.",
                expected=f"deepwise generate {run} -n {n} -o FOLDER",
                fix="add -o samples/ (any folder name).",
            )
        made = deepwise.generate(loaded, n, output, seed=seed, method=method)
    if output is None:
        sys.stdout.write(made.data.to_csv(index=False))
        return
    where = made.grid if made.grid is not None else output
    console.print(f"Wrote {len(made.data):,} generated {loaded.kind.data_noun} to [bold]{where}[/] "
                  f"({len(made.files):,} file(s), each marked as generated).", highlight=False)  # fmt: skip


@app.command()
@handled
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    compare: Annotated[
        Path | None,
        typer.Option("--compare", help="A run: say which packages differ from the environment it was trained in."),
    ] = None,
) -> None:
    """Check versions, backend, devices and memory (or, with --compare RUN, what changed since a run)."""
    from deepwise.doctor import compare as compare_run
    from deepwise.doctor import doctor as run_doctor

    if compare is not None:
        found = compare_run(compare)
        if as_json:
            sys.stdout.write(json.dumps(found, indent=2) + "\n")
            return
        _print_comparison(found)
        return
    report = run_doctor()
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        table = Table(title="deepwise doctor", show_header=False)
        table.add_row("healthy", "[green]yes[/]" if report["healthy"] else "[red]no[/]")
        table.add_row("backend", report["backend"])
        table.add_row("devices", ", ".join(report["devices"]) or "-")
        table.add_row("CPU cores", str(report["cpu_count"]))
        table.add_row("memory", f"{report['memory_gb']} GB")
        table.add_row("smoke test", f"{report['smoke_test_s']} s")
        for name, version in report["versions"].items():
            table.add_row(name, str(version))
        console.print(table)
        for problem in report["problems"]:
            console.print(f"[red]problem:[/] {problem}")
    if not report["healthy"]:
        raise typer.Exit(1)


def _print_comparison(found: dict) -> None:
    if found["same"]:
        console.print(f"Same environment as the run {found['run']}: every package it recorded has the same version.")
        return
    table = Table(title=f"What differs from the environment of {found['run']}", title_justify="left")
    for column in ("package", "then", "now"):
        table.add_column(column)
    for label, key in (("python", "python"), ("Keras backend", "backend")):
        if found[key][0] != found[key][1]:
            table.add_row(label, str(found[key][0]), str(found[key][1]))
    for name, (then, now) in found["changed"].items():
        table.add_row(name, then, now)
    for name, then in found["missing"].items():
        table.add_row(name, then, "[red]not installed[/]")
    for name, now in found["added"].items():
        table.add_row(name, "-", now)
    console.print(table)
    console.print(
        "Results may differ from the run's: retrain here, or install the versions it used "
        "(`pip install 'name==version'`, or the project's requirements.lock)."
    )


@app.command()
@handled
def report(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the HTML; default: RUN/report.html.")
    ] = None,
    unsafe: Unsafe = False,
) -> None:
    """Write a self-contained HTML report of a run (opens offline) and MODEL_CARD.md next to it."""
    from rich.markup import escape

    from deepwise.report import MODEL_CARD_FILE
    from deepwise.report import report as write_report

    with _loading(unsafe):
        path = write_report(run, output)
    console.print(
        f"Wrote [bold]{escape(str(path))}[/] and [bold]{escape(str(path.parent / MODEL_CARD_FILE))}[/]", highlight=False
    )


@app.command("explain")
@handled
def explain_command(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder for explain.json and the PNGs; default: RUN/explain.")
    ] = None,
    unsafe: Unsafe = False,
) -> None:
    """What the run's network is made of (every layer, its parameters), what its first units compute (tables) and
    what it looks at (feature maps and saliency maps of test images)."""
    from deepwise.explain import explain

    with _loading(unsafe):
        found = explain(run, output)
    table = Table(title=f"{found['parameters']:,} parameters", show_lines=False)
    for column in ("layer", "computes", "output", "parameters", "from"):
        table.add_column(column, overflow="fold")
    for layer in found["layers"]:
        table.add_row(
            escape(layer["name"]), escape(layer["computes"]), layer["output_shape"],
            f"{layer['parameters']:,}", escape(layer["from"]),
        )  # fmt: skip
    console.print(table)
    if found.get("units"):
        console.print("[bold]What the first hidden layer's strongest units compute[/] (" + found["units_note"] + "):")
        for unit in found["units"]:
            console.print("  " + escape(unit["formula"]), highlight=False)
    images = found.get("images", {})
    written = [v["png"] for v in images.get("feature_maps", [])]
    written += [images[k]["png"] for k in ("most_confident_right", "most_confident_wrong") if k in images]
    folder = Path(output) if output is not None else Path(run) / "explain"
    for note in (images.get("note"), images.get("saliency_note")):
        if note:
            console.print(escape(note), highlight=False)
    console.print(
        f"Wrote [bold]{escape(str(folder / 'explain.json'))}[/]"
        + (f" and {len(written)} PNGs (feature maps, saliency)" if written else ""),
        highlight=False,
    )


@app.command("runs")
@handled
def runs_command(
    directory: Annotated[Path, typer.Argument(help="Folder of runs.")] = Path("runs"),
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            help="created | name | status | task | metric | baseline_score | verdict | duration | fingerprint.",
        ),
    ] = "created",
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Compare runs as a table (and warn when their test scores are not comparable)."""
    from deepwise.runs_table import list_runs

    table = list_runs(directory, sort=sort)
    if as_json:
        sys.stdout.write(json.dumps(table.to_dict(), indent=2) + "\n")
        return
    if not table.rows:
        console.print(f"No runs in '{directory}'. Train one with `deepwise train DATA --target COLUMN`.")
        return

    def number(value: float | None) -> str:
        return "-" if value is None else (f"{value:.4f}" if abs(value) < 10 else f"{value:.5g}")

    names = {row["metric_name"] for row in table.rows if row["metric"] is not None}
    shared = names.pop() if len(names) == 1 else None
    out = Table(title=f"Runs in {directory} (sorted by {sort})", title_justify="left")
    out.add_column("run", no_wrap=True)
    out.add_column("status")
    out.add_column("task")
    out.add_column("data")
    out.add_column("model")
    out.add_column(f"test {shared}" if shared else "test metric", justify="right")
    out.add_column("best baseline", justify="right")
    out.add_column("verdict")
    out.add_column("time", justify="right")
    for row in table.rows:
        status = row["status"]
        if row["metric"] is None:
            metric = "-"
        else:
            metric = number(row["metric"]) if shared else f"{row['metric_name']} {number(row['metric'])}"
        baseline = f"{row['baseline']} {number(row['baseline_score'])}" if row["baseline"] else "-"
        out.add_row(
            row["name"],
            status if status == "complete" else f"[yellow]{status}[/]",
            str(row["task"] or "-"),
            (row["fingerprint"] or "-")[:8],
            str(row["model"] or "-"),
            metric,
            baseline,
            str(row["verdict"] or "-"),
            f"{row['duration']:.0f} s" if row["duration"] is not None else "-",
        )
    console.print(out)
    for warning in table.warnings:
        console.print(f"[yellow]Warning:[/] {warning}", highlight=False)


@app.command("export")
@handled
def export_command(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="keras | onnx | saved_model | script (the run as plain Keras code).")
    ] = "keras",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder to write; default: RUN/export/FORMAT.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output folder.")] = False,
    unsafe: Unsafe = False,
) -> None:
    """Export the model (with its preprocessing.json) as Keras, ONNX or a TensorFlow SavedModel, or the whole run as
    a plain Keras script (train.py)."""
    from deepwise.export import describe
    from deepwise.export import export as run_export

    with _loading(unsafe):
        folder = run_export(run, fmt, output, force=force)
    check = describe(folder).get("check", {})
    note = check.get("note") or (
        f"verified with onnxruntime on {check.get('rows')} rows (max difference {check.get('max_abs_difference'):.2g})"
        if check.get("verified")
        else ""
    )
    from rich.markup import escape

    console.print(
        f"Exported {fmt} to [bold]{escape(str(folder))}[/]" + (f" ({escape(note)})" if note else ""), highlight=False
    )


@app.command("serve")
@handled
def serve_command(
    run: Annotated[Path, typer.Argument(help="A run directory.")],
    host: Annotated[str, typer.Option("--host", help="Address to bind (127.0.0.1 = this machine only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    unsafe: Unsafe = False,
) -> None:
    """Serve predictions over HTTP: POST /predict, GET /schema, GET /health, /docs."""
    from deepwise.serve import is_loopback, require_serving
    from deepwise.serve import serve as run_server

    require_serving()
    if not is_loopback(host):
        err_console.print(
            f"[yellow]Warning:[/] binding to {host} makes the service reachable from other machines; it has no "
            "authentication. Put it behind a proxy that authenticates, or use --host 127.0.0.1.",
            highlight=False,
        )
    console.print(
        f"Loading {run} and serving on http://{host}:{port} (docs: /docs; Ctrl-C stops)", markup=False, highlight=False
    )
    with _loading(unsafe):
        run_server(run, host=host, port=port)


@app.command("tune")
@handled
def tune_command(
    source: Annotated[
        Path, typer.Argument(help="A config (its tune section is the search space) or a data file (with --target).")
    ],
    trials: Annotated[
        int, typer.Option("--trials", "-n", min=1, help="Size the study should reach (re-run to continue).")
    ] = 20,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds after which no new trial starts.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Trial processes on this machine.")] = 1,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna database URL shared by many workers, e.g. postgresql://u:p@host/db."),
    ] = None,
    study_dir: Annotated[
        Path | None, typer.Option("--study-dir", help="Folder for trial runs, best.yaml (default studies/NAME).")
    ] = None,
    study_name: Annotated[
        str | None, typer.Option("--study-name", help="Study name in the storage (default: the config's name).")
    ] = None,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Retrain the best config on train+validation (best trial's epochs); measure it once on test.",
        ),
    ] = False,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Column to predict (data files).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Train even when the data checks find problems.")] = False,
    tensorboard: Annotated[
        bool, typer.Option("--tensorboard", help="Also write TensorBoard logs to RUN/tensorboard/.")
    ] = False,
) -> None:
    """Search hyperparameters with Optuna on the validation split; write the best config (best.yaml)."""
    from deepwise.tune import tune as run_tune

    try:
        run_tune(
            source,
            trials=trials,
            timeout=timeout,
            workers=workers,
            storage=storage,
            study_dir=study_dir,
            study_name=study_name,
            refit=refit,
            target=target,
            force=force,
            console=console,
            overrides={"training.tensorboard": True} if tensorboard else None,
        )
    except KeyboardInterrupt:
        err_console.print(
            "\n[yellow]Interrupted.[/] Finished trials are kept in the study; run the same command again to continue."
        )
        raise typer.Exit(130) from None


def main() -> None:
    skip_final_collections()  # only deepwise's own objects live here: the exit skips the final collections (-0.7 s)
    app()


if __name__ == "__main__":
    main()
