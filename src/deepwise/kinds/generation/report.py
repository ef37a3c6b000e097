"""The report of an image-to-image run: input, network, target and the best classical filter side by side for the
best and worst test images (captioned with the lesson's warning), the fixed-filter finder's candidates, and the
measured "imagination" on test images the guard flags; and the model card's and the guard's words for images.

The PSNR/SSIM table of the network against every baseline is the common "Test metrics and baselines" section.

Example:
    >>> [s.id for s in enhancement_sections(ctx)]
    ['enhancement-examples', 'fixed-filter', 'imagined']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.render import plots
from deepwise.render.blocks import Figure, Paragraph, Section, Table, fmt, unavailable
from deepwise.render.card import aligned
from deepwise.render.context import ReportContext

WARNING_CAPTION = (
    "A statistical imagination, not a recreation: the network's output is what images like its training targets "
    "usually look like, not a measurement of what was there."
)


def _extra(ctx: ReportContext) -> dict[str, Any]:
    return ctx.metrics.get("image_to_image") or {}


def side_by_side(rows: list[tuple[str, list[np.ndarray]]], columns: list[str], title: str) -> str:
    """A grid of images in [0, 1]: one row per example (its label), one column per method."""
    from matplotlib.figure import Figure as MplFigure

    n, m = len(rows), len(columns)
    fig = MplFigure(figsize=(1.9 * m, 1.9 * n + 0.6), dpi=100, layout="constrained")
    axes = np.asarray(fig.subplots(n, m, squeeze=False))
    for r, (label, images) in enumerate(rows):
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            img = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
            small = img.shape[0] < 64
            if img.shape[-1] == 1:
                ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest" if small else "antialiased")
            else:
                ax.imshow(img, interpolation="nearest" if small else "antialiased")
            if r == 0:
                ax.set_title(columns[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title)
    return plots.to_data_uri(fig)


def examples_section(ctx: ReportContext) -> Section:
    """Input, network, target and the best classical filter for the best and worst test images."""
    from deepwise.kinds.generation.baselines import apply_baseline, baseline_outputs

    extra = _extra(ctx)
    title = "Best and worst test images, side by side"
    if not extra.get("worst"):
        return unavailable("enhancement-examples", title, "Not recorded in this run.")
    prepared = ctx.prepared
    if isinstance(prepared, str):
        return unavailable("enhancement-examples", title, prepared)
    run, data = prepared
    best = extra.get("best_baseline", "identity")
    params = extra.get("baseline_params") or {}
    chosen = [*extra["best"], *extra["worst"]]
    positions = [e["position"] for e in chosen]
    x, y = data.x["test"][positions], data.y["test"][positions]
    from deepwise.kinds.generation.image2image import enhance

    network = enhance(run.model, x)
    classical = (
        apply_baseline(best, params[best], x, y.shape[1:]) if best in params else baseline_outputs({}, x, y.shape[1:])
    )
    rows = [
        (f"{'best' if i < len(extra['best']) else 'worst'}: {e['name']}\n{e['psnr']:.1f} / {e['baseline_psnr']:.1f} dB",
         [x[i], network[i], y[i], classical[i]])
        for i, e in enumerate(chosen)
    ]  # fmt: skip
    uri = side_by_side(rows, ["input", "network", "target", best.replace("_", " ")], "Test images")
    return Section(
        "enhancement-examples",
        title,
        [
            Figure(
                uri,
                alt="Input, network output, target and classical filter for the best and worst test images",
                caption=f"{WARNING_CAPTION} Each row: PSNR of the network / of {best.replace('_', ' ')} against the "
                "target. The best rows are where the network is most convincing; the worst, where it invents or "
                "smears most.",
            ),
            Paragraph(extra.get("warning", WARNING_CAPTION), css="note"),
        ],
    )


def filter_section(ctx: ReportContext) -> Section:
    """The fixed-filter finder: is the target a classical computation of the input?"""
    found = _extra(ctx).get("fixed_filter")
    title = "Is the target a fixed filter of the input?"
    if not found:
        return unavailable(
            "fixed-filter", title, "Not checked: the targets are larger than the inputs (super-resolution)."
        )
    rows = [[c["family"].replace("_", " "), c["name"], fmt(c["psnr_db"])] for c in found["candidates"][:10]]
    if found["reproduces_targets"]:
        lead = (
            f"Yes: {found['name']} reproduces held-out targets at {found['psnr_db']:.1f} dB PSNR (threshold "
            f"{found['threshold_db']:.0f} dB, an error of about 1 % of the range). Basic image processing like this "
            "(blurring, edge detection, fewer colours, a contrast curve) should not be done with deep learning: use "
            "the filter, which is exact, fast and explainable."
        )
    else:
        lead = (
            f"No: the closest fixed filter, {found['name']}, reaches {found['psnr_db']:.1f} dB on held-out pairs, "
            f"below the {found['threshold_db']:.0f} dB at which it would reproduce the targets."
        )
    return Section(
        "fixed-filter",
        title,
        [
            Paragraph(lead),
            Table(
                ["family", "filter", "held-out PSNR (dB)"],
                rows,
                caption=f"Fitted on {fmt(found['n_fit_pairs'])} training pairs, scored on "
                f"{fmt(found['n_heldout_pairs'])} validation pairs ({found['border']} border pixels left out): "
                "linear kernels (least squares), monotone point-wise curves, colour quantization and named "
                "scikit-image filters.",
            ),
        ],
    )


def imagined_section(ctx: ReportContext) -> Section:
    """Test images the guard flags: the network against the classical filter where it imagines most."""
    extra = _extra(ctx)
    guard = extra.get("guard") or {}
    found = extra.get("imagined")
    title = "Where the network imagines: images unlike the training inputs"
    if not found:
        text = (
            f"The guard flagged none of the {fmt(guard.get('test_images'))} test images, so there is no far-away "
            "example to measure here. Measure one: put such images and what they should become in a folder with "
            f"inputs/ and targets/ and run `deepwise evaluate {ctx.path} FOLDER` (it reports the network's PSNR, the "
            "classical filters' on the same images and the share the guard flags)."
            if guard
            else "The guard was off in this run."
        )
        return Section("imagined", title, [Paragraph(text), Paragraph(WARNING_CAPTION, css="note")])
    baseline = str(found.get("baseline", "")).replace("_", " ")
    diff = found["network_psnr"] - found["baseline_psnr"]
    return Section(
        "imagined",
        title,
        [
            Paragraph(
                f"The guard flagged {fmt(guard.get('test_flagged'))} of {fmt(guard.get('test_images'))} test images "
                f"as unlike the training inputs. On them the network scores {found['network_psnr']:.2f} dB PSNR, "
                f"{baseline} {found['baseline_psnr']:.2f} dB ({diff:+.2f} dB): "
                + ("the classical filter is closer to the truth there." if diff < 0 else "the network still leads, "
                   "but its output there is least trustworthy.")
            ),
            Table(
                ["image", "network PSNR (dB)", f"{baseline} PSNR (dB)"],
                [[e["name"], fmt(e["psnr"]), fmt(e["baseline_psnr"])] for e in found.get("examples", [])],
                caption=WARNING_CAPTION,
            ),
        ],
    )  # fmt: skip


def enhancement_sections(ctx: ReportContext) -> list[Section]:
    """The kind's sections, after the learning curves."""
    return [examples_section(ctx), filter_section(ctx), imagined_section(ctx)]


