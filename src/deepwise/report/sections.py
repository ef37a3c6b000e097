"""Report sections: plain data (paragraphs, tables, figures, code) that the HTML template renders.

Common sections read what every run has (metrics.json, history.csv, findings.json, config.yaml, manifest.json).
Task-specific sections come from a builder registered per task in :data:`deepwise.report.SECTION_BUILDERS`.

Example:
    >>> section = Section("notes", "Notes", [Paragraph("Trained on a laptop.")])
    >>> section.blocks[0].kind
    'paragraph'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepwise.report import plots
from deepwise.report.context import ReportContext, TestPredictions

# ------------------------------------------------------------------------------------------------------ blocks


@dataclass
class Paragraph:
    text: str
    css: str = ""
    kind: str = "paragraph"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    caption: str = ""
    highlight_rows: list[int] = field(default_factory=list)
    kind: str = "table"


@dataclass
class Figure:
    uri: str
    alt: str
    caption: str = ""
    kind: str = "figure"


@dataclass
class Code:
    text: str
    kind: str = "code"


Block = Paragraph | Table | Figure | Code


@dataclass
class Section:
    """One ``<section id=...>`` of the report; ``id`` is stable (tests and links rely on it)."""

    id: str
    title: str
    blocks: list[Block]


VERDICT_LABELS = {
    "deep_learning_helps": "Deep learning helps",
    "simpler_model_suffices": "A simpler model suffices",
    "looks_like_a_computation": "Looks like a computation",
    "not_enough_data": "Not enough data",
    "worse_than_chance": "No better than chance",
}
BASELINE_LABELS = {
    "dummy": "dummy baseline",
    "linear": "linear model",
    "gradient_boosting": "gradient boosting",
    "persistence": "persistence (the last value)",
    "seasonal_persistence": "seasonal persistence (the value one season ago)",
}
METRIC_LABELS = {
    "accuracy": "accuracy",
    "macro_f1": "macro F1",
    "balanced_accuracy": "balanced accuracy",
    "log_loss": "log loss",
    "roc_auc": "ROC AUC",
    "roc_auc_ovr": "ROC AUC (one-vs-rest)",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "root_mean_squared_error": "RMSE",
    "mean_absolute_error": "MAE",
}
LOWER_IS_BETTER = {"log_loss", "rmse", "mae", "mse", "mape", "smape", "loss"}


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers to short text (``-`` for missing / not finite)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}" if math.isfinite(float(value)) else "-"
    return str(value)


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key.replace("_", " "))


def scalar_metrics(scores: dict[str, Any]) -> list[str]:
    """The keys of a metrics dict that hold one number each (per-class tables and counts left out)."""
    return [
        k
        for k, v in scores.items()
        if k != "n" and isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("fit_seconds",)
    ]


# --------------------------------------------------------------------------------------------- common sections


_TASK_NAMES = {"image_classification": "image classification"}


def _unit(ctx: ReportContext) -> str:
    """What one test 'row' is: an image, a forecast sample, or a table row."""
    return {"images": "images", "forecasting": "samples"}.get(ctx.modality, "rows")


def _a(noun: str) -> str:
    """``noun`` with its indefinite article, capitalized ("An image classification", "A regression")."""
    return ("An " if noun[:1].lower() in "aeiou" else "A ") + noun


def summary_section(ctx: ReportContext) -> Section:
    """What was trained on what, the headline test scores and the verdict in one glance."""
    verdict = ctx.metrics.get("verdict") or {}
    test = ctx.metrics.get("test") or {}
    data = ctx.data
    split = data.get("split") or {}
    unit = _unit(ctx)
    task = f"forecasting ({ctx.output})" if ctx.task == "forecasting" else _TASK_NAMES.get(ctx.task, ctx.task)
    total = "images" if ctx.modality == "images" else "rows"
    blocks: list[Block] = [
        Paragraph(
            f"{_a(task)} run predicting '{ctx.target}' from {data.get('path', 'its data')} "
            f"({fmt(data.get('rows'))} {total}; split into {fmt(split.get('train'))} train · "
            f"{fmt(split.get('validation'))} validation · {fmt(split.get('test'))} test {unit})."
        )
    ]
    keys = scalar_metrics(test)
    if keys:
        blocks.append(
            Table(
                ["test metric", *[metric_label(k) for k in keys]],
                [["network", *[fmt(test[k]) for k in keys]]],
                caption=f"Held-out test split, {fmt(test.get('n'))} {unit}, measured once.",
            )
        )
    if verdict:
        label = VERDICT_LABELS.get(verdict.get("code", ""), verdict.get("code", ""))
        blocks.append(Paragraph(f"Verdict: {label} — {verdict.get('message', '')}", css=f"verdict {verdict['code']}"))
    return Section("summary", "Summary", blocks)


def metrics_section(ctx: ReportContext) -> Section | None:
    """Test metrics of the network next to every baseline, on the same test rows."""
    test = ctx.metrics.get("test")
    if not test:
        return None
    baselines = ctx.metrics.get("baselines") or {}
    keys = scalar_metrics(test)
    rows = [["network", "deepwise network", *[fmt(test.get(k)) for k in keys]]]
    for name, scores in baselines.items():
        rows.append(
            [BASELINE_LABELS.get(name, name), str(scores.get("model", "")), *[fmt(scores.get(k)) for k in keys]]
        )
    validation = ctx.metrics.get("validation") or {}
    blocks: list[Block] = [
        Table(
            ["model", "kind", *[metric_label(k) for k in keys]],
            rows,
            caption=f"Held-out test split ({fmt(test.get('n'))} {_unit(ctx)}), the same {_unit(ctx)} for every model. "
            + (
                "Lower is better for " + ", ".join(metric_label(k) for k in keys if k in LOWER_IS_BETTER) + "; "
                if any(k in LOWER_IS_BETTER for k in keys)
                else ""
            )
            + "higher is better for the others.",
            highlight_rows=[0],
        )
    ]
    if validation:
        vkeys = scalar_metrics(validation)
        blocks.append(
            Table(
                ["network on", *[metric_label(k) for k in vkeys]],
                [["validation split", *[fmt(validation.get(k)) for k in vkeys]]],
                caption="The validation split chose the best epoch, so its scores are slightly optimistic; the test "
                "split above is the honest measurement.",
            )
        )
    if not baselines:
        blocks.append(Paragraph("This run has no baselines to compare with.", css="note"))
    return Section("metrics", "Test metrics and baselines", blocks)


def verdict_section(ctx: ReportContext) -> Section | None:
    """The verdict, its message and the evidence behind it (bootstrap intervals, sizes, generalization gap)."""
    verdict = ctx.metrics.get("verdict")
    if not verdict:
        return None
    code = verdict.get("code", "")
    ev = verdict.get("evidence") or {}
    blocks: list[Block] = [
        Paragraph(f"{VERDICT_LABELS.get(code, code)} ({code})", css=f"verdict {code}"),
        Paragraph(verdict.get("message", "")),
    ]
    metric = ev.get("metric", "")
    rows: list[list[Any]] = []
    if "network" in ev:
        rows.append([f"network {metric_label(metric)}", fmt(ev["network"])])
    for name, value in (ev.get("baselines") or {}).items():
        rows.append([f"{BASELINE_LABELS.get(name, name)} {metric_label(metric)}", fmt(value)])
    intervals = []
    for key, other in (("network_minus_best_baseline", ev.get("best_baseline")), ("network_minus_dummy", "dummy")):
        diff = ev.get(key)
        if diff:
            label = f"network - {BASELINE_LABELS.get(other, other)}"
            rows.append(
                [
                    f"{label} (95 % interval)",
                    f"{diff['difference']:+.4f} ({diff['ci95_low']:+.4f} to {diff['ci95_high']:+.4f})",
                ]
            )
            intervals.append(
                {"label": label, "value": diff["difference"], "low": diff["ci95_low"], "high": diff["ci95_high"]}
            )
    for key, label in (("n_train", "training rows"), ("n_test", "test rows")):
        if key in ev:
            rows.append([label, fmt(ev[key])])
    gap = ev.get("generalization_gap")
    if gap:
        rows.append(
            [
                f"{metric_label(gap['metric'])} at the best epoch, train / validation",
                f"{fmt(gap['train'])} / {fmt(gap['validation'])}",
            ]
        )
    if ev.get("bootstrap"):
        rows.append(["noise estimate", ev["bootstrap"]])
    if rows:
        blocks.append(Table(["evidence", "value"], rows))
    if intervals:
        blocks.append(
            Figure(
                plots.interval_chart(
                    intervals,
                    title=f"Difference in test {metric_label(metric)} (95 % bootstrap interval)",
                    xlabel=f"network minus baseline ({metric_label(metric)}; > 0: the network is better)",
                ),
                alt="Differences between the network and the baselines with 95 % intervals",
                caption="An interval that crosses zero means the difference is within the test-set noise.",
            )
        )
    return Section("verdict", "Verdict and its evidence", blocks)


def _history_metric(history: pd.DataFrame, preferred: str | None) -> str | None:
    """The metric to plot next to the loss: the run's main metric if the history has it, else the first one."""
    candidates = [
        c
        for c in history.columns
        if c not in ("epoch", "seconds", "loss") and not c.startswith("val_") and f"val_{c}" in history.columns
    ]
    for name in (preferred, "accuracy", "root_mean_squared_error"):
        if name in candidates:
            return name
    return candidates[0] if candidates else None


