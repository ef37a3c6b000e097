"""Is the target a formula of the inputs? A search over a small, explicit space of closed forms.

Example:
    >>> from deepwise.formula import find_formula
    >>> result = find_formula(frame, "total", "regression")  # doctest: +SKIP
    >>> result.found, result.formula  # doctest: +SKIP
    (True, 'total = a + b + c')
"""

from deepwise.formula.finder import (
    FORMULA_R2,
    MIN_RULE_ROWS,
    FormulaResult,
    evaluate_formula,
    find_formula,
)

__all__ = ["FORMULA_R2", "MIN_RULE_ROWS", "FormulaResult", "evaluate_formula", "find_formula"]
