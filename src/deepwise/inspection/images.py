"""The data checks of a set of images: sizes, colour modes, class balance, duplicates.

Example:
    >>> inspect_images(open_images("digits/"))[0].code
    'overview'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from deepwise.data.images import describe
from deepwise.inspection.checks import class_balance
from deepwise.inspection.findings import Finding, Findings


def inspect_images(images: Any, target: str = "label", seed: int = 0) -> Findings:
    """Findings for an image set (:class:`deepwise.data.images.ImageSet`): classes, sizes, channels,
    duplicates, unreadable files and whether there are enough images per class.

    Example:
        >>> inspect_images(open_images("digits/")).render(console)
    """
    stats = describe(images, seed=seed)
    findings = Findings()
    sizes = ", ".join(f"{k} ({v})" for k, v in list(stats["sizes"].items())[:5])
    channels = ", ".join(f"{k}: {v}" for k, v in stats["channels"].items())
    findings.append(
        Finding(
            "overview",
            "info",
            f"{stats['images']:,} images in {len(stats['class_counts'])} classes (from {images.source}). Sizes "
            f"(height x width, of {stats['checked']:,} checked): {sizes}; median {stats['median_size'][0]}x"
            f"{stats['median_size'][1]}. Channels: {channels}.",
            "deepwise resizes every image to one size (data.image_size) and one channel count (data.channels).",
            evidence={k: stats[k] for k in ("images", "checked", "sizes", "median_size", "channels")},
        )
    )
    if stats["skipped"]:
        findings.append(
            Finding(
                "unreadable_files",
                "warning",
                f"{len(stats['skipped'])} file(s) are not readable images and were skipped: "
                + ", ".join(stats["skipped"][:10]),
                "Remove or repair them.",
                evidence={"files": stats["skipped"]},
            )
        )
    if stats["duplicates"]:
        examples = "; ".join(" = ".join(group[:3]) for group in stats["duplicate_groups"][:3])
        findings.append(
            Finding(
                "duplicate_images",
                "warning",
                f"{stats['duplicates']} image(s) are exact copies of another (e.g. {examples}). Copies can land in "
                "both the training and the test split and make the test score look better than it is.",
                "Remove the duplicates before training.",
                evidence={"duplicates": stats["duplicates"], "groups": stats["duplicate_groups"]},
            )
        )
    if stats["class_counts"]:
        counts = pd.Series(stats["class_counts"]).sort_values(ascending=False)
        findings += class_balance(counts, target)
        smallest = int(counts.min())
        severity = "warning" if smallest < 100 else "info"
        findings.append(
            Finding(
                "data_size",
                severity,
                f"{stats['images']:,} images; the smallest class has {smallest}. "
                + (
                    "That is little for a network trained from scratch: it may not learn reliably."
                    if severity == "warning"
                    else "Enough for a small CNN from scratch to learn."
                ),
                "With few images per class, transfer learning (model.type: pretrained) usually does better than "
                "training from scratch; augmentation helps too.",
                evidence={"images": stats["images"], "min_class_rows": smallest},
            )
        )
    return findings
