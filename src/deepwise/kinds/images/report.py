"""The report of an image run: a grid of test images with their predictions, the most confident mistakes, then the
classification sections; and the model card's and guard's words for images.

Example:
    >>> [s.id for s in image_sections(ctx)][:2]
    ['image-grid', 'confident-mistakes']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepwise.evaluation import class_probabilities
from deepwise.render import plots
from deepwise.render.blocks import Figure, Paragraph, Section, Table, fmt, unavailable
from deepwise.render.card import aligned
from deepwise.render.context import ReportContext
from deepwise.render.network_views import feature_map_figure, feature_maps, saliency, saliency_figure
from deepwise.render.outputs import output_sections


@dataclass
class ImageTest:
    """The test images of an image run: where they are, the truth and the network's probabilities."""

    data: Any  # the rebuilt ImageData
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


def inside_network_section(ctx: ReportContext, it: ImageTest, max_layers: int = 4) -> Section:
    """How each layer may look: the feature maps of one correctly classified test image, layer by layer, and where
    the network looked (SmoothGrad saliency) for its most confident right and most confident wrong prediction."""
    title = "Inside the network: feature maps and saliency"
    prepared = ctx.prepared
    model = prepared[0].model if not isinstance(prepared, str) else None
    if model is None or not len(it.y_true):
        return unavailable("inside-network", title, "The model or the test images could not be loaded.")
    pred, confidence = it.predicted, it.proba.max(axis=1)
    right, wrong = np.flatnonzero(pred == it.y_true), np.flatnonzero(pred != it.y_true)
    blocks: list[Any] = []
    first = int(right[np.argmax(confidence[right])]) if len(right) else 0
    maps = feature_maps(model, it.pixels(np.array([first]))[0], max_layers=max_layers)
    if maps:
        name = it.names(np.array([first]))[0]
        blocks.append(
            Paragraph(
                f"Test image {name} (true class {it.classes[it.y_true[first]]}) as it passes through the network: "
                "the first convolutions respond to edges and blobs of the image itself; deeper layers see a "
                "coarser grid and respond to combinations of those, which is what the final layers classify. Each "
                "small map is one filter's output, scaled to its own range (bright: a strong response)."
            )
        )
        blocks += [
            Figure(plots.to_data_uri(feature_map_figure(layer, m)), alt=f"Feature maps of layer {layer}")
            for layer, m in maps
        ]
    for label, pool in (("most confident right", right), ("most confident wrong", wrong)):
        if not len(pool):
            continue
        i = int(pool[np.argmax(confidence[pool])])
        pixels = it.pixels(np.array([i]))[0]
        heat = saliency(model, pixels, int(pred[i]), seed=int(ctx.config.get("seed") or 0))
        if heat is None:
            blocks.append(Paragraph("Saliency maps need the JAX backend (deepwise's default).", css="note"))
            break
        caption = (
            f"The {label} test prediction: {it.names(np.array([i]))[0]}, predicted {it.classes[pred[i]]} "
            f"({confidence[i]:.0%}), truth {it.classes[it.y_true[i]]}."
        )
        blocks.append(
            Figure(plots.to_data_uri(saliency_figure(pixels, heat, caption)), alt=f"Saliency of the {label}",
                   caption=caption)  # fmt: skip
        )
    if len(blocks) > 1 or maps:
        blocks.append(
            Paragraph(
                "Saliency (SmoothGrad) shows which pixels change the predicted class's score most, averaged over "
                "noisy copies of the image. Bright areas on the object are reassuring; bright areas on the "
                "background, a border or a watermark suggest a shortcut. It shows sensitivity, not reasons: "
                "`deepwise explain RUN` writes the same views, for every convolution layer, as PNG files.",
                css="note",
            )
        )
    return Section("inside-network", title, blocks) if blocks else unavailable(
        "inside-network", title, "The network has no convolution layers to show."
    )


def image_sections(ctx: ReportContext) -> list[Section]:
    """Test images with their predictions and the most confident mistakes, then the classification plots."""
    it = image_test(ctx)
    if isinstance(it, str):
        own = [
            unavailable("image-grid", "Test images and their predictions", it),
            unavailable("confident-mistakes", "Most confident mistakes", it),
            unavailable("inside-network", "Inside the network: feature maps and saliency", it),
        ]
    else:
        own = [image_grid_section(ctx, it), confident_mistakes_section(ctx, it), inside_network_section(ctx, it)]
    return own + output_sections(ctx)


