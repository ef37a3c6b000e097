"""Sections by what the network outputs, shared by every kind of data: classes (confusion matrix, precision and
recall per class, ROC, precision-recall and calibration curves) or numbers (predicted vs true, residuals).

Example:
    >>> [s.id for s in classification_sections(ctx)]
    ['confusion-matrix', 'per-class', 'roc-curves', 'pr-curves', 'calibration']
"""

from __future__ import annotations

import numpy as np

from deepwise.evaluation import class_probabilities
from deepwise.render import charts
from deepwise.render.blocks import Figure, Paragraph, Section, Table, fmt, unavailable
from deepwise.render.context import ReportContext, TestPredictions


def confusion_section(ctx: ReportContext) -> Section | None:
    matrix = (ctx.metrics.get("test") or {}).get("confusion_matrix")
    if not matrix:
        return None
    return Section(
        "confusion-matrix",
        "Confusion matrix",
        [
            Figure(
                charts.confusion_chart(matrix["matrix"], matrix["labels"], title="Test split: true vs predicted class"),
                alt="Confusion matrix of the test split",
                caption="Rows: the true class; columns: the predicted class; numbers: rows of the test split; dot "
                "size: share of the true class. The diagonal holds the correct predictions.",
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
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

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
                charts.curves(
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
                charts.curves(
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
    return [roc, pr, calibration_section(task, proba, y, classes)]


def calibration_section(task: str, proba: np.ndarray, y: np.ndarray, classes: list[str]) -> Section:
    """Predicted probabilities against how often they are right, binned (the test split)."""
    from sklearn.calibration import calibration_curve

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
                charts.calibration_chart(items, confidences, title="Calibration (test split)", xlabel=xlabel),
                alt="Calibration curve",
                caption=caption + " On the diagonal, a probability of 0.8 means right 8 times in 10; below it the "
                "network is over-confident, above it under-confident. Bins with few rows are noisy.",
            ),
        ],
    )
    return calibration


def classification_sections(ctx: ReportContext) -> list[Section]:
    """Confusion matrix, per-class table, ROC, precision-recall and calibration curves (binary and multiclass)."""
    sections = [s for s in (confusion_section(ctx), per_class_section(ctx)) if s is not None]
    preds = ctx.test_predictions
    if isinstance(preds, str):
        sections += [
            unavailable("roc-curves", "ROC curves", preds),
            unavailable("pr-curves", "Precision-recall curves", preds),
            unavailable("calibration", "Calibration", preds),
        ]
    else:
        sections += _class_curves(ctx, preds)
    return sections


def regression_sections(ctx: ReportContext) -> list[Section]:
    """Predicted vs true values and residuals on the test split."""
    preds = ctx.test_predictions
    if isinstance(preds, str):
        return [
            unavailable("predicted-vs-true", "Predicted vs true", preds),
            unavailable("residuals", "Residuals", preds),
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
                    charts.scatter_true_pred(y, pred, title=f"Test split: '{target}'"),
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
                    charts.residual_chart(y, pred, title="Residuals against prediction"),
                    alt="Residual plots",
                    caption="Residual = true - predicted. A pattern (a curve, a funnel widening to one side) means "
                    "the errors depend on the prediction: the network misses some structure, or the noise grows "
                    "with the value.",
                )
            ],
        ),
    ]


def output_sections(ctx: ReportContext) -> list[Section]:
    """The sections of the network's output: classification or regression."""
    return regression_sections(ctx) if ctx.output == "regression" else classification_sections(ctx)
