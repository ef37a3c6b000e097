"""The sections of the report that every run has: summary, verdict, metrics against the baselines, learning curves,
feature importance, the guard, the data checks, the config and the environment.

Each reads what the run directory holds; the words that depend on the kind of data (what one test example is
called) come from the context (:attr:`ReportContext.unit`).

Example:
    >>> summary_section(ReportContext.load("runs/penguins-20260101-120000")).title
    'Summary'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepwise.evaluation import LOWER_IS_BETTER
from deepwise.render import charts
from deepwise.render.blocks import (
    BASELINE_LABELS,
    VERDICT_LABELS,
    Block,
    Code,
    Figure,
    Paragraph,
    Section,
    Table,
    fmt,
    metric_label,
    scalar_metrics,
    with_article,
)
from deepwise.render.context import ReportContext


def summary_section(ctx: ReportContext) -> Section:
    """What was trained on what, the headline test scores and the verdict in one glance."""
    verdict = ctx.metrics.get("verdict") or {}
    test = ctx.metrics.get("test") or {}
    data = ctx.data
    split = data.get("split") or {}
    unit = ctx.unit
    task = ctx.task_label
    total = ctx.total_unit
    data_cfg = ctx.config.get("data") or {}
    in_time = (
        f", in time order by '{data_cfg.get('time_column') or 'the row order'}': the test {unit} come after every "
        f"training {unit[:-1] if unit.endswith('s') else unit}, as new data will"
        if (data_cfg.get("split") or {}).get("chronological")
        else ""
    )
    blocks: list[Block] = [
        Paragraph(
            f"{with_article(task)} run predicting '{ctx.target}' from {data.get('path', 'its data')} "
            f"({fmt(data.get('rows'))} {total}; split into {fmt(split.get('train'))} train · "
            f"{fmt(split.get('validation'))} validation · {fmt(split.get('test'))} test {unit}{in_time})."
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
            caption=f"Held-out test split ({fmt(test.get('n'))} {ctx.unit}), the same {ctx.unit} for every model. "
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


def uncertainty_section(ctx: ReportContext) -> Section | None:
    """The conformal intervals or sets: how often they should hold the truth, and how often they did on test."""
    found = ctx.metrics.get("conformal")
    if not found:
        return None
    nominal, measured, n = found["nominal_coverage"], found["test_coverage"], found["test_rows"]
    noise = 1.96 * (nominal * (1 - nominal) / max(n, 1)) ** 0.5
    if found["kind"] == "interval":
        what = (
            f"Each prediction comes with an interval, prediction ± {fmt(found['quantile'])} (columns lower_* and "
            "upper_*), the quantile of the network's absolute errors on the validation split"
        )
        size = ["interval width", fmt(found["mean_width"])]
    else:
        what = (
            f"Each prediction comes with a set of classes (column set_*): every class with probability at least "
            f"{fmt(1 - found['quantile'])}, the threshold the validation split calibrated"
        )
        size = ["mean classes per set", fmt(found["mean_set_size"])]
    rows = [
        ["nominal coverage", f"{nominal:.0%}"],
        [f"measured on the {fmt(n)} test {ctx.unit}", f"{measured:.1%}"],
        [f"expected spread on {fmt(n)} {ctx.unit} (95 %)", f"± {noise:.1%}"],
        size,
        [f"validation {ctx.unit} that calibrated it", fmt(found["calibration_rows"])],
    ]
    return Section(
        "uncertainty",
        "Uncertainty: conformal intervals and sets",
        [
            Paragraph(
                f"{what} (split-conformal prediction). When new {ctx.unit} are drawn as the validation ones were, it "
                f"holds the truth at least {nominal:.0%} of the time; the test split measures it. It says nothing "
                f"about {ctx.unit} unlike the training data (the guard flags those)."
            ),
            Table(["uncertainty", "value"], rows),
        ],
    )


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
                charts.interval_chart(
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
            charts.line_chart(
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
                charts.line_chart(
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
    if (not imp or not imp.get("columns")) and ctx.no_importance_note:
        return Section("feature-importance", "Feature importance", [Paragraph(ctx.no_importance_note, css="note")])
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
            charts.bar_chart(
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
    """The out-of-distribution guard: how it was calibrated, and what a flagged example means (the kind's words)."""
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
        [f"training {ctx.unit} it compares with", fmt(guard.get("reference_rows"))],
        [f"validation {ctx.unit} used to set the threshold", fmt(guard.get("calibration_rows"))],
    ]
    if guard.get("space"):
        rows.insert(0, ["space it measures distances in", str(guard["space"])])
    for key, label in (
        ("validation_flag_rate", f"validation {ctx.unit} flagged"),
        ("test_flag_rate", f"test {ctx.unit} flagged"),
    ):
        if guard.get(key) is not None:
            rows.append([label, f"{guard[key]:.1%}"])
    text = ctx.guard_text(guard) if rate is not None else f"The guard flags {ctx.unit} unlike the training data."
    return Section("guard", "Out-of-distribution guard", [Paragraph(text), Table(["calibration", "value"], rows)])


def rows_guard_text(guard: dict[str, Any]) -> str:
    """What the guard of a table (or a series) does, in words."""
    return (
        f"The guard scores each row by its mean distance to its {fmt(guard.get('k'))} nearest training rows (in the "
        "preprocessed, standardized space) and flags it when the distance exceeds a threshold chosen so that about "
        f"{guard.get('false_alarm_rate_target', 0.0):.1%} of ordinary rows are flagged (false alarms); rows with a "
        "category never seen in training are always flagged. A flagged row still gets a prediction (column ood = true, "
        "ood_score > 1), but it is unlike anything the network learned from, so its prediction is an extrapolation: "
        "check it, or collect such rows and retrain."
    )


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