def reference_loss(ctx: ReportContext) -> float | None:
    """The loss of a guess that ignores the inputs: class-prior entropy, or the dummy baseline's MSE."""
    test = ctx.metrics.get("test") or {}
    if ctx.output in ("binary", "multiclass") and test.get("per_class"):
        support = np.array([v.get("support", 0) for v in test["per_class"].values()], dtype=float)
        p = support[support > 0] / support.sum()
        return float(-(p * np.log(p)).sum()) if p.size else None
    dummy = (ctx.metrics.get("baselines") or {}).get("dummy") or {}
    if dummy.get("rmse") is not None:
        return float(dummy["rmse"]) ** 2
    return None


@dataclass
class FitDiagnosis:
    label: str
    sentences: list[str]


def diagnose_fit(
    history: pd.DataFrame,
    best_epoch: int | None,
    *,
    max_epochs: int | None = None,
    reference: float | None = None,
) -> FitDiagnosis | None:
    """Over- or underfitting, in words, from the train and validation loss per epoch.

    Rules: validation loss > 1.1x its best value by the last epoch = overfitting after the best epoch; validation
    loss > 1.3x the training loss at the best epoch = a generalization gap (both only when the difference is over
    1 % of ``reference``, the loss of a guess that ignores the inputs); both losses >= 0.8x ``reference`` =
    underfitting; the best epoch at the very end of all allowed epochs = still improving.

    Example:
        >>> h = pd.DataFrame({"loss": [1.0, 0.5, 0.2, 0.1], "val_loss": [1.0, 0.6, 0.7, 0.9]})
        >>> diagnose_fit(h, best_epoch=2).label
        'overfitting after epoch 2 (the saved weights are from epoch 2)'
    """
    if history.empty or "loss" not in history or "val_loss" not in history:
        return None
    tl = history["loss"].to_numpy(dtype=float)
    vl = history["val_loss"].to_numpy(dtype=float)
    n = len(history)
    b = int(best_epoch) if best_epoch and 0 < int(best_epoch) <= n else int(np.nanargmin(vl)) + 1
    tl_b, vl_b, tl_n, vl_n = tl[b - 1], vl[b - 1], tl[-1], vl[-1]
    sentences: list[str] = []
    rose = gap = underfit = still_improving = False
    # differences under 1 % of the guess's loss are too small to matter (e.g. 0.001 vs 0.002 on a 1.1 scale)
    noticeable = 0.01 * reference if reference is not None and reference > 0 else 0.0
    if n > b and vl_n > 1.1 * vl_b and vl_n - vl_b > noticeable:
        rose = True
        trend = "kept falling" if tl_n < tl_b else "stayed about the same"
        sentences.append(
            f"Validation loss rose from {fmt(vl_b)} at the best epoch ({b}) to {fmt(vl_n)} at epoch {n} while the "
            f"training loss {trend} ({fmt(tl_b)} to {fmt(tl_n)}): after epoch {b} the network began to fit noise "
            f"in the training rows (overfitting). The saved model has the weights of epoch {b}, from before this."
        )
    if tl_b > 0 and vl_b > 1.3 * tl_b and vl_b - tl_b > noticeable:
        gap = True
        sentences.append(
            f"At the best epoch the validation loss ({fmt(vl_b)}) is {vl_b / tl_b:.1f}x the training loss "
            f"({fmt(tl_b)}): a generalization gap, a sign of overfitting. More data, more dropout or L2, or a smaller "
            "network would narrow it."
        )
    if reference is not None and reference > 0 and tl_b >= 0.8 * reference and vl_b >= 0.8 * reference:
        underfit = True
        sentences.append(
            f"Training ({fmt(tl_b)}) and validation ({fmt(vl_b)}) loss both stay close to the loss of a guess that "
            f"ignores the inputs ({fmt(reference)}): the network underfits, learning little from the inputs. A "
            "larger network, more epochs or a higher learning rate may help, unless the inputs simply carry little "
            "information about the target (compare with the baselines)."
        )
    if max_epochs is not None and n >= max_epochs and n - b <= max(2, n // 50):
        still_improving = True
        sentences.append(
            f"The validation loss was still improving near the last allowed epoch (best epoch {b} of {n} = "
            "training.epochs): training may have stopped too early, and more epochs could help."
        )
    if tl_b > vl_b and not underfit:
        sentences.append(
            "Training loss sits above validation loss: normal, because the training loss is measured with dropout "
            "active and averaged over the epoch while the weights still improve; validation is measured at its end."
        )
    if underfit:
        label = "underfitting"
    elif gap:
        label = "overfitting"
    elif rose:
        label = f"overfitting after epoch {b} (the saved weights are from epoch {b})"
    elif still_improving:
        label = "still improving"
    else:
        label = "good fit"
        sentences.insert(
            0,
            f"Training and validation loss are close at the best epoch ({fmt(tl_b)} vs {fmt(vl_b)}) and the "
            "validation loss did not rise much afterwards: no sign of over- or underfitting.",
        )
    return FitDiagnosis(label, sentences)


def learning_curves_section(ctx: ReportContext) -> Section | None:
    """Loss and the main metric per epoch, train vs validation, the best epoch marked, and a diagnosis."""
    history = ctx.history
    if history.empty or "loss" not in history:
        return Section(
            "learning-curves", "Learning curves", [Paragraph("This run has no training history.", css="note")]
        )
    epochs = history["epoch"].to_numpy() if "epoch" in history else np.arange(1, len(history) + 1)
    best = ctx.metrics.get("best_epoch")
    blocks: list[Block] = []
    loss = {"train": history["loss"].to_numpy(dtype=float)}
    if "val_loss" in history:
        loss["validation"] = history["val_loss"].to_numpy(dtype=float)
    values = np.concatenate(list(loss.values()))
    values = values[np.isfinite(values) & (values > 0)]
    log_y = bool(values.size and values.max() / values.min() > 100)
    blocks.append(
        Figure(
            plots.line_chart(
                loss,
                x=epochs,
                title="Loss per epoch",
                ylabel="loss" + (" (log scale)" if log_y else ""),
                marker_x=best,
                log_y=log_y,
            ),
            alt="Training and validation loss per epoch",
        )
    )
    metric = _history_metric(history, ctx.main_metric)
    if metric:
        blocks.append(
            Figure(
                plots.line_chart(
                    {
                        "train": history[metric].to_numpy(dtype=float),
                        "validation": history[f"val_{metric}"].to_numpy(dtype=float),
                    },
                    x=epochs,
                    title=f"{metric_label(metric)} per epoch",
                    ylabel=metric_label(metric),
                    marker_x=best,
                ),
                alt=f"Training and validation {metric_label(metric)} per epoch",
            )
        )
    training = ctx.config.get("training") or {}
    diagnosis = diagnose_fit(history, best, max_epochs=training.get("epochs"), reference=reference_loss(ctx))
    if diagnosis is not None:
        blocks.append(Paragraph(f"Diagnosis: {diagnosis.label}.", css=f"diagnosis {diagnosis.label.split()[0]}"))
        blocks.extend(Paragraph(s) for s in diagnosis.sentences)
    trained = ctx.metrics.get("epochs_trained", len(history))
    blocks.append(
        Paragraph(
            f"{fmt(trained)} epoch(s) trained; best epoch {fmt(best)} (lowest validation loss), whose weights were "
            "kept. Training rows are measured with dropout active, validation rows without.",
            css="note",
        )
    )
    return Section("learning-curves", "Learning curves", blocks)


def importance_section(ctx: ReportContext) -> Section | None:
    """Permutation feature importance from metrics.json, as a bar chart with its spread."""
    imp = ctx.metrics.get("feature_importance")
    if (not imp or not imp.get("columns")) and ctx.modality == "images":
        return Section(
            "feature-importance",
            "Feature importance",
            [
                Paragraph(
                    "Permutation importance is not measured for images: a single pixel is not a meaningful input "
                    "to shuffle. The test images and the most confident mistakes above show what the network gets "
                    "right and wrong.",
                    css="note",
                )
            ],
        )
    if imp and imp.get("skipped"):
        return Section(
            "feature-importance", "Feature importance", [Paragraph(f"Not measured: {imp['skipped']}", css="note")]
        )
    if not imp or not imp.get("columns"):
        return None
    cols = imp["columns"]
    metric = metric_label(imp.get("metric", "metric"))
    names = list(cols)
    blocks: list[Block] = [
        Figure(
            plots.bar_chart(
                names,
                [cols[c]["mean"] for c in names],
                errors=[cols[c].get("std", 0.0) for c in names],
                title="Permutation feature importance",
                xlabel=f"drop in test {metric} when the column is shuffled",
            ),
            alt="Permutation feature importance per input column",
        ),
        Paragraph(
            f"Each input column was shuffled {imp.get('n_repeats', '?')} times on {fmt(imp.get('rows'))} test rows; "
            f"the bar is the mean drop in {metric} (the whisker one standard deviation). A column near zero adds "
            "little the network uses; correlated columns share their importance, so each may look small.",
            css="note",
        ),
    ]
    if len(names) > 30:
        blocks.append(Paragraph(f"The chart shows the 30 most important of {len(names)} columns.", css="note"))
    return Section("feature-importance", "Feature importance", blocks)


def guard_section(ctx: ReportContext) -> Section:
    """The out-of-distribution guard: how it was calibrated, and what a flagged row means."""
    guard = ctx.metrics.get("guard")
    if not guard:
        return Section(
            "guard",
            "Out-of-distribution guard",
            [
                Paragraph(
                    "This run was trained without the guard (guard.enabled: false): predictions carry no "
                    "'unlike the training data' flags.",
                    css="note",
                )
            ],
        )
    rate = guard.get("false_alarm_rate_target")
    rows = [
        ["false-alarm rate it was calibrated for", f"{rate:.1%}" if rate is not None else "-"],
        ["neighbours (k)", fmt(guard.get("k"))],
        ["distance threshold", fmt(guard.get("threshold"))],
        [f"training {_unit(ctx)} it compares with", fmt(guard.get("reference_rows"))],
        [
            ("validation images" if ctx.modality == "images" else _unit(ctx)) + " used to set the threshold",
            fmt(guard.get("calibration_rows")),
        ],
    ]
    images = ctx.modality == "images" or "space" in guard
    unit = "images" if ctx.modality == "images" else "rows"
    if guard.get("space"):
        rows.insert(0, ["space it measures distances in", str(guard["space"])])
    for key, label in (
        ("validation_flag_rate", f"validation {unit} flagged"),
        ("test_flag_rate", f"test {unit} flagged"),
    ):
        if guard.get(key) is not None:
            rows.append([label, f"{guard[key]:.1%}"])
    if images and rate is not None:
        confidence = (
            " It also scores how unsure the network is (one minus the probability of its predicted class, scaled "
            "the same way), and a sample's score is the larger of the two, so an image unlike the training images "
            "or one the network cannot decide on is flagged."
            if guard.get("confidence_scale") or "confidence" in str(guard.get("space", ""))
            else ""
        )
        text = (
            f"The guard embeds each {'image' if ctx.modality == 'images' else 'sample'} with the network itself "
            f"({guard.get('space', 'its penultimate layer')}) and scores it by the mean distance to its "
            f"{fmt(guard.get('k'))} nearest training embeddings, flagging it when the score exceeds a threshold "
            f"chosen so that about {rate:.1%} of ordinary validation {unit} are flagged (false alarms).{confidence} "
            "A flagged image still gets a prediction (column ood = true, ood_score > 1), but it is unlike anything "
            "the network learned from (another camera, another kind of object, a corrupted file), so check it, or "
            "collect such images and retrain."
        )
        return Section("guard", "Out-of-distribution guard", [Paragraph(text), Table(["calibration", "value"], rows)])
    text = (
        f"The guard scores each row by its mean distance to its {fmt(guard.get('k'))} nearest training rows (in the "
        "preprocessed, standardized space) and flags it when the distance exceeds a threshold chosen so that about "
        f"{rate:.1%} of ordinary rows are flagged (false alarms); rows with a category never seen in training are "
        "always flagged. A flagged row still gets a prediction (column ood = true, ood_score > 1), but it is unlike "
        "anything the network learned from, so its prediction is an extrapolation: check it, or collect such rows "
        "and retrain."
        if rate is not None
        else "The guard flags rows unlike the training data."
    )
    return Section("guard", "Out-of-distribution guard", [Paragraph(text), Table(["calibration", "value"], rows)])


SEVERITY_ORDER = {"problem": 0, "warning": 1, "info": 2}


def findings_section(ctx: ReportContext) -> Section:
    """The data checks run before training (findings.json): severity, message and suggested action."""
    findings = sorted(ctx.findings, key=lambda f: SEVERITY_ORDER.get(str(f.get("severity")), 3))
    if not findings:
        return Section(
            "findings", "Data findings", [Paragraph("No data findings were recorded for this run.", css="note")]
        )
    counts = {s: sum(1 for f in findings if f.get("severity") == s) for s in SEVERITY_ORDER}
    rows = [[str(f.get("severity", "")), str(f.get("message", "")), str(f.get("action", ""))] for f in findings]
    return Section(
        "findings",
        "Data findings",
        [
            Paragraph(
                f"{counts['problem']} problem(s), {counts['warning']} warning(s) and {counts['info']} note(s) from the "
                "data checks that ran before training (`deepwise inspect`)."
            ),
            Table(
                ["severity", "finding", "suggested action"],
                rows,
                highlight_rows=[i for i, f in enumerate(findings) if f.get("severity") != "info"],
            ),
        ],
    )


def config_section(ctx: ReportContext) -> Section:
    return Section(
        "config",
        "Configuration",
        [
            Paragraph(
                "The fully resolved config of this run (config.yaml): every default is written out, so "
                "`deepwise train config.yaml` repeats the run."
            ),
            Code(ctx.config_text),
        ],
    )


def environment_section(ctx: ReportContext) -> Section:
    """Versions, hardware, data fingerprint and timings from manifest.json."""
    m = ctx.manifest
    data = ctx.data
    run_rows = [
        ["status", str(m.get("status", "-"))],
        ["created", str(m.get("created", "-"))],
        ["finished", str(m.get("finished", "-"))],
        ["duration", f"{ctx.duration_s:.1f} s" if ctx.duration_s is not None else "-"],
        ["seed", fmt(m.get("seed"))],
        ["parameters", fmt(m.get("parameters"))],
        ["data file", str(data.get("path", "-"))],
        ["data fingerprint", str(data.get("fingerprint", "-"))],
        ["command", str(m.get("command", "-"))],
    ]
    if m.get("resumed"):
        run_rows.append(["resumed at", ", ".join(map(str, m["resumed"]))])
    blocks: list[Block] = [Table(["run", "value"], run_rows)]
    versions = ctx.versions
    if versions:
        blocks.append(Table(["software", "version"], [[k, str(v)] for k, v in versions.items()]))
    hardware = m.get("hardware") or {}
    if hardware:
        blocks.append(Table(["hardware", "value"], [[k, fmt(v)] for k, v in hardware.items()]))
    timings = m.get("timings") or {}
    if timings:
        total = sum(float(v) for v in timings.values())
        rows = [[k, f"{float(v):.2f} s", f"{float(v) / total:.0%}" if total else "-"] for k, v in timings.items()]
        rows.append(["total", f"{total:.2f} s", "100%"])
        blocks.append(Table(["step", "time", "share"], rows, highlight_rows=[len(rows) - 1]))
    return Section("environment", "Environment and timings", blocks)


# --------------------------------------------------------------------------------------- tabular: classification


def _unavailable(section_id: str, title: str, why: str) -> Section:
    return Section(section_id, title, [Paragraph(why, css="note")])


def confusion_section(ctx: ReportContext) -> Section | None:
    matrix = (ctx.metrics.get("test") or {}).get("confusion_matrix")
    if not matrix:
        return None
    return Section(
        "confusion-matrix",
        "Confusion matrix",
        [
            Figure(
                plots.heatmap(matrix["matrix"], matrix["labels"], title="Test split: true vs predicted class"),
                alt="Confusion matrix heatmap of the test split",
                caption="Rows: the true class; columns: the predicted class; numbers: rows of the test split; colour: "
                "share of the true class. The diagonal holds the correct predictions.",
            )
        ],
    )


def per_class_section(ctx: ReportContext) -> Section | None:
    per_class = (ctx.metrics.get("test") or {}).get("per_class")
    if not per_class:
        return None
    rows = [
        [name, fmt(v.get("precision")), fmt(v.get("recall")), fmt(v.get("f1")), fmt(v.get("support"))]
        for name, v in per_class.items()
    ]
    return Section(
        "per-class",
        "Precision and recall per class",
        [
            Table(["class", "precision", "recall", "F1", "support (test rows)"], rows),
            Paragraph(
                "Precision: of the rows predicted as the class, the share that are. Recall: of the rows of the "
                "class, the share found. Small classes have noisy scores.",
                css="note",
            ),
        ],
    )


def _class_curves(ctx: ReportContext, preds: TestPredictions) -> list[Section]:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    from deepwise.evaluate import class_probabilities

    task = ctx.output
    proba = class_probabilities(task, preds.output)
    y = preds.y_true.astype(int).reshape(-1)
    classes = [str(c) for c in (preds.classes or range(proba.shape[1]))]
    targets = [1] if task == "binary" else list(range(proba.shape[1]))
    roc_items, pr_items, skipped = [], [], []
    for k in targets:
        positive = y == k
        if positive.all() or not positive.any():
            skipped.append(classes[k])
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, k])
        precision, recall, _ = precision_recall_curve(positive, proba[:, k])
        name = classes[k] if task == "binary" else f"{classes[k]} vs rest"
        roc_items.append({"x": fpr, "y": tpr, "label": f"{name} (AUC {auc(fpr, tpr):.3f})"})
        ap = average_precision_score(positive, proba[:, k])
        pr_items.append({"x": recall, "y": precision, "label": f"{name} (average precision {ap:.3f})"})
    note = (
        [Paragraph(f"No curve for {', '.join(skipped)}: the test split lacks rows of it (or has only it).", css="note")]
        if skipped
        else []
    )
    which = f"the positive class '{classes[1]}'" if task == "binary" else "each class against all the others"
    roc = Section(
        "roc-curves",
        "ROC curves",
        [
            Figure(
                plots.curves(
                    roc_items,
                    title="ROC curve (test split)",
                    xlabel="false positive rate",
                    ylabel="true positive rate",
                    diagonal=True,
                ),
                alt="ROC curves",
                caption=f"For {which}. The dotted diagonal is a random guess; the closer a curve "
                "runs to the top-left corner, the better the ranking of the rows by predicted probability.",
            ),
            *note,
        ],
    )
    prevalence = float(np.mean(y == 1)) if task == "binary" else None
    pr = Section(
        "pr-curves",
        "Precision-recall curves",
        [
            Figure(
                plots.curves(
                    pr_items,
                    title="Precision-recall curve (test split)",
                    xlabel="recall",
                    ylabel="precision",
                    reference_y=prevalence,
                    reference_label="share of positive rows (random guess)" if prevalence is not None else "",
                ),
                alt="Precision-recall curves",
                caption=f"For {which}. Informative when a class is rare: a random "
                "guess has precision equal to the class's share of rows.",
            ),
            *note,
        ],
    )
    if task == "binary":
        frac_pos, mean_pred = calibration_curve(y == 1, proba[:, 1], n_bins=10, strategy="uniform")
        items = [{"x": mean_pred, "y": frac_pos, "label": f"P({classes[1]})"}]
        confidences = proba[:, 1]
        xlabel = f"predicted probability of '{classes[1]}'"
        caption = (
            f"Rows grouped by their predicted probability of '{classes[1]}' (10 bins); each point: the mean "
            "predicted probability against the share of rows that really are of that class."
        )
    else:
        confidences = proba.max(axis=1)
        correct = proba.argmax(axis=1) == y
        frac, mean_conf = calibration_curve(correct, confidences, n_bins=10, strategy="uniform")
        items = [{"x": mean_conf, "y": frac, "label": "predicted class"}]
        xlabel = "probability of the predicted class (confidence)"
        caption = (
            "Rows grouped by the probability given to their predicted class (10 bins); each point: mean "
            "confidence against the share of those predictions that were right."
        )
    calibration = Section(
        "calibration",
        "Calibration",
        [
            Figure(
                plots.calibration_chart(items, confidences, title="Calibration (test split)", xlabel=xlabel),
                alt="Calibration curve",
                caption=caption + " On the diagonal, a probability of 0.8 means right 8 times in 10; below it the "
                "network is over-confident, above it under-confident. Bins with few rows are noisy.",
            ),
        ],
    )
    return [roc, pr, calibration]