def image_guard_text(guard: dict[str, Any]) -> str:
    rate = guard.get("false_alarm_rate_target", 0.0)
    confidence = (
        " It also scores how unsure the network is (one minus the probability of its predicted class, scaled "
        "the same way), and a sample's score is the larger of the two, so an image unlike the training images "
        "or one the network cannot decide on is flagged."
        if guard.get("confidence_scale") or "confidence" in str(guard.get("space", ""))
        else ""
    )
    pixels = (
        " It also compares simple statistics of the image itself with the training images' (brightness, contrast, "
        "fractions of dark, bright and mid-tone pixels, edge strength, sharpness, the border's brightness, colour), "
        "so a photograph, noise or a page of text is flagged even where the network embeds it near its training "
        "images; column ood_reason says which statistic was out of the training range."
        if "pixel statistics" in str(guard.get("space", ""))
        else ""
    )
    return (
        f"The guard embeds each image with the network itself "
        f"({guard.get('space', 'its penultimate layer')}) and scores it by the mean distance to its "
        f"{fmt(guard.get('k'))} nearest training embeddings, flagging it when the score exceeds a threshold "
        f"chosen so that about {rate:.1%} of ordinary validation images are flagged (false alarms)."
        f"{confidence}{pixels} "
        "A flagged image still gets a prediction (column ood = true, ood_score > 1), but it is unlike anything "
        "the network learned from (another camera, another kind of object, a corrupted file), so check it, or "
        "collect such images and retrain."
    )


def image_card_guard_limit(guard: dict[str, Any], rate: float, observed: list[str]) -> str:
    confidence = ", or the network is unusually unsure of its class" if guard.get("confidence_scale") else ""
    if "pixel statistics" in str(guard.get("space", "")):
        confidence += ", or the image's own pixel statistics (brightness, contrast, edges, colour) are unlike theirs"
    return (
        f"Out-of-distribution behaviour: a guard flags images unlike the training images: the network's own "
        f"embedding of the image ({guard.get('space', 'penultimate layer')}) is far from its "
        f"{fmt(guard.get('k'))} nearest training embeddings{confidence} (threshold calibrated for a "
        f"{rate:.1%} false-alarm rate; observed on held-out images: {', '.join(observed) or 'not measured'})."
        " A flagged image (`ood` true, `ood_score` > 1) still gets a prediction, but it is an extrapolation "
        "the test metrics say nothing about: review it, and retrain with such images if they are common."
    )


def image_card_usage(ctx: ReportContext, columns: str, proba_note: str) -> tuple[list[str], str, str]:
    path = str(ctx.path)
    commands = [
        (f"deepwise predict {path} new_images/ -o predictions.csv", f"image, prediction, {proba_note}ood, ood_score"),
        (f"deepwise evaluate {path} labelled_images/", "re-measure on a folder of class sub-folders"),
        (f"deepwise export {path} --format onnx", "or keras / saved_model"),
    ]
    python = (
        f'import deepwise\n\nrun = deepwise.load_run("{path}")\n'
        "predictions = run.predict(\"new_images/\")  # a folder, a list of files or a CSV of paths; 'ood' flags "
        "images unlike the training images\nprint(predictions.head())"
    )
    prep = ctx.preprocessing or {}
    size = "x".join(map(str, prep.get("image_size") or ["?", "?"]))
    note = (
        f"Images of any size and format Pillow reads are accepted; each is resized to {size} pixels and "
        f"converted to {prep.get('channels', '?')} channel(s), as in training."
    )
    return aligned(commands), python, note


def image_card_source(ctx: ReportContext) -> str:
    prep = ctx.preprocessing or {}
    size = "x".join(map(str, prep.get("image_size") or ["?", "?"]))
    colours = {1: "grayscale", 3: "colour"}.get(prep.get("channels"), f"{prep.get('channels', '?')}-channel")
    return f"one image (resized to {size} pixels, {colours})"
