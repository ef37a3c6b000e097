"""Closed forms of numeric columns for a numeric target, each family searched within a fixed bound:

- one column through a unary transform (identity, log, exp, sqrt, square, cube, reciprocal), affine: ``a * f(x) + b``;
- weighted sums: forward selection of up to :data:`MAX_LINEAR_TERMS` columns;
- row-wise aggregates (sum, mean, median, min, max, range, std, counts) over subsets found by a beam search over
  the :data:`AGGREGATE_POOL` most relevant columns (never all 2^k subsets);
- power laws ``c * x1^a * x2^b ...``: forward selection of up to :data:`MAX_POWER_TERMS` positive columns on
  logarithms, exponents snapped to simple fractions;
- products and ratios of two columns of any sign, affine.

Every family returns :class:`Candidate` objects with constants already snapped and rounded (on the search rows);
the caller scores them on the held-out rows.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np

from deepwise.formula.candidates import Candidate, SearchData
from deepwise.formula.numbers import (
    SIMPLE_COEFFICIENTS,
    SIMPLE_EXPONENTS,
    keeps_fit,
    least_squares,
    nearest_simple,
    shortest_rounding,
    unexplained,
)
from deepwise.formula.spec import UNARY, aggregate, power

MAX_LINEAR_TERMS = 8
MAX_POWER_TERMS = 4
MAX_AGGREGATE_SIZE = 8
AGGREGATE_POOL = 10  # columns the aggregate beam search draws from
AGGREGATE_ROWS = 1000  # search rows used to rank subsets (the chosen ones are refitted on all search rows)
BEAM_WIDTH = 3
PAIR_POOL = 8  # columns whose pairwise products and ratios are tried
SINGLE_CANDIDATES = 4  # best (column, transform) pairs turned into formulas
LOG_SHIFTS = (1.0, 0.5, 0.1, 0.01, 0.001)  # log(x + s) for a column with zeros (a common way to log counts)
#: Families searched under the same name: (search function, formulas built from its subsets).
AGGREGATE_GROUPS = {
    "sum": ("sum", "mean"),  # a mean is a sum times a constant: one search serves both
    "median": ("median",),
    "min": ("min",),
    "max": ("max",),
    "range": ("range",),
    "std": ("std", "std0"),
    "count_nonmissing": ("count_nonmissing",),
    "count_positive": ("count_positive",),
}


# --------------------------------------------------------------------------------------------- shared helpers
def _fill_mean(x: np.ndarray) -> np.ndarray:
    if not np.isnan(x).any():
        return x
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: filled with 0
        means = np.nan_to_num(np.nanmean(x, axis=0))
    return np.where(np.isnan(x), means, x)


def correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|Pearson correlation| of every column of ``x`` with ``y`` (missing values filled with the column mean;
    0 for a constant column): a ranking, not a test."""
    x = _fill_mean(np.where(np.isfinite(x), x, np.nan))
    with np.errstate(all="ignore"):
        xc = x - x.mean(axis=0)
        yc = y - y.mean()
        denominator = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
        out = np.abs(xc.T @ yc) / denominator
    return np.nan_to_num(out, nan=0.0, posinf=0.0)


def relevance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How much each column has to do with ``y``: the largest correlation of the column with ``y``, of its distance
    from its median with ``y`` (what a range or a spread shows) and of both distances from their medians (a
    product of centred columns)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        spread_x = np.abs(x - np.nanmedian(x, axis=0))
        spread_y = np.abs(y - np.median(y))
    return np.maximum.reduce([correlations(x, y), correlations(spread_x, y), correlations(spread_x, spread_y)])


def _r2_affine(g: np.ndarray, y: np.ndarray) -> float:
    """R² of the best affine fit ``y ≈ a * g + b`` (0 when ``g`` is undefined on over 5 % of the rows)."""
    ok = np.isfinite(g)
    if not ok.all():
        if ok.mean() < 0.95:
            return 0.0
        g, y = g[ok], y[ok]
    gc, yc = g - g.mean(), y - y.mean()
    with np.errstate(all="ignore"):
        denominator = np.float64(gc @ gc) * np.float64(yc @ yc)
        r2 = np.square(np.float64(gc @ yc)) / denominator if denominator > 0 else 0.0
    return float(r2) if np.isfinite(r2) else 0.0


