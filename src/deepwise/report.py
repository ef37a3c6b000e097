"""The report of a run: one self-contained HTML file (plots inline, no scripts, opens offline) and a model card.

The report reads a run and plots it; it measures nothing new. The sections every run has come from
:mod:`deepwise.render.common`; those that depend on the kind of data, and the kind's words, from the run's kind
(:meth:`deepwise.kinds.base.DataKind.report_sections`).

Example:
    >>> path = deepwise.write_report("runs/penguins-20260101-120000")   # report.html and MODEL_CARD.md
    >>> path.name
    'report.html'
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deepwise.errors import RunError
from deepwise.records import MODEL_CARD, REPORT, atomic_write_text
from deepwise.render.blocks import Section
from deepwise.render.card import model_card
from deepwise.render.common import (
    config_section,
    environment_section,
    findings_section,
    guard_section,
    importance_section,
    learning_curves_section,
    metrics_section,
    summary_section,
    uncertainty_section,
    verdict_section,
)
from deepwise.render.context import ReportContext
from deepwise.render.templates import CSS, HTML, environment
from deepwise.run import Run

REPORT_FILE = REPORT
MODEL_CARD_FILE = MODEL_CARD


def build_sections(ctx: ReportContext) -> list[Section]:
    """Every section of the report, in reading order: the common head, the kind's own sections, the common tail."""
    head = [summary_section(ctx), verdict_section(ctx), metrics_section(ctx), uncertainty_section(ctx)]
    head.append(learning_curves_section(ctx))
    specific = ctx.kind.report_sections(ctx)
    tail = [
        importance_section(ctx),
        guard_section(ctx),
        findings_section(ctx),
        config_section(ctx),
        environment_section(ctx),
    ]
    return [s for s in (*head, *specific, *tail) if s is not None]


def render_html(ctx: ReportContext) -> str:
    """The report of a run as one HTML string."""
    test = ctx.metrics.get("test") or {}
    main = ctx.main_metric
    lines = [f"{ctx.task} · target '{ctx.target}' · data {Path(str(ctx.data.get('path', '?'))).name}"]
    if main and isinstance(test.get(main), (int, float)):
        lines.append(f"test {main}: {test[main]:.4g} · verdict: {(ctx.metrics.get('verdict') or {}).get('code', '-')}")
    lines.append(f"run created {ctx.manifest.get('created', '?')} · {ctx.path}")
    return (
        environment()
        .from_string(HTML)
        .render(
            title=f"deepwise report: {ctx.name}",
            css=CSS,
            header={"lines": lines, "version": ctx.versions.get("deepwise", "?")},
            sections=build_sections(ctx),
            generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
    )


def report_context(run: Run, prepared: tuple[Any, Any] | None = None) -> ReportContext:
    """The context the report reads: the run's files and kind, and its test split (rebuilt once, when a per-example
    section first asks; ``prepared`` when the caller still holds it, as training does)."""

    def open_prepared() -> tuple[Any, Any]:
        return prepared if prepared is not None else (run, run.prepared())

    return ReportContext(run.files, run.kind, open_prepared)


def report(run_path: str | Path, output: str | Path | None = None, *, prepared: tuple[Any, Any] | None = None) -> Path:
    """Write the run's HTML report (default ``RUN/report.html``) and ``MODEL_CARD.md`` next to it; return the path.

    ``prepared``: ``(run, data)`` when the caller still holds the run's prepared data (training does), so that the
    split is not rebuilt from the data file.

    Example:
        >>> deepwise.write_report("runs/penguins-20260101-120000", output="penguins.html")
        PosixPath('penguins.html')
    """
    ctx = report_context(Run(run_path), prepared)
    out = Path(output) if output is not None else ctx.path / REPORT_FILE
    if out.is_dir():
        out = out / REPORT_FILE
    if not out.parent.is_dir():
        raise RunError(
            f"Cannot write the report to '{out}': the folder '{out.parent}' does not exist.",
            expected="an output path in an existing folder",
            fix=f"create it (mkdir -p {out.parent}) or pass another -o path.",
        )
    atomic_write_text(out, render_html(ctx))
    atomic_write_text(out.parent / MODEL_CARD_FILE, model_card(ctx))
    return out


def report_after_training(path: Path, out, prepared: tuple[Any, Any] | None = None) -> None:
    """The HTML report and model card at the end of ``train``; a failure here never costs the (complete) run."""
    try:
        written = report(path, prepared=prepared)
        if out:
            out.print(f"Report: [bold]{written}[/] (and MODEL_CARD.md)")
    except Exception as err:  # the run is complete and saved; the report can be rebuilt with `deepwise report`
        if out:
            out.print(f"[yellow]The report could not be written ({err}); run `deepwise report {path}` later.[/]")


__all__ = ["MODEL_CARD_FILE", "REPORT_FILE", "ReportContext", "Section", "build_sections", "render_html", "report"]