def classification_sections(ctx: ReportContext) -> list[Section]:
    """Confusion matrix, per-class table, ROC, precision-recall and calibration curves (binary and multiclass)."""
    sections = [s for s in (confusion_section(ctx), per_class_section(ctx)) if s is not None]
    preds = ctx.test_predictions
    if isinstance(preds, str):
        sections += [
            _unavailable("roc-curves", "ROC curves", preds),
            _unavailable("pr-curves", "Precision-recall curves", preds),
            _unavailable("calibration", "Calibration", preds),
        ]
    else:
        sections += _class_curves(ctx, preds)
    return sections


# ------------------------------------------------------------------------------------------- tabular: regression


def regression_sections(ctx: ReportContext) -> list[Section]:
    """Predicted vs true values and residuals on the test split."""
    preds = ctx.test_predictions
    if isinstance(preds, str):
        return [
            _unavailable("predicted-vs-true", "Predicted vs true", preds),
            _unavailable("residuals", "Residuals", preds),
        ]
    y = preds.y_true.astype(float).reshape(-1)
    pred = preds.output.astype(float).reshape(-1)
    target = ctx.target
    return [
        Section(
            "predicted-vs-true",
            "Predicted vs true",
            [
                Figure(
                    plots.scatter_true_pred(y, pred, title=f"Test split: '{target}'"),
                    alt="Predicted against true values",
                    caption="One point per test row. Points on the dotted line are predicted exactly; a cloud "
                    "flatter than the line means the network pulls predictions towards the mean.",
                )
            ],
        ),
        Section(
            "residuals",
            "Residuals",
            [
                Figure(
                    plots.residual_chart(y, pred, title="Residuals against prediction"),
                    alt="Residual plots",
                    caption="Residual = true - predicted. A pattern (a curve, a funnel widening to one side) means "
                    "the errors depend on the prediction: the network misses some structure, or the noise grows "
                    "with the value.",
                )
            ],
        ),
    ]


