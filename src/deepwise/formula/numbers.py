"""Numbers for printed formulas: snapping fitted constants to simple values, rounding to few significant digits,
and the fit measure both use (the share of the target's variance a formula leaves unexplained).

A change to a constant is kept only when the formula still fits the search rows about as well
(:func:`keeps_fit`), so an exact formula prints exact constants and a noisy one prints the digits the data support.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

#: A formula must be defined (finite) on at least this share of the rows it is scored on.
MIN_COVERAGE = 0.95
#: A snapped or rounded constant is kept when the unexplained variance grows by at most this factor ...
SNAP_RELATIVE = 1.05
#: ... plus this absolute share of the target's variance (a rounding that costs R² 1e-7 is invisible).
SNAP_ABSOLUTE = 1e-7


def _simple_values(limit: float, denominators: tuple[int, ...]) -> np.ndarray:
    values = {float(Fraction(p, q)) for q in denominators for p in range(-int(limit * q), int(limit * q) + 1) if p != 0}
    return np.array(sorted(values))


#: Exponents a physical law or a textbook formula uses: halves, thirds, quarters and small whole numbers.
SIMPLE_EXPONENTS = _simple_values(4.0, (1, 2, 3, 4))
#: Weights of a weighted sum worth printing as exact: whole numbers, halves, thirds and quarters up to 10.
SIMPLE_COEFFICIENTS = _simple_values(10.0, (1, 2, 3, 4))


def nearest_simple(value: float, simple: np.ndarray, relative: float = 0.05) -> float | None:
    """The simple value closest to ``value`` when it is within ``relative`` of it, else None.

    Example:
        >>> nearest_simple(0.4987, SIMPLE_EXPONENTS)
        0.5
    """
    if not np.isfinite(value) or value == 0:
        return None
    best = float(simple[np.argmin(np.abs(simple - value))])
    return best if abs(best - value) <= relative * max(abs(best), 0.25) else None


def round_significant(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits (0 stays 0).

    Example:
        >>> round_significant(0.451524, 4)
        0.4515
    """
    if value == 0 or not np.isfinite(value):
        return float(value)
    exponent = math.floor(math.log10(abs(value)))
    return float(round(value, digits - 1 - exponent))


def unexplained(y: np.ndarray, prediction: np.ndarray) -> float:
    """Share of the variance of ``y`` that ``prediction`` leaves unexplained (1 - R²), on rows where both are
    finite; ``inf`` when the prediction is defined on fewer than :data:`MIN_COVERAGE` of the rows.

    Example:
        >>> unexplained(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
        0.0
    """
    with np.errstate(all="ignore"):
        ok = np.isfinite(prediction) & np.isfinite(y)
        if ok.sum() < max(3, MIN_COVERAGE * len(y)):
            return math.inf
        yy, pp = y[ok], prediction[ok]
        total = float(np.sum((yy - yy.mean()) ** 2))
        if total <= 0:
            return math.inf
        return float(np.sum((yy - pp) ** 2)) / total


def keeps_fit(new_unexplained: float, original_unexplained: float) -> bool:
    """Whether a simplified formula fits about as well as the fitted one (see :data:`SNAP_RELATIVE`)."""
    return new_unexplained <= original_unexplained * SNAP_RELATIVE + SNAP_ABSOLUTE


def shortest_rounding(value: float, fit_of: Callable[[float], float], original: float, max_digits: int = 8) -> float:
    """``value`` with the fewest significant digits (1 to ``max_digits``) that keeps the fit; ``fit_of(v)`` is the
    unexplained variance with the constant set to ``v``.

    Example:
        >>> shortest_rounding(2.000013, lambda v: abs(v - 2.0), 0.0)
        2.0
    """
    for digits in range(1, max_digits + 1):
        candidate = round_significant(value, digits)
        if keeps_fit(fit_of(candidate), original):
            return candidate
    return round_significant(value, max_digits)


def simplest_in_interval(low: float, high: float) -> float:
    """The number with the fewest significant digits in ``[low, high)`` (0 when it lies there): the threshold a
    person would write for a split the data place anywhere between ``low`` and ``high``.

    Example:
        >>> simplest_in_interval(2.4831, 2.5172)
        2.5
    """
    if low <= 0 < high:
        return 0.0
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        return float(low)
    magnitude = math.floor(math.log10(max(abs(low), abs(high))))
    for decimals in range(-magnitude, -magnitude + 12):
        for step in (10.0 ** (-decimals), 10.0 ** (-decimals) / 2):  # 1000, 500, 100, 50, ...
            candidate = round(math.ceil(low / step) * step, max(decimals + 1, 0))
            if low <= candidate < high:
                return float(candidate)
    return float(low)


def format_number(value: float) -> str:
    """A constant as a person writes it: whole numbers without a decimal point, thirds as fractions, else up to
    8 significant digits without trailing zeros.

    Example:
        >>> format_number(2.0), format_number(0.4515), format_number(1 / 3)
        ('2', '0.4515', '1/3')
    """
    if not np.isfinite(value):
        return str(value)
    if value == round(value) and abs(value) < 1e15:
        return str(int(round(value)))
    if abs(value * 4 - round(value * 4)) < 1e-12:
        return f"{value:g}"
    fraction = Fraction(value).limit_denominator(12)
    if fraction.denominator in (3, 6, 12) and abs(float(fraction) - value) < 1e-12:
        return f"{fraction.numerator}/{fraction.denominator}"
    return f"{value:.8g}"


def least_squares(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares weights of ``target ≈ design @ w`` through the normal equations on scaled columns with two
    steps of iterative refinement (a hundred times faster than ``np.linalg.lstsq`` for a tall, narrow design on a
    busy machine, and as exact for the well-conditioned ones); ``lstsq`` when the system is ill-conditioned.

    Example:
        >>> least_squares(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0, 3.0]))
        array([1., 2.])
    """
    if design.shape[1] == 0:
        return np.zeros(0)
    norms = np.sqrt(np.einsum("ij,ij->j", design, design))
    norms[norms == 0] = 1.0
    scaled = design / norms
    gram = scaled.T @ scaled
    try:
        if np.linalg.cond(gram) > 1e12:
            raise np.linalg.LinAlgError("ill-conditioned")
        weights = np.linalg.solve(gram, scaled.T @ target)
        for _ in range(2):
            weights = weights + np.linalg.solve(gram, scaled.T @ (target - scaled @ weights))
    except np.linalg.LinAlgError:
        weights = np.linalg.lstsq(scaled, target, rcond=None)[0]
    return weights / norms
