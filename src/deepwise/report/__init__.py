"""The report of a run: one self-contained HTML file (plots inline, no scripts, opens offline) and a model card.

The report reads a run and plots it; it measures nothing new. Sections every run has (summary, verdict, metrics
vs baselines, learning curves, feature importance, guard, findings, config, environment) are built here; the
task-specific ones come from :data:`SECTION_BUILDERS` (task -> builder), so another modality plugs in with::

    SECTION_BUILDERS["forecasting"] = my_forecast_sections   # (ReportContext) -> list[Section]

Example:
    >>> path = deepwise.report("runs/penguins-20260101-120000")   # writes report.html and MODEL_CARD.md
    >>> path.name
    'report.html'
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deepwise.errors import RunError
from deepwise.report.context import ReportContext
from deepwise.report.model_card import model_card
from deepwise.report.sections import (
    Section,
    classification_sections,
    config_section,
    environment_section,
    findings_section,
    forecasting_sections,
    guard_section,
    image_sections,
    importance_section,
    learning_curves_section,
    metrics_section,
    regression_sections,
    summary_section,
    verdict_section,
)
from deepwise.report.templates import CSS, HTML, environment
from deepwise.runs import atomic_write_text

REPORT_FILE = "report.html"
MODEL_CARD_FILE = "MODEL_CARD.md"

SectionBuilder = Callable[[ReportContext], list[Section]]

#: task (metrics.json "task") -> builder of the task-specific sections, placed after the learning curves.
SECTION_BUILDERS: dict[str, SectionBuilder] = {
    "binary": classification_sections,
    "multiclass": classification_sections,
    "regression": regression_sections,
    "forecasting": forecasting_sections,  # the test period over time, then the sections of metrics.json "output"
    "image_classification": image_sections,  # test images, confident mistakes, then the classification sections
}


def build_sections(ctx: ReportContext) -> list[Section]:
    """Every section of the report, in reading order."""
    head = [summary_section(ctx), verdict_section(ctx), metrics_section(ctx), learning_curves_section(ctx)]
    builder = SECTION_BUILDERS.get(ctx.task)
    specific = builder(ctx) if builder is not None else []
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
    versions = ctx.versions
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
            header={"lines": lines, "version": versions.get("deepwise", "?")},
            sections=build_sections(ctx),
            generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
    )


def report(run_path: str | Path, output: str | Path | None = None, *, prepared: tuple[Any, Any] | None = None) -> Path:
    """Write the run's HTML report (default ``RUN/report.html``) and ``MODEL_CARD.md`` next to it; return the path.

    ``prepared``: ``(run, data)`` when the caller still holds the run's prepared data (training does), so that the
    split is not rebuilt from the data file.

    Example:
        >>> deepwise.report("runs/penguins-20260101-120000", output="penguins.html")
        PosixPath('penguins.html')
    """
    ctx = ReportContext.load(run_path)
    if prepared is not None:
        ctx.__dict__["prepared"] = prepared  # the cached_property's value
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


__all__ = ["SECTION_BUILDERS", "ReportContext", "Section", "build_sections", "render_html", "report"]