# ------------------------------------------------------------------------------------------------- forecasting


@dataclass
class ForecastTest:
    """The test period of a forecasting run: one entry per forecast, in time order."""

    times: np.ndarray  # the time of each forecast's target
    y_true: np.ndarray
    output: np.ndarray  # the network's raw output
    naive: dict[str, np.ndarray]  # persistence (and seasonal persistence), in the network's output format
    classes: list[str]


def forecast_test(ctx: ReportContext) -> ForecastTest | str:
    """The network's and the naive forecasts of the test period with their times (or why they are unavailable)."""
    from deepwise.errors import DeepwiseError

    preds = ctx.test_predictions
    if isinstance(preds, str):
        return preds
    prepared = ctx.prepared
    if isinstance(prepared, str):
        return prepared
    _, data = prepared
    if getattr(data, "target_rows", None) is None or getattr(data.problem, "time", None) is None:
        return "Per-step plots are not available: the rebuilt data has no time axis."
    rows = data.target_rows[data.splits["test"]]
    times = np.asarray(data.problem.time.iloc[rows])
    try:
        naive = {k: np.asarray(v) for k, v in data.naive_outputs("test").items()}
    except DeepwiseError:
        naive = {}
    classes = [str(c) for c in (preds.classes or [])]
    return ForecastTest(times, preds.y_true, preds.output, naive, classes)


