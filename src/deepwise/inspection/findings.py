"""What a data check finds: a :class:`Finding` (code, severity, message, suggested action, the numbers behind
it) and the list of them, :class:`Findings`, which renders on a console, in a notebook and as JSON.

Example:
    >>> Findings([Finding("overview", "info", "344 rows.", "")]).problems
    []
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SEVERITIES = ("info", "warning", "problem")


# --------------------------------------------------------------------------------------------------- the findings
@dataclass
class Finding:
    """One thing found in the data: what, how serious, why it matters, and what to do."""

    code: str
    severity: str
    message: str
    action: str
    columns: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


class Findings(list):
    """A list of :class:`Finding`, with views by severity and JSON, HTML and terminal output."""

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self if f.severity == "problem"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self if f.severity == "warning"]

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self if f.code == code]

    def to_dicts(self) -> list[dict]:
        return [f.to_dict() for f in self]

    def to_json(self) -> str:
        return json.dumps(self.to_dicts(), indent=2, allow_nan=False)

    def _repr_html_(self) -> str:
        colours = {"problem": "#c62828", "warning": "#b26a00", "info": "#1565c0"}
        rows = []
        for f in self:
            colour = colours.get(f.severity, "inherit")
            rows.append(
                "<tr>"
                f'<td style="color:{colour};font-weight:bold;vertical-align:top">{html.escape(f.severity)}</td>'
                f'<td style="text-align:left;vertical-align:top"><b>{html.escape(f.code)}</b><br>'
                f"{html.escape(f.message)}</td>"
                f'<td style="text-align:left;vertical-align:top">{html.escape(f.action)}</td>'
                "</tr>"
            )
        summary = f"{len(self.problems)} problem(s), {len(self.warnings)} warning(s), {len(self)} finding(s) in all"
        return (
            '<table class="deepwise-findings">'
            f'<caption style="text-align:left">{html.escape(summary)}</caption>'
            "<thead><tr><th>severity</th><th>finding</th><th>suggested action</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def render(self, console: Any) -> None:
        """Print the findings as a table on a ``rich.console.Console``."""
        from rich.table import Table
        from rich.text import Text

        styles = {"problem": "bold red", "warning": "yellow", "info": "cyan"}
        table = Table(
            title="What deepwise found in the data",
            caption=f"{len(self.problems)} problem(s), {len(self.warnings)} warning(s)",
            show_lines=True,
            expand=True,
        )
        table.add_column("severity", no_wrap=True)
        table.add_column("finding", ratio=3)
        table.add_column("suggested action", ratio=2)
        for f in self:
            finding = Text(f.code, style="bold")
            finding.append("\n" + f.message, style="")
            table.add_row(Text(f.severity, style=styles.get(f.severity, "")), finding, Text(f.action))
        console.print(table)


def jsonable(value: Any) -> Any:
    """Plain Python values for JSON: numpy scalars unwrapped, NaN and infinity as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)
