"""MODEL_CARD.md: intended use, data and findings, metrics vs baselines, verdict, limits, usage, environment.

Example:
    >>> text = model_card(ctx)   # a ReportContext
    >>> text.splitlines()[0]
    '# Model card: penguins-20260101-120000'
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deepwise.render.blocks import BASELINE_LABELS, VERDICT_LABELS, fmt, metric_label, scalar_metrics
from deepwise.render.context import ReportContext
from deepwise.render.templates import MODEL_CARD, environment

MODEL_NAMES = {
    "mlp": "a multi-layer perceptron",
    "conv1d": "a 1-D convolutional network",
    "lstm": "an LSTM recurrent network",
    "gru": "a GRU recurrent network",
    "cnn": "a convolutional network",
    "pretrained": "a pretrained convolutional network, fine-tuned",
}


def md(text: Any) -> str:
    """Text safe inside a Markdown table cell or list item (no pipes, no line breaks)."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def rows_usage(ctx: ReportContext, columns: str, proba_note: str) -> tuple[list[str], str, str]:
    """Command lines (comments aligned), a Python example and a note on the inputs a prediction needs: a table."""
    path = str(ctx.path)
    commands = [
        (f"deepwise predict {path} new_rows.csv -o predictions.csv", f"prediction, {proba_note}ood, ood_score"),
        (f"deepwise evaluate {path} labelled.csv", "re-measure on new labelled rows"),
        (f"deepwise serve {path}", "HTTP: POST /predict, GET /schema, GET /health"),
        (f"deepwise export {path} --format onnx", "or keras / saved_model"),
    ]
    python = (
        f'import deepwise\nimport pandas as pd\n\nrun = deepwise.load_run("{path}")\n'
        "predictions = run.predict(pd.read_csv(\"new_rows.csv\"))  # same row order; 'ood' flags rows unlike the "
        "training data\nprint(predictions.head())"
    )
    note = f"Input rows need the columns {columns}; extra columns are ignored, missing values are allowed."
    return aligned(commands), python, note


def rows_guard_limit(guard: dict[str, Any], rate: float, observed: list[str]) -> str:
    """The model card's limit on examples unlike the training data: a table's guard."""
    return (
        f"Out-of-distribution behaviour: a guard flags rows unlike the training data (mean distance to the "
        f"{fmt(guard.get('k'))} nearest training rows above a threshold calibrated for a {rate:.1%} "
        f"false-alarm rate; observed on held-out rows: {', '.join(observed) or 'not measured'}). Rows with a "
        "category never seen in training are always flagged. A flagged row (`ood` true, `ood_score` > 1) "
        "still gets a prediction, but it is an extrapolation the test metrics say nothing about: review it, "
        "and retrain with such rows if they are common."
    )


RANDOM_SPLIT_SCOPE = (
    "The metrics come from one random split of one data set; they say nothing about subgroups that are "
    "rare in it, and nothing about data collected in another place, time or way."
)


def aligned(commands: list[tuple[str, str]]) -> list[str]:
    width = max(len(c) for c, _ in commands)
    return [f"{c.ljust(width)}   # {comment}" for c, comment in commands]


def rows_inputs(prep: dict) -> list[list[str]]:
    """One line per input column of a table's preprocessing state: its name, kind and training range."""
    rows: list[list[str]] = []
    for name in prep.get("numeric") or []:
        stats = (prep.get("numeric_stats") or {}).get(name, {})
        rows.append([md(name), "number", f"{fmt(stats.get('min'))} to {fmt(stats.get('max'))}"])
    for name in prep.get("categorical") or []:
        vocab = (prep.get("vocabularies") or {}).get(name, [])
        shown = ", ".join(map(str, vocab[:12])) + (f", ... ({len(vocab)} in all)" if len(vocab) > 12 else "")
        rows.append([md(name), "category", md(shown)])
    return rows


def _intended_use(ctx: ReportContext, n_inputs: int) -> tuple[str, str]:
    classes = ctx.classes or []
    if ctx.output == "binary":
        kind = "class prediction with a probability"
        what = f"a binary classifier that predicts which of {', '.join(map(str, classes))} '{ctx.target}' is"
    elif ctx.output == "multiclass":
        kind = "class prediction with probabilities"
        what = f"a multiclass classifier over {len(classes)} classes that predicts '{ctx.target}'"
    elif ctx.output == "regression":
        kind = "numeric estimate"
        what = f"a regression model that predicts the number '{ctx.target}'"
    else:
        kind = "prediction"
        what = f"a {ctx.task} model predicting '{ctx.target}'"
    model = str((ctx.config.get("model") or {}).get("type", ""))
    kind_of_network = MODEL_NAMES.get(model, model or "neural network")
    source = ctx.kind.card_source(ctx, n_inputs)
    text = (
        f"A neural network ({kind_of_network}) trained with deepwise: {what} from {source}. "
        f"It was trained on `{ctx.data.get('path', '?')}` and is meant for {ctx.kind.data_noun} like those."
    )
    return text, kind