def _day(time: Any) -> str:
    """A time as text, without a midnight clock time ('2001-08-18 00:00:00' -> '2001-08-18')."""
    text = str(time)
    return text[: -len(" 00:00:00")] if text.endswith(" 00:00:00") else text


def _forecast_intro(ctx: ReportContext, n: int) -> Paragraph:
    fc = ctx.metrics.get("forecast") or {}
    period = fc.get("test_period") or []
    span = f" from {_day(period[0])} to {_day(period[-1])}" if len(period) == 2 else ""
    season = f"; season length {fc['season_length']} steps" if fc.get("season_length") else ""
    return Paragraph(
        f"{fmt(n)} forecasts of '{ctx.target}' over the test period{span}, each {fc.get('horizon', '?')} step(s) "
        f"ahead from the last {fc.get('window', '?')} step(s) of the series{season}. The test period comes after "
        "every training and validation step, so these forecasts are of a future the network never saw."
    )


def _versus_naive(ctx: ReportContext) -> Paragraph | None:
    """One sentence comparing the network's main test metric with the naive forecasts' (from metrics.json)."""
    main = ctx.main_metric
    test = ctx.metrics.get("test") or {}
    baselines = ctx.metrics.get("baselines") or {}
    parts = [
        f"{BASELINE_LABELS.get(name, name)} {fmt(baselines[name].get(main))}"
        for name in ("persistence", "seasonal_persistence")
        if name in baselines and baselines[name].get(main) is not None
    ]
    if not main or test.get(main) is None or not parts:
        return None
    better = "lower" if main in LOWER_IS_BETTER else "higher"
    return Paragraph(
        f"Test {metric_label(main)} ({better} is better): network {fmt(test[main])}; " + "; ".join(parts) + ". "
        "A network that does not beat persistence has learned nothing the last value did not already say.",
        css="note",
    )


