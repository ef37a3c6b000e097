"""The report of a generative run: samples (a grid of generated images, or generated rows beside real ones)
captioned with the lesson's warning, the warning measured (how often samples pass for real, near-copies of training
examples), and the model card's words. The quality numbers of the VAE against every simple generator are the common
"Test metrics and baselines" section.

Example:
    >>> [s.id for s in generation_sections(ctx)]
    ['generated-samples', 'imagination-measured']
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from deepwise.kinds.generation.synth_common import IMAGINATION
from deepwise.render.blocks import Figure, Paragraph, Section, Table, fmt, unavailable
from deepwise.render.card import aligned
from deepwise.render.context import ReportContext

GRID_SAMPLES = 100


def _png_uri(image: np.ndarray) -> str:
    from PIL import Image

    pixels = np.round(np.clip(np.asarray(image, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    scale = max(1, 560 // max(pixels.shape[:2]))
    img = Image.fromarray(pixels)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_samples_section(ctx: ReportContext) -> Section:
    from deepwise.kinds.generation.vae import image_grid, sample_images

    title = "Generated images"
    network = (ctx.preprocessing or {}).get("network") or {}
    try:
        model = ctx.files.open_model(False)
    except Exception as err:  # noqa: BLE001  (a report never fails on one section)
        return unavailable("generated-samples", title, f"The model could not be loaded: {err}")
    density = (ctx.metrics.get("generation") or {}).get("code_density")
    samples = np.asarray(sample_images(model, GRID_SAMPLES, seed=network.get("seed", 0),
                                       temperature=network.get("temperature", 1.0), density=density))  # fmt: skip
    grid = image_grid(samples, columns=10, gap=2)
    source = "a Gaussian mixture fitted to the training images' codes" if density else "a standard normal"
    caption = (f"{GRID_SAMPLES} samples (codes drawn from {source}, temperature {network.get('temperature', 1.0):g}, "
               f"seed {network.get('seed', 0)}). {IMAGINATION}")  # fmt: skip
    return Section("generated-samples", title, [Figure(_png_uri(grid), "generated images", caption)])


def table_samples_section(ctx: ReportContext) -> Section:
    extra = ctx.metrics.get("generation") or {}
    title = "Generated rows"
    if not extra.get("samples"):
        return unavailable("generated-samples", title, "Not recorded in this run.")
    columns = list(extra["samples"][0])
    rows = [[fmt(r.get(c)) for c in columns] + ["generated"] for r in extra["samples"]]
    rows += [[fmt(r.get(c)) for c in columns] + ["real (test)"] for r in extra.get("real", [])]
    return Section("generated-samples", title, [
        Table([*columns, "source"], rows, caption=f"Ten generated rows, then ten real test rows. {IMAGINATION}"),
    ])  # fmt: skip


def imagination_section(ctx: ReportContext) -> Section:
    """The lesson's warning, measured: how the samples compare with real data, and how close they come to copies."""
    test = ctx.metrics.get("test") or {}
    title = "A statistical imagination, measured"
    blocks: list[Any] = [Paragraph(IMAGINATION)]
    if "confident_share" in test:
        blocks.append(Paragraph(
            f"A classifier trained on the real training images calls {test['confident_share']:.1%} of "
            f"{test['n']:,} samples a class with confidence >= 0.9 (real test images: "
            f"{test['real_confident_share']:.1%}); {test['classes_present']} classes appear. Precision "
            f"{test['precision']:.2f} and density {test['density']:.2f} say how much the samples look like real "
            f"images, recall {test['recall']:.2f} and coverage {test['coverage']:.2f} how much of the real variety "
            "they cover (in the classifier's embedding). Looking real is not being real: a sample is an average of "
            "what the network saw, with detail invented."))  # fmt: skip
        prior = (ctx.metrics.get("generation") or {}).get("prior_sampling")
        if prior:
            blocks.append(Paragraph(
                f"The same network decoding codes drawn from its standard normal prior instead of the mixture fitted "
                f"to the training codes: {prior['confident_share']:.1%} confident, {prior['classes_present']} classes "
                "(prior codes land between the classes and decode to blends)."))  # fmt: skip
        blocks.append(Table(["measure", "value"], [
            ["near-copies of a training image", f"{test['near_copies']} of {test['n']:,}"],
            ["the same rule on real test images (what it flags in data that copies nothing)",
             f"{test['real_near_copies']} of the real test images"],
            ["smallest ratio of a sample (near-copy below the rule's 1/3)", fmt(test["nearest_ratio_min"], 3)],
            ["median distance of a sample to its nearest training image", fmt(test["nearest_training_median"])],
            ["median distance of a real test image to its nearest training image",
             fmt(test["real_nearest_training_median"])],
        ], caption=str(test.get("near_copy_rule", ""))))  # fmt: skip
    elif "real_vs_synthetic_auc" in test:
        blocks.append(Paragraph(
            f"A classifier tells the generated rows from the training rows with ROC AUC "
            f"{test['real_vs_synthetic_auc']:.3f} (0.5: it cannot; 1: always). A model trained on generated rows "
            f"scores {fmt(test['train_on_synthetic'], 3)} ({test['tstr_metric']}) on real test rows, "
            f"{test['tstr_ratio']:.2f}x the {fmt(test['train_on_real'], 3)} of one trained on the real rows. "
            f"{test['closer_than_real_share']:.1%} of generated rows lie closer to a training row than 95 % of real "
            f"test rows do (about 5 % when nothing is copied); exact copies: {test['exact_copies']}."))  # fmt: skip
    return Section("imagination-measured", title, blocks)


