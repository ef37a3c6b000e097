"""The report of a translation run: the best and worst test translations, how often outputs invent content (and how
well that flag works), attention maps of a few test sentences, the sources the guard flags; and the model card's and
the guard's words for sentences.

Everything but the attention maps comes from metrics.json (``translation``); the maps decode three test sentences
again with the run's network.

Example:
    >>> [s.id for s in translation_sections(ctx)]
    ['translation-examples', 'invented-content', 'attention', 'unusual-sources']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.render import plots
from deepwise.render.blocks import Figure, Paragraph, Section, Table, fmt, unavailable
from deepwise.render.card import aligned
from deepwise.render.context import ReportContext

ATTENTION_SENTENCES = 3


def _extra(ctx: ReportContext) -> dict[str, Any]:
    return ctx.metrics.get("translation") or {}


def _rows(examples: list[dict[str, Any]]) -> list[list[str]]:
    return [[e["source"], e["reference"], e["output"], fmt(e["chrf"], 3)] for e in examples]


def examples_section(ctx: ReportContext) -> Section:
    """The five best and five worst test translations by sentence chrF."""
    extra = _extra(ctx)
    if not extra.get("worst"):
        return unavailable("translation-examples", "Best and worst test translations", "Not recorded in this run.")
    headers = ["source", "reference", "network", "chrF"]
    tok = extra.get("tokenizer") or {}
    cut = tok.get("truncated", {}).get("train", {})
    decode = (extra.get("decode") or {}).get("test") or {}
    reading = Paragraph(
        f"How the text was read: {tok.get('why', '?')}. Source: {tok.get('source', '?')}. Target: "
        f"{tok.get('target', '?')}. Training sentences cut to the maximum: {fmt(cut.get('source', 0))} sources, "
        f"{fmt(cut.get('target', 0))} targets. The test translations were decoded {decode.get('decoding', 'greedy')}"
        f" ({fmt(decode.get('sentences'))} sentences in {fmt(decode.get('seconds'), 3)} s).",
        css="note",
    )
    return Section(
        "translation-examples",
        "Best and worst test translations",
        [
            reading,
            Table(headers, _rows(extra["worst"]), caption="The five test sentences the network translated worst "
                  "(sentence chrF, 0-100)."),
            Table(headers, _rows(extra["best"]), caption="The five it translated best."),
            Paragraph(
                "Sentence chrF compares character n-grams of one output with its reference; the corpus chrF in the "
                "metrics sums the n-gram counts over all test sentences first, so it is not the mean of these.",
                css="note",
            ),
        ],
    )  # fmt: skip


def _quality(label: str, found: dict[str, Any]) -> list[str]:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    return [label, pct(found.get("precision")), pct(found.get("recall")), fmt(found.get("flagged")),
            fmt(found.get("truly_wrong")), fmt(found.get("n"))]  # fmt: skip


def invented_section(ctx: ReportContext) -> Section:
    """How often the test translations invent content, examples, and the flag's precision and recall."""
    found = _extra(ctx).get("invented")
    if not found:
        return unavailable("invented-content", "Invented content", "Not recorded in this run.")
    blocks: list[Any] = [
        Paragraph(
            f"{found['rate']:.1%} of the test translations ({fmt(found['flagged'])}) hold content the source does "
            f"not support: {found['rule']}. A further {found['guessed_rate']:.1%} guess digits the source leaves "
            "open (a century added to a two-digit year). predict and serve flag each translation the same way "
            "(columns invented, invented_content)."
        )
    ]
    if found.get("examples"):
        blocks.append(
            Table(
                ["source", "network", "reference", "invented"],
                [[e["source"], e["output"], e["reference"], "; ".join(f"{k} {t}" for k, t in e["invented"])]
                 for e in found["examples"]],
                caption="Test translations flagged for invented content.",
            )
        )  # fmt: skip
    if found.get("guessed_examples"):
        blocks.append(
            Table(
                ["source", "network", "reference", "guessed"],
                [[e["source"], e["output"], e["reference"], "; ".join(f"{t} (from {b})" for _, t, b in e["guessed"])]
                 for e in found["guessed_examples"]],
                caption="Test translations that guess digits the source leaves open (not flagged as invented).",
            )
        )  # fmt: skip
    blocks.append(
        Table(
            ["checked against", "precision", "recall", "flagged", "truly wrong", "sentences"],
            [
                _quality("the references (an output with a number or word its reference lacks is wrong)",
                         found["vs_references"]),
                _quality("the references, guesses counted as flags", found.get("vs_references_with_guesses") or {}),
                _quality("planted inventions (copies of the references, half given a changed number, word or name)",
                         found["planted"]),
            ],
            caption="How well the flag finds wrong content on the test split. Against the references, a wrong output "
            "that the source licenses (the right month in the wrong place) cannot be caught, so recall is lower.",
        )
    )  # fmt: skip
    return Section("invented-content", "Invented content", blocks)