def _zoom(n: int, last: int = 200) -> slice | None:
    """The last ``last`` steps of a long test period (None when the whole period is short enough to read)."""
    return slice(n - last, n) if n > 1.5 * last else None


def forecast_regression_sections(ctx: ReportContext, ft: ForecastTest) -> list[Section]:
    y = ft.y_true.astype(float).reshape(-1)
    pred = ft.output.astype(float).reshape(-1)
    naive = {BASELINE_LABELS.get(k, k): v.astype(float).reshape(-1) for k, v in ft.naive.items()}
    target, n = ctx.target, len(y)
    forecasts = {"network forecast": pred, **naive}
    blocks: list[Block] = [
        _forecast_intro(ctx, n),
        Figure(
            plots.forecast_chart(
                ft.times, y, forecasts, title=f"Test period: '{target}', true vs forecast", ylabel=target
            ),
            alt=f"True '{target}' and the network's and persistence forecasts over the test period",
            caption="Black: the true value at each forecast's target time; blue: the network's forecast; dashed: the "
            "naive forecasts it must beat (persistence repeats the last known value). A network line that trails the "
            "true line by the horizon is just copying the last value.",
        ),
    ]
    zoom = _zoom(n)
    if zoom is not None:
        blocks.append(
            Figure(
                plots.forecast_chart(
                    ft.times[zoom],
                    y[zoom],
                    {k: v[zoom] for k, v in forecasts.items()},
                    title=f"The last {zoom.stop - zoom.start} forecasts",
                    ylabel=target,
                ),
                alt="The end of the test period, enlarged",
            )
        )
    versus = _versus_naive(ctx)
    if versus is not None:
        blocks.append(versus)
    residuals = {"network": y - pred, **{k: y - v for k, v in naive.items()}}
    return [
        Section("forecast", "Forecast over the test period", blocks),
        Section(
            "forecast-residuals",
            "Forecast residuals over time",
            [
                Figure(
                    plots.residuals_over_time(ft.times, residuals, title="Residuals over the test period"),
                    alt="Residuals of the network and persistence forecasts over time",
                    caption="Residual = true - forecast, at each forecast's target time; orange: the network's "
                    "residuals averaged over a few steps. Residuals that drift away from zero mean the series moved "
                    "away from what training saw (a trend or a level shift); waves mean a cycle the window misses; "
                    "spikes are events no past value announced.",
                )
            ],
        ),
    ]


