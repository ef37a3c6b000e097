"""The data checks of step 3 for sentence pairs: size, lengths, repeated sources, copies, truncation.

They are cheap (counts over the pairs already read) and say what to expect before any training: too few pairs for
a network, sources repeated with different translations, pairs where the target is the source (copying is then a
strong baseline), sentences the tokenizer cut to its learned maximum.

Example:
    >>> findings = pair_findings(pairs, texts, tokenizer, arrays)
    >>> [f.code for f in findings]
    ['overview', 'size']
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from deepwise.inspection import Finding, Findings
from deepwise.kinds.translation.metrics import MIN_TRAIN_PAIRS
from deepwise.kinds.translation.read import Pairs

FEW_PAIRS_FOR_SENTENCES = 20_000  # long sentences: fewer training pairs rarely make a usable network
LONG_SENTENCE = 60  # characters: beyond it a sentence is "real text", not a short string
COPY_SHARE = 0.2  # pairs whose target equals the source: above this share copying is a strong baseline


def _lengths(texts: list[str]) -> str:
    lengths = np.array([len(t) for t in texts])
    return f"{int(lengths.min())}-{int(lengths.max())} characters (median {float(np.median(lengths)):.0f})"


# One piece (over 80 lines): a list of findings built top to bottom from the same pairs and token counts.
def pair_findings(pairs: Pairs, texts: dict[str, Pairs], tokenizer, arrays: dict[str, dict[str, Any]]) -> Findings:
    """What to know about the pairs before training (see the module's list)."""
    n, n_train = len(pairs), len(texts["train"])
    found = Findings(
        [
            Finding(
                "overview",
                "info",
                f"{n:,} sentence pairs from {pairs.origin}; sources {_lengths(pairs.sources)}, targets "
                f"{_lengths(pairs.targets)}.",
                "",
                [pairs.source_name, pairs.target_name],
                {"pairs": n},
            )
        ]
    )
    median = float(np.median([len(s) for s in pairs.sources]))
    if n_train < MIN_TRAIN_PAIRS:
        found.append(
            Finding(
                "size",
                "warning",
                f"Only {n_train:,} training pairs: a network rarely learns to translate from fewer than "
                f"{MIN_TRAIN_PAIRS:,} (short regular strings) or tens of thousands (sentences).",
                "Collect more pairs; the verdict will say not_enough_data.",
                evidence={"training_pairs": n_train},
            )
        )
    elif median > LONG_SENTENCE and n_train < FEW_PAIRS_FOR_SENTENCES:
        found.append(
            Finding(
                "size",
                "warning",
                f"{n_train:,} training pairs of sentences of about {median:.0f} characters: translating real "
                f"sentences usually needs more than {FEW_PAIRS_FOR_SENTENCES:,} pairs; expect retrieval to be hard "
                "to beat.",
                "Collect more pairs, or start from a pretrained translation model outside deepwise.",
                evidence={"training_pairs": n_train, "median_source_chars": median},
            )
        )
    counts = Counter(pairs.sources)
    repeated = {s for s, k in counts.items() if k > 1}
    if repeated:
        targets: dict[str, set[str]] = {}
        for s, t in zip(pairs.sources, pairs.targets, strict=True):
            if s in repeated:
                targets.setdefault(s, set()).add(t)
        differing = sum(len(v) > 1 for v in targets.values())
        example = next(iter(sorted(repeated)))
        found.append(
            Finding(
                "repeated_sources",
                "info" if differing == 0 else "warning",
                f"{len(repeated):,} source sentences appear more than once (e.g. {example!r}, {counts[example]} "
                f"times); {differing:,} of them with different translations. The split keeps each on one side.",
                "Identical pairs add nothing; different translations of one sentence cap every score below 100."
                if differing
                else "Consider removing the duplicates.",
                [pairs.source_name],
                {"repeated": len(repeated), "with_different_targets": differing},
            )
        )
    copies = float(np.mean([s == t for s, t in zip(pairs.sources, pairs.targets, strict=True)]))
    if copies >= COPY_SHARE:
        found.append(
            Finding(
                "copies",
                "warning",
                f"In {copies:.0%} of the pairs the target is the source unchanged.",
                "Check the columns; copying the source is a strong baseline here.",
                evidence={"share": copies},
            )
        )
    cut = arrays["train"]["truncated"]
    if cut["source"] or cut["target"]:
        found.append(
            Finding(
                "truncated",
                "warning",
                f"{cut['source']:,} training sources and {cut['target']:,} targets are longer than the learned "
                f"maximum and are cut (sources: {tokenizer.source.length_rule}; targets: "
                f"{tokenizer.target.length_rule}).",
                "Split long texts into sentences; a cut target teaches the network to stop early.",
                evidence=dict(cut),
            )
        )
    return found
