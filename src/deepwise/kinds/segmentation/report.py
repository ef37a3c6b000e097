"""The report of a segmentation run: IoU and Dice per class for the network and each baseline, the best and worst
test images (or cells) with the predicted mask drawn over them, and the baselines' masks next to the network's for
one test image; and the model card's and the guard's words for images.

The tables come from metrics.json; the overlays predict the best and worst test units again with the run's network
(the test split is rebuilt from the data folder).

Example:
    >>> [s.id for s in segmentation_sections(ctx)]
    ['segmentation-classes', 'segmentation-examples']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.kinds.segmentation.metrics import BASELINE_LABELS
from deepwise.render import plots
from deepwise.render.blocks import Figure, Paragraph, Section, Table, fmt, unavailable
from deepwise.render.card import aligned
from deepwise.render.context import ReportContext


def _extra(ctx: ReportContext) -> dict[str, Any]:
    return ctx.metrics.get("segmentation") or {}


def classes_section(ctx: ReportContext) -> Section:
    """Per-class IoU (and Dice) of the network and of each baseline on the same test pixels."""
    test = ctx.metrics.get("test") or {}
    if not test.get("iou"):
        return unavailable("segmentation-classes", "IoU per class", "Not recorded in this run.")
    baselines = ctx.metrics.get("baselines") or {}
    names = ["network", *baselines]
    scored = {"network": test, **baselines}
    rows = [
        [cls, *[fmt((scored[n].get("iou") or {}).get(cls), 3) for n in names],
         fmt((test.get("dice") or {}).get(cls), 3), fmt((test.get("true_pixels") or {}).get(cls))]
        for cls in test["iou"]
    ]  # fmt: skip
    rows.append(["mean IoU", *[fmt(scored[n].get("mean_iou"), 3) for n in names], fmt(test.get("mean_dice"), 3), ""])
    extra = _extra(ctx)
    blocks: list[Any] = [
        Table(
            ["class", *[BASELINE_LABELS.get(n, n) for n in names], "network Dice", "test pixels"],
            rows,
            caption="IoU per class on the test pixels (network and each baseline on the same pixels), from integer "
            "pixel counts; a class absent from both truth and prediction has no IoU (-).",
        )
    ]
    if extra.get("split"):
        blocks.append(Paragraph(f"Split: {extra['split']}", css="note"))
    if extra.get("plan"):
        blocks.append(Paragraph(f"Network: {extra['plan'].get('reason', '')}.", css="note"))
    for note in extra.get("notes") or []:
        blocks.append(Paragraph(f"Masks: {note}", css="note"))
    return Section("segmentation-classes", "IoU per class, network and baselines", blocks)


def _overlay_figure(panels: list[tuple[str, np.ndarray]], columns: int) -> str:
    from matplotlib.figure import Figure as MplFigure

    rows = -(-len(panels) // columns)
    fig = MplFigure(figsize=(3.2 * columns, 3.2 * rows), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
    for ax, (title, rgb) in zip(axes, panels, strict=False):
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    for ax in axes[len(panels) :]:
        ax.axis("off")
    return plots.to_data_uri(fig)


def examples_section(ctx: ReportContext) -> Section:
    """The best and worst test units with truth and prediction drawn over them; the baselines on the worst one."""
    from deepwise.kinds.segmentation.write import overlay

    extra = _extra(ctx)
    if "worst_unit" not in extra:
        return unavailable("segmentation-examples", "Best and worst test images", "Not recorded in this run.")
    prepared = ctx.prepared
    if isinstance(prepared, str):
        return unavailable("segmentation-examples", "Best and worst test images", prepared)
    run, data = prepared
    u, legend = data.units, data.prep.legend
    metric = extra.get("verdict_metric", "mean_iou")
    values = (extra.get("test_units") or {}).get(metric) or []
    predictions = data.predict(run.model, "test")
    panels: list[tuple[str, np.ndarray]] = []
    for label, i in (("best", extra["best_unit"]), ("worst", extra["worst_unit"])):
        image = u.crop_test(i, u.test_images[i])
        score = values[i] if i < len(values) else None
        panels.append((f"{label}: truth", overlay(image, u.test_masks[i], legend)))
        panels.append((f"{label}: network ({metric} {fmt(score, 3)})", overlay(image, predictions[i], legend)))
    worst = extra["worst_unit"]
    image = u.crop_test(worst, u.test_images[worst])
    for name in ("otsu", "filter_logistic"):
        masks = data.baseline_masks(name)
        panels.append((f"worst: {name}", overlay(image, masks[worst], legend)))
    return Section(
        "segmentation-examples",
        f"Best and worst {u.unit}",
        [
            Figure(
                _overlay_figure(panels, columns=4),
                alt="Test images with the true and predicted masks drawn over them",
                caption=f"Top row: the {u.unit[:-1]} the network segments best ({metric}); then the worst, with the "
                "Otsu threshold's and the filter logistic regression's masks for it. Class colours as in the "
                "predicted mask files; background uncoloured.",
            )
        ],
    )


def segmentation_sections(ctx: ReportContext) -> list:
    return [classes_section(ctx), examples_section(ctx)]


# ------------------------------------------------------------------------------------------------------ words


def segmentation_guard_text(guard: dict[str, Any]) -> str:
    rate = guard.get("false_alarm_rate_target", 0.0)
    return (
        "The guard compares each image with the training images two ways: its intensity statistics per channel "
        "(mean, spread, percentiles, saturation, sharpness) against the range the training images span, and the "
        "U-Net's bottleneck activations averaged over the image against the nearest training images'. Each "
        f"threshold is calibrated for about {rate:.1%} false alarms on held-out images or cells. A flagged image "
        "(ood true, with ood_reasons) is still segmented: check its mask."
    )


def segmentation_card_guard_limit(guard: dict[str, Any], rate: float, observed: list[str]) -> str:
    return (
        "Out-of-distribution behaviour: the network outputs a mask for any image, including ones from another "
        "microscope, stain or scale. A guard flags images whose intensities or U-Net features are unlike the "
        f"training images' (calibrated for a {rate:.1%} false-alarm rate; observed: "
        f"{', '.join(observed) or 'not measured'}). It cannot catch an image that looks ordinary but is labelled "
        "differently."
    )


SEGMENTATION_SCOPE = (
    "The metrics come from one split of these images (by image, or spatially into cells of one large image); they "
    "say nothing about images from other instruments, stains or magnifications."
)


def segmentation_card_usage(ctx: ReportContext) -> tuple[list[str], str, str]:
    path = str(ctx.path)
    commands = [
        (f"deepwise predict {path} new_images/ -o masks/", "masks/<image>.png (class ids) and masks/predictions.csv"),
        (f"deepwise predict {path} slide.tif -o out/ --overlays", "large images in tiles; overlays/ for a look"),
        (f"deepwise evaluate {path} labelled/", "re-measure on a folder with images/ and masks/"),
        (f"deepwise serve {path}", "HTTP: POST /predict with image files; masks as base64 PNG"),
    ]
    python = (
        f'import deepwise\n\nrun = deepwise.load_run("{path}")\n'
        'summary, masks = run.predictor.segment("new_images/")  # class indices per pixel\n'
        'print(summary[["image", "ood"]])'
    )
    note = "Input: images like the training ones (same channels); any size (large ones are tiled)."
    return aligned(commands), python, note


SEGMENTATION_INPUT = """It takes raw images (not rescaled: its first layer standardizes them): {inputs}, i.e.
  [images, height, width, channels] with height and width multiples of 2**depth (pad the rest); it outputs a softmax
  over the classes at every pixel ([images, height, width, classes]).
- `preprocessing.json`: the classes (the ids and colours the masks use), the U-Net's depth and the tile size for
  large images."""