def forecast_classification_sections(ctx: ReportContext, ft: ForecastTest) -> list[Section]:
    from deepwise.evaluate import class_probabilities

    proba = class_probabilities(ctx.output, ft.output)
    y = ft.y_true.astype(int).reshape(-1)
    classes = ft.classes or [str(i) for i in range(proba.shape[1])]
    blocks: list[Block] = [_forecast_intro(ctx, len(y))]
    persistence = ft.naive.get("persistence")
    if ctx.output == "binary":
        naive = {BASELINE_LABELS.get(k, k): v.astype(float).reshape(-1) for k, v in ft.naive.items()}
        blocks.append(
            Figure(
                plots.forecast_probability_chart(
                    ft.times,
                    proba[:, 1],
                    y,
                    positive=classes[1],
                    negative=classes[0],
                    naive=naive,
                    title=f"Test period: forecast probability of '{ctx.target}' = '{classes[1]}'",
                ),
                alt=f"Forecast probability of '{classes[1]}' over the test period with the true class",
                caption=f"Blue: the network's probability that '{ctx.target}' is '{classes[1]}' at each target "
                f"time; dots: the true class (at 1 for '{classes[1]}', at 0 for '{classes[0]}'), green where the "
                "0.5 threshold forecast it right, red where not; dashed: persistence (the last known class).",
            )
        )
    else:
        naive_class = None if persistence is None else np.asarray(persistence).argmax(axis=1)
        blocks.append(
            Figure(
                plots.forecast_class_chart(
                    ft.times,
                    proba,
                    y,
                    classes,
                    naive=naive_class,
                    naive_label="persistence (the last known class)",
                    title=f"Test period: forecast probability of each class of '{ctx.target}'",
                ),
                alt="Forecast probability of each class over the test period with the true class",
                caption="Colour: the network's probability of each class (one row per class) at each target time; "
                "dots: the true class, green where the most probable class was right, red where not; grey crosses: "
                "the class persistence forecasts (the last known one).",
            )
        )
    versus = _versus_naive(ctx)
    if versus is not None:
        blocks.append(versus)
    return [Section("forecast", "Forecast over the test period", blocks)]


def forecasting_sections(ctx: ReportContext) -> list[Section]:
    """A forecasting run's test period over time (true vs forecast, persistence, residuals), then the plots of the
    table task it outputs (regression or classification)."""
    ft = forecast_test(ctx)
    regression = ctx.output == "regression"
    if isinstance(ft, str):
        over_time = [_unavailable("forecast", "Forecast over the test period", ft)]
        if regression:
            over_time.append(_unavailable("forecast-residuals", "Forecast residuals over time", ft))
    elif regression:
        over_time = forecast_regression_sections(ctx, ft)
    else:
        over_time = forecast_classification_sections(ctx, ft)
    return over_time + (regression_sections(ctx) if regression else classification_sections(ctx))


# ------------------------------------------------------------------------------------------------------ images