def _limits(ctx: ReportContext) -> list[str]:
    lines: list[str] = []
    ev = (ctx.metrics.get("verdict") or {}).get("evidence") or {}
    diff = ev.get("network_minus_best_baseline")
    if diff:
        n_test = ev.get("n_test")
        one_row = (
            f" (one more or one fewer error changes accuracy by 1/{n_test} = {1 / n_test:.3f})"
            if ev.get("metric") == "accuracy" and n_test
            else ""
        )
        lines.append(
            f"The test split has {fmt(n_test)} {ctx.unit}, so every test score above is noisy{one_row}. "
            "The network's "
            f"{metric_label(ev.get('metric', ''))} minus the best simple model's is {diff['difference']:+.3f} (95 % "
            f"bootstrap interval {diff['ci95_low']:+.3f} to {diff['ci95_high']:+.3f})."
        )
    guard = ctx.metrics.get("guard")
    if guard:
        rate = guard.get("false_alarm_rate_target", 0.0)
        observed = [
            f"{label} {guard[key]:.1%}"
            for key, label in (("validation_flag_rate", "validation"), ("test_flag_rate", "test"))
            if guard.get(key) is not None
        ]
        lines.append(ctx.kind.card_guard_limit(guard, rate, observed))
    else:
        unit = ctx.kind.data_noun
        lines.append(
            f"This run has no out-of-distribution guard: nothing warns when new {unit} are unlike the training "
            f"data, and predictions for such {unit} can be wrong without any sign."
        )
    prep = ctx.preprocessing or {}
    if prep.get("numeric"):
        lines.append(
            "Numbers outside the training range are extrapolated; missing numbers are filled with the "
            "training median (plus a 'was missing' indicator when training had missing values)."
        )
    lines.append(ctx.kind.card_scope_limit())
    code = (ctx.metrics.get("verdict") or {}).get("code")
    if code in ("simpler_model_suffices", "looks_like_a_computation", "not_enough_data", "worse_than_chance"):
        lines.append(f"The verdict is '{VERDICT_LABELS.get(code, code)}': a simpler model may serve as well or better.")
    return [md(line) for line in lines]


def custom_layer_names(model_file: Path) -> list[str]:
    """The custom (deepwise-registered) classes a ``.keras`` file needs, from its config.json: Keras writes their
    ``registered_name`` as ``package>Class``; built-in layers have none. [] when the file is missing or unreadable."""
    import json
    import zipfile

    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            name = node.get("registered_name")
            if isinstance(name, str) and ">" in name:
                found.add(name.split(">", 1)[1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    try:
        with zipfile.ZipFile(model_file) as archive:
            walk(json.loads(archive.read("config.json")))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    return sorted(found)


def model_card(ctx: ReportContext) -> str:
    """The model card of a run as Markdown."""
    test = ctx.metrics.get("test") or {}
    keys = scalar_metrics(test)
    metric_rows = [["network", *[fmt(test.get(k)) for k in keys]]]
    for name, scores in (ctx.metrics.get("baselines") or {}).items():
        kind = str(scores.get("model", ""))
        label = BASELINE_LABELS.get(name, name) + ("" if kind in ("", name) else f" ({kind})")
        metric_rows.append([label, *[fmt(scores.get(k)) for k in keys]])
    verdict = ctx.metrics.get("verdict") or {}
    inputs = ctx.kind.card_inputs(ctx)
    intended, kind = _intended_use(ctx, len(inputs))
    data = ctx.data
    split = data.get("split") or {}
    cfg_split = (ctx.config.get("data") or {}).get("split") or {}
    findings = [
        {"severity": f.get("severity"), "message": md(f.get("message", "")), "action": md(f.get("action", ""))}
        for f in ctx.findings
        if f.get("severity") in ("problem", "warning")
    ]
    versions = ctx.versions
    hardware = ctx.manifest.get("hardware") or {}
    env_rows = [[k, str(v)] for k, v in versions.items()]
    if hardware:
        env_rows.append(
            [
                "hardware",
                f"{hardware.get('machine', '?')}, {hardware.get('cpu_count', '?')} CPU cores, "
                f"{hardware.get('memory_gb', '?')} GB memory ({hardware.get('platform', '?')})",
            ]
        )
    if ctx.duration_s is not None:
        env_rows.append(["training run took", f"{ctx.duration_s:.1f} s"])
    columns = ", ".join(f"`{r[0]}`" for r in inputs) or "used in training"
    prep = ctx.preprocessing or {}
    proba_note = "proba_<class>, " if prep.get("classes") else ""
    commands, python_example, input_note = ctx.kind.card_usage(ctx, columns, proba_note)
    return (
        environment(autoescape=False)
        .from_string(MODEL_CARD)
        .render(
            name=ctx.name,
            version=versions.get("deepwise", "?"),
            generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            path=str(ctx.path),
            intended_use=intended,
            output_kind=kind,
            data={
                "path": data.get("path", "?"),
                "fingerprint": data.get("fingerprint", "?"),
                "rows": fmt(data.get("rows")),
                "train": fmt(split.get("train")),
                "validation": fmt(split.get("validation")),
                "test": fmt(split.get("test")),
            },
            seed=ctx.manifest.get("seed", ctx.config.get("seed", "?")),
            split_note=", stratified by class"
            if cfg_split.get("stratify") and ctx.task in ("binary", "multiclass")
            else "",
            inputs=inputs,
            findings=findings,
            n_test=fmt(test.get("n")),
            metric_headers=[metric_label(k) for k in keys],
            metric_rows=[[md(c) for c in row] for row in metric_rows],
            verdict_label=VERDICT_LABELS.get(verdict.get("code", ""), verdict.get("code", "no verdict")),
            verdict_code=verdict.get("code", "-"),
            verdict_message=md(verdict.get("message", "")),
            limits=_limits(ctx),
            proba_note=proba_note,
            commands=commands,
            python_example=python_example,
            input_note=input_note,
            unit=ctx.kind.data_noun,
            split_unit=ctx.unit,
            total_unit=ctx.total_unit,
            source_kind="Folder" if Path(str(ctx.data.get("path", ""))).suffix == "" else "File",
            environment=env_rows,
            backend=versions.get("backend", "jax"),
            custom_layers=custom_layer_names(Path(ctx.path) / "model.keras"),
        )
    )