# ------------------------------------------------------------------------------------------------------ words


def enhancement_guard_text(guard: dict[str, Any]) -> str:
    rate = guard.get("false_alarm_rate_target", 0.0)
    return (
        "The guard describes each input image by the image shrunk to 8x8 per channel, its brightness, contrast and "
        "edge strength, and flags images whose mean distance to the 5 nearest training inputs exceeds what "
        f"{rate:.1%} of held-back training inputs exceed. A flagged image is still enhanced, and the output looks "
        "just as confident: that is where the network imagines most."
    )


def enhancement_card_guard_limit(guard: dict[str, Any], rate: float, observed: list[str]) -> str:
    return (
        "Out-of-distribution behaviour: the network turns any image into something that looks like its training "
        f"targets. A guard flags inputs unlike the training inputs (calibrated for a {rate:.1%} false-alarm rate; "
        f"observed: {', '.join(observed) or 'not measured'}); on those a classical filter is often closer to the "
        "truth. Every output image is marked as generated in its PNG metadata."
    )


ENHANCEMENT_SCOPE = (
    "The metrics come from one random split of these image pairs; they say nothing about images of another kind "
    "(another camera, subject or degradation). " + WARNING_CAPTION
)


def enhancement_card_usage(ctx: ReportContext) -> tuple[list[str], str, str]:
    path = str(ctx.path)
    commands = [
        (f"deepwise predict {path} FOLDER -o enhanced/",
         "enhanced PNGs marked as generated, and enhanced/predictions.csv (ood per image)"),
        (f"deepwise evaluate {path} PAIRS/", "PSNR/SSIM on new inputs/ and targets/, the classical filters too"),
        (f"deepwise serve {path}", 'HTTP: POST /predict {"images": [base64, ...]} -> base64 PNGs'),
        (f"deepwise export {path} --format keras", "the network (images in [0, 1] in and out)"),
    ]  # fmt: skip
    python = (
        f'import deepwise\n\nrun = deepwise.load_run("{path}")\n'
        'run.predict_to_csv("noisy/", "enhanced/")  # writes enhanced/*.png (marked) and enhanced/predictions.csv\n'
        'print(run.predict("noisy/")[["image", "ood"]])'
    )
    prep = ctx.preprocessing or {}
    shape = prep.get("input_shape") or ["?", "?", "?"]
    note = (
        f"Input: images with {shape[2]} channel(s) like the training inputs ({shape[1]}x{shape[0]}; other sizes are "
        "padded and cropped back). " + WARNING_CAPTION
    )
    return aligned(commands), python, note


ENHANCEMENT_INPUT = """It takes images as float32 in [0, 1]: {inputs}, i.e. [images, height, width, channels], height
  and width multiples of 2^depth (pad with reflection, then crop the output back); it outputs the enhanced images in
  [0, 1].
- `preprocessing.json`: the training input and target shapes and the network's depth."""