@dataclass
class ImageTest:
    """The test images of an image run: where they are, the truth and the network's probabilities."""

    data: Any  # deepwise.train.PreparedData
    index: np.ndarray  # positions of the test images in data.images
    y_true: np.ndarray  # class indices
    proba: np.ndarray  # [n, n_classes]
    classes: list[str]

    @property
    def predicted(self) -> np.ndarray:
        return self.proba.argmax(axis=1)

    def pixels(self, positions: np.ndarray) -> np.ndarray:
        """Raw pixels (0-255, [n, h, w, c]) of the test images at ``positions`` (positions within the test split)."""
        return self.data.prep.load(self.data.images, self.index[positions])

    def names(self, positions: np.ndarray) -> list[str]:
        """A name per image: its path relative to the data folder, or ``#i`` for rows of an array."""
        try:
            names = self.data.images.names(self.index[positions])
        except (AttributeError, TypeError, IndexError):
            return [f"#{int(i)}" for i in self.index[positions]]
        root = Path(str(self.data.config.data.path))
        return [_relative(str(n), root) for n in names]


def _relative(name: str, root: Path) -> str:
    try:
        return str(Path(name).relative_to(root))
    except ValueError:
        return name


def image_test(ctx: ReportContext) -> ImageTest | str:
    from deepwise.evaluate import class_probabilities

    preds = ctx.test_predictions
    if isinstance(preds, str):
        return preds
    prepared = ctx.prepared
    if isinstance(prepared, str):
        return prepared
    run, data = prepared
    if getattr(data, "images", None) is None:
        return "Image plots are not available: the rebuilt data has no images."
    proba = class_probabilities(ctx.output, preds.output)
    classes = getattr(run.preprocessor, "classes_", None)
    classes = [str(c) for c in (classes if classes is not None else preds.classes or range(proba.shape[1]))]
    y = np.asarray(preds.y_true).astype(int).reshape(-1)
    return ImageTest(data, np.asarray(data.splits["test"]), y, proba, classes)


def _short(label: str, width: int = 12) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def image_grid_section(ctx: ReportContext, it: ImageTest, n_images: int = 24, seed: int = 0) -> Section:
    """A random sample of test images with the predicted and the true class (green: right, red: wrong)."""
    n = len(it.y_true)
    chosen = np.sort(np.random.default_rng(seed).choice(n, size=min(n_images, n), replace=False))
    pred = it.predicted
    ok = pred[chosen] == it.y_true[chosen]
    captions = [
        f"pred {_short(it.classes[pred[i]])} ({it.proba[i, pred[i]]:.2f})\ntrue {_short(it.classes[it.y_true[i]])}"
        for i in chosen
    ]
    wrong_shown = int((~ok).sum())
    accuracy = float(np.mean(pred == it.y_true)) if n else float("nan")
    return Section(
        "image-grid",
        "Test images and their predictions",
        [
            Figure(
                plots.image_grid(
                    it.pixels(chosen), captions, ok, title=f"{len(chosen)} random test images of {fmt(n)}"
                ),
                alt="A grid of test images with predicted and true classes",
                caption="Each image: the predicted class with its probability, and the true class; green frame: "
                "right, red frame: wrong. The images are shown as the network sees them (resized to "
                f"{'x'.join(map(str, it.data.prep.image_size))} pixels).",
            ),
            Paragraph(
                f"{wrong_shown} of the {len(chosen)} images shown are misclassified; on the whole test split the "
                f"network is right on {accuracy:.1%} of {fmt(n)} images.",
                css="note",
            ),
        ],
    )


def confident_mistakes_section(ctx: ReportContext, it: ImageTest, n_images: int = 12) -> Section:
    """The wrong predictions the network was surest of: mislabelled images, look-alike classes or shortcuts."""
    pred = it.predicted
    wrong = np.flatnonzero(pred != it.y_true)
    if wrong.size == 0:
        return Section(
            "confident-mistakes",
            "Most confident mistakes",
            [Paragraph(f"The network classified all {fmt(len(it.y_true))} test images correctly.", css="note")],
        )
    confidence = it.proba[wrong, pred[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:n_images]
    captions = [
        f"pred {_short(it.classes[pred[i]])} ({it.proba[i, pred[i]]:.2f})\n"
        f"true {_short(it.classes[it.y_true[i]])} ({it.proba[i, it.y_true[i]]:.2f})"
        for i in order
    ]
    names = it.names(order)
    rows = [
        [
            names[j],
            it.classes[it.y_true[i]],
            it.classes[pred[i]],
            f"{it.proba[i, pred[i]]:.3f}",
            f"{it.proba[i, it.y_true[i]]:.3f}",
        ]
        for j, i in enumerate(order)
    ]
    return Section(
        "confident-mistakes",
        "Most confident mistakes",
        [
            Figure(
                plots.image_grid(
                    it.pixels(order),
                    captions,
                    [False] * len(order),
                    title=f"The {len(order)} most confident of {fmt(wrong.size)} wrong test predictions",
                ),
                alt="The test images the network got wrong with the highest confidence",
                caption="Each image: the predicted class with the probability the network gave it, and the true "
                "class with its probability. Confident mistakes are often mislabelled images, classes that truly "
                "look alike, or a shortcut the network learned (a background, a watermark): look at them before "
                "trusting the probabilities.",
            ),
            Table(
                ["image", "true class", "predicted class", "P(predicted)", "P(true)"],
                rows,
                caption="The same images, most confident first.",
            ),
        ],
    )


def image_sections(ctx: ReportContext) -> list[Section]:
    """Test images with their predictions and the most confident mistakes, then the classification plots."""
    it = image_test(ctx)
    if isinstance(it, str):
        own = [
            _unavailable("image-grid", "Test images and their predictions", it),
            _unavailable("confident-mistakes", "Most confident mistakes", it),
        ]
    else:
        own = [image_grid_section(ctx, it), confident_mistakes_section(ctx, it)]
    return own + classification_sections(ctx)
