"""What ``train`` prints: the data checks worth a look, and the test scores next to every baseline with the verdict
(printed last). One place, so that the CLI and the Python API print the same.

Example:
    >>> out = console_for(verbose=True)
    >>> print_summary(out, run.metrics, n_test=69)
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from deepwise.evaluation import headline_scores


def console_for(verbose: bool, console: Console | None = None) -> Console | None:
    """The console to print progress on: the one given, a new one, or None when quiet."""
    if not verbose:
        return None
    return console or Console()


def print_findings(out: Console, findings) -> None:
    """The warnings and problems of the data checks, one line each (full list: findings.json)."""
    shown = [f for f in findings if f.severity != "info"]
    if shown:
        out.print(f"  Data checks: {len(shown)} finding(s) worth a look (all in findings.json):")
        for f in shown:
            colour = "red" if f.severity == "problem" else "yellow"
            out.print(f"    [{colour}]{f.severity}[/] {f.message}", highlight=False)


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def print_summary(out: Console, metrics: Any, n_test: int) -> None:
    """Test metrics next to every baseline, then the guard and the verdict (printed last)."""
    from rich.table import Table

    keys = list(headline_scores(metrics["test"]))
    table = Table(title=f"Test split ({n_test} rows, measured once)", title_justify="left")
    table.add_column("model")
    for key in keys:
        table.add_column(key, justify="right")
    table.add_row("[bold]network[/]", *(_number(metrics["test"].get(k)) for k in keys))
    for name, scores in (metrics.get("baselines") or {}).items():
        table.add_row(name, *(_number(scores.get(k)) for k in keys))
    out.print(table)
    if metrics.get("guard"):
        g = metrics["guard"]
        out.print(
            f"OOD guard: calibrated to flag {g['false_alarm_rate_target']:.0%} of ordinary rows; flagged "
            f"{g['test_flag_rate']:.1%} of the test rows."
        )
    if metrics.get("conformal"):
        c = metrics["conformal"]
        size = f"± {c['quantile']:.4g}" if c["kind"] == "interval" else f"{c['mean_set_size']:.2f} classes on average"
        what = "intervals" if c["kind"] == "interval" else "sets"
        out.print(
            f"Uncertainty: {c['nominal_coverage']:.0%} conformal {what} ({size}) held the truth for "
            f"{c['test_coverage']:.1%} of the test rows."
        )
    if metrics.get("verdict"):
        v = metrics["verdict"]
        out.print(f"[bold]Verdict: {v['code']}[/] — {v['message']}")