def generation_sections(ctx: ReportContext, images: bool) -> list[Section]:
    samples = image_samples_section(ctx) if images else table_samples_section(ctx)
    return [samples, imagination_section(ctx)]


def generation_guard_text(guard: dict[str, Any]) -> str:
    rate = guard.get("false_alarm_rate_target", 0.0)
    return (
        f"The guard is used by `deepwise predict`, which scores how typical given data is for the generator: it flags "
        f"examples whose distance to their nearest training examples ({guard.get('space', 'encoded')}) exceeds what "
        f"{rate:.1%} of validation examples exceed. Generated data itself is never guarded: it is all imagined."
    )


def generation_card_guard_limit(guard: dict[str, Any], rate: float, observed: list[str]) -> str:
    return (
        "Generated data carries no information beyond the training data; it is a sample of what the network learned "
        f"and is marked as generated. The guard (calibrated for a {rate:.1%} false-alarm rate; observed: "
        f"{', '.join(observed) or 'not measured'}) only concerns `deepwise predict`'s typicality scores."
    )


GENERATION_SCOPE = (
    "The quality numbers compare samples with one random split of this data; they say nothing about data of another "
    "kind, and passing for real is not being real. " + IMAGINATION
)


def generation_card_usage(ctx: ReportContext, images: bool) -> tuple[list[str], str, str]:
    path = str(ctx.path)
    if images:
        commands = [
            (f"deepwise generate {path} -n 64 -o samples/", "64 PNGs and samples/grid.png, marked as generated"),
            (f"deepwise predict {path} FOLDER", "how typical each image is (vae_loss, ood)"),
            (f"deepwise evaluate {path}", "the samples' quality against the test images, re-measured"),
        ]
        python = f'import deepwise\n\nrun = deepwise.load_run("{path}")\nrun.generate(64, "samples/").grid'
        note = "No input: images are decoded from random codes. " + IMAGINATION
    else:
        commands = [
            (f"deepwise generate {path} -n 1000 -o synthetic.csv", "rows with a deepwise_generated column"),
            (f"deepwise generate {path} -n 1000 --method gaussian_copula", "the baseline generator's rows"),
            (f"deepwise predict {path} rows.csv", "how typical each row is (vae_loss, ood)"),
        ]
        python = f'import deepwise\n\nrun = deepwise.load_run("{path}")\nrows = run.generate(1000).data'
        note = "No input: rows are decoded from random codes. " + IMAGINATION
    return aligned(commands), python, note


GENERATION_INPUT = """It is a variational autoencoder (custom Keras classes registered by deepwise: import
  deepwise.kinds.generation.vae before loading it): {inputs}; new data is `model.decoder` applied to codes drawn
  from a standard normal.
- `preprocessing.json`: the table's columns (or the images' shape), the VAE's size and the sampling temperature."""
