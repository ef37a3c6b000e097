"""Is the target a formula of the inputs? The data check that asks :mod:`deepwise.formula`, and the words that turn
a single-column "leak" into "a leak, or a known equation" when the column computes the target.

The lesson: deep learning "shouldn't" be used for "logic operations, such as computing totals, averages, ranges" or
"modelling well defined systems, where the equations governing them are known".

Example:
    >>> [f.message for f in formula_check(frame, "fall_time", "regression", ["height"], seed=0)[0]]
    ['... fall_time = 0.4515 * height^0.5 ...']
"""

from __future__ import annotations

import pandas as pd

from deepwise.formula import FormulaResult, find_formula
from deepwise.inspection.findings import Finding

FORMULA_BUDGET_S = 5.0  # a soft limit between search families: the check never holds up `inspect` for long


def formula_check(
    frame: pd.DataFrame, target: str, task: str | None, inputs: list[str], seed: int
) -> tuple[list[Finding], FormulaResult | None]:
    """The formula finding (a warning when the target is a formula of the inputs; info with the nearest miss
    otherwise) and the finder's result."""
    if not inputs or task is None:
        return [], None
    result = find_formula(frame, target, task, inputs=inputs, seed=seed, budget_s=FORMULA_BUDGET_S)
    found = result.as_finding()
    return [Finding(found["code"], found["severity"], found["message"], found["action"], found["columns"],
                    found["evidence"])], result  # fmt: skip


def known_equation_note(findings: list[Finding], result: FormulaResult | None) -> None:
    """A one-column leak whose column computes the target by a formula may simply be a known equation (a physical
    law, a unit conversion): say so in the leak's message, with the formula."""
    if result is None or not result.found or not result.single_column:
        return
    for finding in findings:
        if finding.code == "target_leakage" and finding.severity != "info" and finding.columns == result.columns:
            finding.message += (
                f" It may also simply be a known equation rather than a leak: {result.formula} "
                f"({result.metric} {result.held_out_score:.4f} on held-out rows). If that is how the target is "
                "defined (a physical law, a unit conversion), compute it; a network would only approximate it."
            )
            finding.evidence["formula"] = result.formula