def attention_figure(maps: list[dict[str, Any]]) -> str:
    """Heatmaps of attention weights, one per sentence: rows the output tokens, columns the source tokens."""
    from matplotlib.figure import Figure as MplFigure

    width = sum(max(3.0, 0.28 * len(m["source"]) + 1.2) for m in maps)
    height = max(3.0, 0.28 * max(len(m["output"]) for m in maps) + 1.5)
    fig = MplFigure(figsize=(min(width, 18.0), min(height, 12.0)), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(maps)))
    for ax, m in zip(axes, maps, strict=True):
        ax.imshow(np.asarray(m["weights"]), cmap="Greys", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(m["source"])), labels=m["source"], fontsize=7, rotation=90)
        ax.set_yticks(range(len(m["output"])), labels=m["output"], fontsize=7)
        ax.set_title("".join(m["output"][:-1]).replace("␣", " ").replace("▁", " ").strip()[:40], fontsize=9)
        ax.set_xlabel("source token")
        ax.set_ylabel("output token")
    return plots.to_data_uri(fig)


def _visible(tokens: list[str]) -> list[str]:
    return [{" ": "␣"}.get(t, t) for t in tokens]


def attention_maps(ctx: ReportContext, n: int = ATTENTION_SENTENCES) -> list[dict[str, Any]] | str:
    """Greedy decoding's attention for the first ``n`` test sentences (decoded again with the run's network)."""
    from deepwise.kinds.translation.decode import greedy_decode
    from deepwise.kinds.translation.tokenize import END, PAD

    prepared = ctx.prepared
    if isinstance(prepared, str):
        return prepared
    run, data = prepared
    tok = data.prep.tokenizer
    sources = data.texts["test"].sources[:n]
    ids, _ = tok.source.encode(sources)
    out, weights = greedy_decode(data.network_for(run.model), ids, return_attention=True)
    maps = []
    for row in range(len(sources)):
        n_out = int(np.argmax(out[row] == END)) + 1 if (out[row] == END).any() else out.shape[1]
        n_src = int((ids[row] != PAD).sum())
        maps.append({
            "source": _visible(tok.source.token_strings(ids[row][:n_src])),
            "output": _visible(tok.target.token_strings(out[row][:n_out])),
            "weights": weights[row, :n_out, :n_src],
        })  # fmt: skip
    return maps


def attention_section(ctx: ReportContext) -> Section:
    maps = attention_maps(ctx)
    if isinstance(maps, str):
        return unavailable("attention", "Where the network looks", maps)
    if not maps or "weights" not in maps[0] or np.asarray(maps[0]["weights"]).size == 0:
        return unavailable("attention", "Where the network looks", "No attention to show.")
    return Section(
        "attention",
        "Where the network looks",
        [
            Figure(
                attention_figure(maps),
                alt="Attention weights of the network for a few test sentences",
                caption="Each row is one token the network wrote (greedy decoding), each column a source token; dark "
                "cells are where it looked when writing it (the decoder's attention, averaged over heads for a "
                "Transformer). A translation that looks at the right source tokens in order shows a diagonal, bent "
                "where the languages order words differently. Attention shows where the network looked, not why.",
            )
        ],
    )


def unusual_section(ctx: ReportContext) -> Section | None:
    guard = _extra(ctx).get("guard")
    if not guard:
        return None
    rate = (ctx.metrics.get("guard") or {}).get("false_alarm_rate_target", 0.01)
    blocks: list[Any] = [
        Paragraph(
            f"The guard flags {guard['rate']:.1%} of the {fmt(guard['n'])} test sources as unlike the training "
            f"sources (its distance threshold flags about {rate:.1%} of the validation sources; unknown characters "
            "and unusual lengths add to that)."
        )
    ]
    if guard.get("examples"):
        blocks.append(Table(["source", "why"], [[e["source"], "; ".join(e["reasons"])] for e in guard["examples"]],
                            caption="Flagged test sources."))  # fmt: skip
    return Section("unusual-sources", "Test sources unlike the training sources", blocks)