def affine_constants(g: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """``(scale, offset, unexplained)`` of ``y ≈ scale * g + offset`` with the offset snapped to 0 and the scale to
    a simple value (1, 1/3, 2 ...) where the fit allows, then both rounded to the fewest digits that keep it."""
    ok = np.isfinite(g) & np.isfinite(y)
    gg, yy = g[ok], y[ok]
    if len(gg) < 3 or np.ptp(gg) == 0:
        return 1.0, 0.0, np.inf

    def fit(scale: float, offset: float) -> float:
        return unexplained(yy, scale * gg + offset)

    scale, offset = least_squares(np.column_stack([gg, np.ones(len(gg))]), yy)
    original = fit(scale, offset)
    through_zero = float(gg @ yy / (gg @ gg))
    if keeps_fit(fit(through_zero, 0.0), original):
        scale, offset = through_zero, 0.0
    simple = nearest_simple(scale, SIMPLE_COEFFICIENTS)
    snapped = False
    if simple is not None:
        simple_offset = float(np.mean(yy - simple * gg)) if offset else 0.0
        if keeps_fit(fit(simple, simple_offset), original):
            scale, offset, snapped = simple, simple_offset, True
    if not snapped:
        scale = shortest_rounding(float(scale), lambda v: fit(v, offset), original)
    if offset:
        offset = shortest_rounding(float(offset), lambda v: fit(scale, v), original)
    return float(scale), float(offset), fit(scale, offset)


def _forward_selection(x: np.ndarray, y: np.ndarray, max_terms: int) -> list[list[int]]:
    """Column sets chosen one at a time, each the column most correlated with what the previous set leaves."""
    filled = _fill_mean(np.where(np.isfinite(x), x, np.nan))
    usable = np.flatnonzero(np.ptp(filled, axis=0) > 0)
    centred = filled[:, usable] - filled[:, usable].mean(axis=0)
    unit = centred / np.sqrt(np.einsum("ij,ij->j", centred, centred))  # standardized once: a step is one product
    selected: list[int] = []
    residual = y - y.mean()
    out: list[list[int]] = []
    for _ in range(min(max_terms, len(usable))):
        scores = np.abs(unit.T @ (residual - residual.mean()))
        scores[np.isin(usable, selected)] = -1.0
        if scores.max() <= 0:
            break
        selected.append(int(usable[np.argmax(scores)]))
        out.append(list(selected))
        design = np.column_stack([filled[:, selected], np.ones(len(y))])
        weights = least_squares(design, y)
        residual = y - design @ weights
        if float(residual @ residual) <= 1e-24 * float(((y - y.mean()) ** 2).sum()):
            break
    return out


# ----------------------------------------------------------------------------------------------- one column
def _transforms(x: np.ndarray) -> list[tuple[str, float, np.ndarray]]:
    """(function, shift, f(x + shift)) for identity, every :data:`UNARY` function and, for columns with zeros and
    no negative values, ``log(x + shift)`` for the shifts in :data:`LOG_SHIFTS` (NaN where undefined)."""
    out = []
    with np.errstate(all="ignore"):
        out.append(("identity", 0.0, x))
        out += [(name, 0.0, function(x)) for name, function in UNARY.items()]
        zero_based = (np.nanmin(np.where(np.isnan(x), np.inf, x), axis=0) == 0) if len(x) else np.zeros(0, bool)
        if zero_based.any():
            for shift in LOG_SHIFTS:
                out.append(("log", shift, np.where(zero_based, np.log(x + shift), np.nan)))
    return [(name, shift, np.where(np.isfinite(t), t, np.nan)) for name, shift, t in out]


def single_columns(data: SearchData) -> list[Candidate]:
    """``a * f(x + s) + b`` for the best few (column, transform) pairs, f in identity + :data:`UNARY` (s = 0 but
    for a log of a column with zeros)."""
    x, y = data.x_fit, data.y_fit
    ranked: list[tuple[float, int, int, np.ndarray]] = []
    transforms = _transforms(x)
    for t, (_, _, transformed) in enumerate(transforms):
        coverage = np.isfinite(transformed).mean(axis=0)
        scores = correlations(transformed, y) ** 2
        scores[coverage < 0.95] = 0.0
        ranked += [(float(s), j, t) for j, s in enumerate(scores) if s > 0]
    ranked.sort(key=lambda item: (-item[0], item[1], item[2]))
    out: list[Candidate] = []
    for _, j, t in ranked[:SINGLE_CANDIDATES]:
        name, shift, transformed = transforms[t]
        column = data.names[j]
        scale, offset, fit = affine_constants(transformed[:, j], y)
        if name == "identity":
            spec = {"kind": "linear", "columns": [column], "coefficients": [scale], "intercept": offset}
        else:
            spec = {"kind": "unary", "function": name, "columns": [column], "scale": scale, "offset": offset}
            if shift:
                spec["shift"] = shift
        out.append(Candidate(spec, fit))
    return out


# ---------------------------------------------------------------------------------------------- weighted sums
def _linear_constants(a: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Weights and intercept of ``t ≈ a @ w + b``, snapped (intercept 0, simple weights) and rounded."""
    n_columns = a.shape[1]

    def solve(fixed: dict[int, float], intercept: bool) -> tuple[np.ndarray, float]:
        free = [i for i in range(n_columns) if i not in fixed]
        rest = t - sum((v * a[:, i] for i, v in fixed.items()), np.zeros(len(t)))
        design = a[:, free]
        if intercept:
            design = np.column_stack([design, np.ones(len(t))])
        solution = least_squares(design, rest) if design.shape[1] else np.zeros(0)
        weights = np.zeros(n_columns)
        weights[free] = solution[: len(free)]
        for i, v in fixed.items():
            weights[i] = v
        return weights, float(solution[-1]) if intercept else 0.0

    def fit(weights: np.ndarray, intercept: float) -> float:
        return unexplained(t, a @ weights + intercept)

    weights, intercept = solve({}, True)
    original = fit(weights, intercept)
    use_intercept = True
    no_intercept = solve({}, False)
    if keeps_fit(fit(*no_intercept), original):
        (weights, intercept), use_intercept = no_intercept, False
    fixed: dict[int, float] = {}
    for i in np.argsort(np.abs(weights) * a.std(axis=0)):  # drop the columns that add nothing, smallest first
        if len(fixed) < n_columns - 1:
            trial = solve({**fixed, int(i): 0.0}, use_intercept)
            if keeps_fit(fit(*trial), original):
                fixed[int(i)] = 0.0
                weights, intercept = trial
    for i in np.argsort(-np.abs(weights)):
        simple = nearest_simple(weights[i], SIMPLE_COEFFICIENTS)
        if simple is None or int(i) in fixed:
            continue
        trial = solve({**fixed, int(i): simple}, use_intercept)
        if keeps_fit(fit(*trial), original):
            fixed[int(i)] = simple
            weights, intercept = trial
    for i in range(n_columns):
        if i not in fixed:

            def fit_weight(v: float, i: int = i) -> float:
                return fit(np.where(np.arange(n_columns) == i, v, weights), intercept)

            weights[i] = shortest_rounding(float(weights[i]), fit_weight, original)
    if use_intercept:
        intercept = shortest_rounding(intercept, lambda v: fit(weights, v), original)
    return weights, float(intercept), fit(weights, intercept)


def weighted_sums(data: SearchData) -> list[Candidate]:
    """Linear formulas of 2 to :data:`MAX_LINEAR_TERMS` columns chosen by forward selection."""
    out: list[Candidate] = []
    for chosen in _forward_selection(data.x_fit, data.y_fit, MAX_LINEAR_TERMS):
        if len(chosen) < 2:
            continue
        chosen = sorted(chosen)
        block = data.x_fit[:, chosen]
        ok = np.isfinite(block).all(axis=1)
        if ok.mean() < 0.95:
            continue
        weights, intercept, fit = _linear_constants(block[ok], data.y_fit[ok])
        keep = weights != 0
        spec = {
            "kind": "linear",
            "columns": [data.names[j] for j, k in zip(chosen, keep, strict=True) if k],
            "coefficients": [float(w) for w in weights[keep]],
            "intercept": intercept,
        }
        out.append(Candidate(spec, fit))
    return out


# -------------------------------------------------------------------------------------------------- aggregates
def _beam_search(function: str, block: np.ndarray, y: np.ndarray) -> dict[int, tuple[float, tuple[int, ...]]]:
    """Best subset of each size (2 .. :data:`MAX_AGGREGATE_SIZE`) of the block's columns for ``function``: all
    pairs first, then :data:`BEAM_WIDTH` subsets grown one column at a time."""
    n_pool = block.shape[1]
    scored = {pair: _r2_affine(aggregate(function, block[:, pair]), y) for pair in combinations(range(n_pool), 2)}
    beam = sorted(scored, key=lambda s: (-scored[s], s))[:BEAM_WIDTH]
    best = {2: (scored[beam[0]], beam[0])}
    for size in range(3, min(MAX_AGGREGATE_SIZE, n_pool) + 1):
        if best[size - 1][0] >= 1 - 1e-12:
            break
        grown: dict[tuple[int, ...], float] = {}
        for subset in beam:
            for j in range(n_pool):
                bigger = tuple(sorted((*subset, j)))
                if j not in subset and bigger not in grown:
                    grown[bigger] = _r2_affine(aggregate(function, block[:, bigger]), y)
        beam = sorted(grown, key=lambda s: (-grown[s], s))[:BEAM_WIDTH]
        best[size] = (grown[beam[0]], beam[0])
        if size >= 4 and best[size][0] <= max(best[size - 1][0], best[size - 2][0]) + 1e-9:
            break  # two sizes without progress
    return best


def _aggregate_pool(function: str, x: np.ndarray, y: np.ndarray, rank: np.ndarray) -> np.ndarray:
    if function == "count_nonmissing":
        indicator = np.isnan(x).astype(np.float64)
    elif function == "count_positive":
        with np.errstate(invalid="ignore"):
            indicator = (x > 0).astype(np.float64)
    else:
        return rank[:AGGREGATE_POOL]
    varies = np.flatnonzero(np.ptp(indicator, axis=0) > 0)
    scores = correlations(indicator[:, varies], y)
    return varies[np.argsort(-scores, kind="stable")][:AGGREGATE_POOL]


def aggregates(data: SearchData) -> list[Candidate]:
    """Row-wise aggregates over the best subsets the beam search finds for each function."""
    x, y = data.x_fit[:AGGREGATE_ROWS], data.y_fit[:AGGREGATE_ROWS]
    rank = np.argsort(-relevance(x, y), kind="stable")
    out: list[Candidate] = []
    for search_function, functions in AGGREGATE_GROUPS.items():
        if data.out_of_time():
            break
        pool = _aggregate_pool(search_function, x, y, rank)
        if len(pool) < 2:
            continue
        best = _beam_search(search_function, x[:, pool], y)
        least = min(1 - r2 for r2, _ in best.values())
        smallest = min(size for size, (r2, _) in best.items() if 1 - r2 <= 1.1 * least + 1e-9)
        top = max(best, key=lambda size: best[size][0])
        for size in sorted({smallest, top}):
            columns = [data.names[j] for j in sorted(pool[list(best[size][1])])]
            block = data.x_fit[:, [data.index[c] for c in columns]]
            for function in functions:
                scale, offset, fit = affine_constants(aggregate(function, block), data.y_fit)
                spec = {"kind": "aggregate", "function": function, "columns": columns, "scale": scale, "offset": offset}
                out.append(Candidate(spec, fit))
    return out


# -------------------------------------------------------------------------------------------------- power laws
def _refine_power(logs: np.ndarray, y: np.ndarray, sign: float, start: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Least squares on the original scale (``y ≈ sign * exp(log c + logs @ p)``) from the log fit ``start`` =
    (free exponents..., log c); ``fixed`` is the fixed part of the exponent sum. The log fit alone over-weights
    small values when the noise is additive."""
    from scipy.optimize import least_squares as nonlinear_least_squares

    def prediction(theta: np.ndarray) -> np.ndarray:
        return sign * np.exp(np.clip(logs @ theta[:-1] + theta[-1] + fixed, -700, 700))

    def jacobian(theta: np.ndarray) -> np.ndarray:
        p = prediction(theta)
        return -np.column_stack([logs * p[:, None], p])

    try:
        solution = nonlinear_least_squares(
            lambda theta: y - prediction(theta), start, jac=jacobian, method="lm", max_nfev=100
        )
    except (ValueError, np.linalg.LinAlgError):
        return start
    better = np.sum((y - prediction(solution.x)) ** 2) < np.sum((y - prediction(start)) ** 2)
    return solution.x if better and np.all(np.isfinite(solution.x)) else start


def _power_constants(
    x: np.ndarray, logs: np.ndarray, y: np.ndarray, log_y: np.ndarray, sign: float
) -> tuple[list[float], float, float]:
    """Exponents and scale of ``y ≈ c * prod(x_i ^ p_i)``: exponents from the log fit refined on the original
    scale, snapped one at a time to simple fractions (the rest refitted), the scale refitted and rounded."""
    n_columns = x.shape[1]
    positive_y = np.isfinite(log_y)

    def exponents_given(fixed: dict[int, float]) -> np.ndarray:
        free = [i for i in range(n_columns) if i not in fixed]
        fixed_sum = sum((v * logs[:, i] for i, v in fixed.items()), np.zeros(len(y)))
        design = np.column_stack([logs[:, free], np.ones(len(y))])
        start = least_squares(design[positive_y], (log_y - fixed_sum)[positive_y])
        solution = _refine_power(logs[:, free], y, sign, start, fixed_sum)
        exponents = np.zeros(n_columns)
        exponents[free] = solution[: len(free)]
        for i, v in fixed.items():
            exponents[i] = v
        return exponents

    def product(exponents: np.ndarray) -> np.ndarray:
        out = np.ones(len(y))
        for i, e in enumerate(exponents):
            out = out * power(x[:, i], e)
        return out

    def best_scale(exponents: np.ndarray) -> float:
        g = product(exponents)
        if not np.all(np.isfinite(g)):
            return sign
        with np.errstate(over="ignore", invalid="ignore"):  # a huge power: no usable scale, not a warning to show
            gg, gy = g @ g, g @ y
        return float(gy / gg) if np.isfinite(gg) and np.isfinite(gy) and gg > 0 else sign

    def fit(exponents: np.ndarray, scale: float) -> float:
        return unexplained(y, scale * product(exponents))

    exponents = exponents_given({})
    original = fit(exponents, best_scale(exponents))
    fixed: dict[int, float] = {}
    for i in np.argsort(np.abs(exponents) * logs.std(axis=0)):  # drop the columns that add nothing
        if len(fixed) < n_columns - 1:
            trial = exponents_given({**fixed, int(i): 0.0})
            if keeps_fit(fit(trial, best_scale(trial)), original):
                fixed[int(i)], exponents = 0.0, trial
    for i in np.argsort(-np.abs(exponents)):
        simple = nearest_simple(exponents[i], SIMPLE_EXPONENTS, relative=0.1)
        if simple is not None and int(i) not in fixed:
            trial = exponents_given({**fixed, int(i): simple})
            if keeps_fit(fit(trial, best_scale(trial)), original):
                fixed[int(i)], exponents = simple, trial
    for i in range(n_columns):
        if i not in fixed:
            exponents[i] = shortest_rounding(
                float(exponents[i]),
                lambda v, i=i: fit(np.where(np.arange(n_columns) == i, v, exponents), best_scale(exponents)),
                original,
            )
    scale = best_scale(exponents)
    simple = nearest_simple(scale, SIMPLE_COEFFICIENTS)
    if simple is not None and keeps_fit(fit(exponents, simple), original):
        scale = simple
    else:
        scale = shortest_rounding(scale, lambda v: fit(exponents, v), original)
    return [float(e) for e in exponents], float(scale), fit(exponents, scale)


def power_laws(data: SearchData) -> list[Candidate]:
    """``c * x1^a * x2^b ...`` over strictly positive columns, for a target of one sign."""
    y = data.y_fit
    sign = 1.0 if np.mean(y > 0) >= 0.9 else -1.0 if np.mean(y < 0) >= 0.9 else 0.0  # noise may cross zero
    if not sign:
        return []
    with np.errstate(all="ignore"):
        positive = np.flatnonzero(np.mean(data.x_fit > 0, axis=0) >= 0.99)
        logs = np.log(np.where(data.x_fit[:, positive] > 0, data.x_fit[:, positive], np.nan))
        log_y = np.log(np.where(sign * y > 0, sign * y, np.nan))
    usable = np.isfinite(log_y)
    out: list[Candidate] = []
    for chosen in _forward_selection(logs[usable], log_y[usable], MAX_POWER_TERMS):
        chosen = sorted(chosen)
        ok = np.isfinite(logs[:, chosen]).all(axis=1)
        columns = positive[chosen]
        exponents, scale, fit = _power_constants(
            data.x_fit[ok][:, columns], logs[ok][:, chosen], y[ok], log_y[ok], sign
        )
        kept = [k for k, e in enumerate(exponents) if e != 0]
        spec = {
            "kind": "power_law",
            "columns": [data.names[columns[k]] for k in kept],
            "exponents": [exponents[k] for k in kept],
            "scale": scale,
            "offset": 0.0,
        }
        out.append(Candidate(spec, fit))
    return out


def products_and_ratios(data: SearchData) -> list[Candidate]:
    """``a * (x1 * x2) + b`` and ``a * (x1 / x2) + b`` for pairs of the :data:`PAIR_POOL` most relevant columns
    (columns of any sign; the power laws cover positive ones with any exponent)."""
    x, y = data.x_fit, data.y_fit
    pool = np.argsort(-relevance(x, y), kind="stable")[:PAIR_POOL]
    scored: list[tuple[float, tuple[int, int], float]] = []
    with np.errstate(all="ignore"):
        for i, j in combinations(sorted(pool), 2):
            scored.append((_r2_affine(x[:, i] * x[:, j], y), (int(i), int(j)), 1.0))
            for a, b in ((i, j), (j, i)):
                ratio = x[:, a] / x[:, b]
                scored.append((_r2_affine(np.where(np.isfinite(ratio), ratio, np.nan), y), (int(a), int(b)), -1.0))
    scored.sort(key=lambda item: (-item[0], item[1], -item[2]))
    out: list[Candidate] = []
    for _, (a, b), exponent in scored[:3]:
        with np.errstate(all="ignore"):
            g = x[:, a] * x[:, b] ** exponent
        scale, offset, fit = affine_constants(np.where(np.isfinite(g), g, np.nan), y)
        spec = {
            "kind": "power_law",
            "columns": [data.names[a], data.names[b]],
            "exponents": [1.0, exponent],
            "scale": scale,
            "offset": offset,
        }
        out.append(Candidate(spec, fit))
    return out


#: The families in the order they run (cheapest first, so a short budget still tries the simple ones).
FAMILIES = {
    "one column (identity, log, exp, sqrt, square, cube, reciprocal)": single_columns,
    "weighted sums": weighted_sums,
    "power laws, products and ratios": power_laws,
    "products and ratios of columns of any sign": products_and_ratios,
    "row-wise aggregates": aggregates,
}