def translation_sections(ctx: ReportContext) -> list[Section]:
    """The kind's sections, after the learning curves."""
    sections = [examples_section(ctx), invented_section(ctx), attention_section(ctx), unusual_section(ctx)]
    return [s for s in sections if s is not None]


# ------------------------------------------------------------------------------------------------------ words


def translation_guard_text(guard: dict[str, Any]) -> str:
    rate = guard.get("false_alarm_rate_target", 0.0)
    return (
        "The guard reads each source sentence three ways: the share of its characters (or subwords) never seen in "
        "training (the network sees them all as one unknown token, so that content is lost); its length against "
        "the training sentences' (longer ones are cut to the learned maximum); and the cosine distance of its "
        "character n-grams to the nearest training source, flagged beyond the distance that "
        f"{rate:.1%} of the validation sources exceed. A flagged sentence (ood true, with ood_reasons) is still "
        "translated, fluently: a translation network answers anything, so check it."
    )


def translation_card_guard_limit(guard: dict[str, Any], rate: float, observed: list[str]) -> str:
    return (
        "Out-of-distribution behaviour: the network translates anything fluently, including sentences unlike its "
        "training data. A guard flags source sentences with unknown characters, unusual lengths, or far from every "
        f"training source (distance threshold calibrated for a {rate:.1%} false-alarm rate; observed: "
        f"{', '.join(observed) or 'not measured'}); the invented-content flag marks translations with numbers, dates "
        "or names the source does not support. Neither catches a fluent wrong translation that invents nothing."
    )


TRANSLATION_SCOPE = (
    "The metrics come from one random split of these sentence pairs (by distinct source sentence); they say nothing "
    "about sentences of another kind (another domain, style or length) or about rare constructions."
)


def translation_card_usage(ctx: ReportContext) -> tuple[list[str], str, str]:
    path = str(ctx.path)
    prep = ctx.preprocessing or {}
    source = prep.get("source_column", "source")
    commands = [
        (f"deepwise predict {path} new.csv -o translations.csv",
         "source, translation, invented, invented_content, ood, ood_score, ood_reasons"),
        (f"deepwise evaluate {path} labelled.csv", f"re-measure on a table with '{source}' and the target"),
        (f"deepwise serve {path}", 'HTTP: POST /predict {"sources": [...]}, GET /schema'),
        (f"deepwise export {path} --format keras", "the network (token ids in, logits out)"),
    ]  # fmt: skip
    python = (
        f'import deepwise\n\nrun = deepwise.load_run("{path}")\n'
        'out = run.predict(["Tuesday, March 5, 2024"])  # a list, a table with the source column, or a text file\n'
        'print(out[["translation", "invented", "ood"]])'
    )
    note = (
        f"Input: sentences in the source language ('{source}'), one per item, at most {prep.get('max_chars', '?')} "
        "characters; a CSV/TSV/Parquet file needs the source column, a text file holds one sentence a line."
    )
    return aligned(commands), python, note


def translation_card_inputs(ctx: ReportContext) -> list[list[str]]:
    prep = ctx.preprocessing or {}
    source = (prep.get("tokenizer") or {}).get("source") or {}
    return [[str(prep.get("source_column", "source")), "text",
             f"{'characters' if source.get('kind') == 'char' else 'subwords'}; {source.get('length_rule', '')}"]]


TRANSLATION_INPUT = """It takes token ids, not text: {inputs}: `source` (the sentence's ids, then the end id 2, then
  padding 0) and `decoder_input` (the start id 1, then the translation so far). It outputs logits over the target
  vocabulary at every position; translating means a loop that feeds back the most probable token (greedy) until the
  end token (deepwise.kinds.translation.decode does it with the run's encoder and one-step decoder).
- `preprocessing.json`: the source and target tokenizers (characters, or the `tokenizers` library's BPE JSON), their
  maximum lengths, the network's shape, and the invented-content flagger's state."""
