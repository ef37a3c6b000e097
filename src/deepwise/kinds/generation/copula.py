"""The honest baselines for synthetic tables: independent marginals and a Gaussian copula.

Both reproduce each column's own distribution (numbers from the seen values' quantiles, interpolated, within the
seen range and rounded like the data; categories in their seen proportions; missing values as often as seen).
``independent_marginals`` then draws every column on its own, so relationships between columns are lost: the floor
a generator must beat. ``gaussian_copula`` keeps the correlations: each column is mapped to a standard normal score
through its own distribution (a category to its slice of [0, 1], a missing number to the top slice), the scores'
correlation matrix is estimated, and new rows are correlated normal draws mapped back. It keeps linear (rank)
relationships, not clusters: rows of a species are only roughly where they belong.

State is plain JSON (:meth:`TableGenerator.to_json`); no pickle.

Example:
    >>> copula = fit_gaussian_copula(penguins, seed=0)
    >>> synthetic = copula.sample(1000, seed=1)
    >>> synthetic.columns.tolist() == copula.schema.names
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from deepwise.kinds.generation.table_schema import (
    TableSchema,
    category_codes,
    finish_numeric,
    infer_schema,
    typed_categories,
)

QUANTILE_POINTS = 1001  # stored per numeric column: its distribution, not its rows
EPSILON = 1e-6  # keeps uniform scores away from 0 and 1 (infinite normal scores)


@dataclass
class Marginal:
    """One column's distribution: quantiles of the present values and the missing share, or category shares."""

    name: str
    kind: str
    missing_share: float
    quantiles: list[float] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)

    def to_uniform(self, series: pd.Series, spec, rng: np.random.Generator) -> np.ndarray:
        """Each row's position in [0, 1] under this distribution (ties and categories spread uniformly)."""
        n = len(series)
        if self.kind == "numeric":
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
            missing = np.isnan(values)
            u = np.empty(n)
            present = np.flatnonzero(~missing)
            order = present[np.lexsort((rng.random(len(present)), values[present]))]  # ties broken at random
            u[order] = (np.arange(len(order)) + 0.5) / max(1, len(order)) * (1 - self.missing_share)
            u[missing] = 1 - self.missing_share + rng.random(int(missing.sum())) * self.missing_share
            return np.clip(u, EPSILON, 1 - EPSILON)
        codes = category_codes(series, spec)
        codes = np.where(codes == -2, 0, codes)  # an unseen value: the commonest category
        edges = np.concatenate([[0.0], np.cumsum(self.shares)])
        slot = np.where(codes == -1, len(self.shares) - 1, codes)
        u = edges[slot] + rng.random(n) * (edges[slot + 1] - edges[slot])
        return np.clip(u, EPSILON, 1 - EPSILON)

    def from_uniform(self, u: np.ndarray, spec) -> pd.Series:
        """Values for positions ``u`` in [0, 1] (the inverse of :meth:`to_uniform`)."""
        if self.kind == "numeric":
            present = u < 1 - self.missing_share
            scaled = np.clip(u / max(EPSILON, 1 - self.missing_share), 0, 1)
            grid = np.linspace(0, 1, len(self.quantiles))
            values = np.where(present, np.interp(scaled, grid, self.quantiles), np.nan)
            return finish_numeric(spec, values)
        edges = np.cumsum(self.shares)
        slot = np.minimum(np.searchsorted(edges, u, side="right"), len(self.shares) - 1)
        has_missing_slot = len(self.shares) > len(spec.categories)
        codes = np.where(has_missing_slot & (slot == len(spec.categories)), -1, slot)
        return typed_categories(spec, codes)


def fit_marginal(series: pd.Series, spec) -> Marginal:
    if spec.kind == "numeric":
        values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=np.float64)
        quantiles = np.quantile(values, np.linspace(0, 1, min(QUANTILE_POINTS, max(2, len(values)))))
        return Marginal(spec.name, "numeric", spec.missing_share, quantiles=quantiles.tolist())
    codes = category_codes(series, spec)
    counts = np.bincount(codes[codes >= 0], minlength=len(spec.categories)).astype(np.float64)
    if spec.missing_share > 0:
        counts = np.append(counts, float((codes == -1).sum()))
    return Marginal(spec.name, "categorical", spec.missing_share, shares=(counts / counts.sum()).tolist())


@dataclass
class TableGenerator:
    """A fitted baseline generator: ``method`` 'independent_marginals' or 'gaussian_copula'."""

    method: str
    schema: TableSchema
    marginals: list[Marginal]
    correlation: list[list[float]] | None = None

    def sample(self, n: int, seed: int = 0) -> pd.DataFrame:
        """``n`` new rows with the fitted table's columns (in its order).

        Example:
            >>> fit_independent_marginals(penguins).sample(5).shape
            (5, 8)
        """
        rng = np.random.default_rng(seed)
        k = len(self.marginals)
        if self.correlation is None:
            u = rng.random((n, k))
        else:
            z = rng.multivariate_normal(np.zeros(k), np.asarray(self.correlation), size=n, method="cholesky")
            u = ndtr(z)
        u = np.clip(u, EPSILON, 1 - EPSILON)
        columns = {m.name: m.from_uniform(u[:, j], self.schema.column(m.name)).values
                   for j, m in enumerate(self.marginals)}
        return pd.DataFrame(columns, columns=self.schema.names)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "schema": self.schema.to_json(),
            "marginals": [vars(m) for m in self.marginals],
            "correlation": self.correlation,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableGenerator:
        return cls(
            method=data["method"],
            schema=TableSchema.from_json(data["schema"]),
            marginals=[Marginal(**m) for m in data["marginals"]],
            correlation=data.get("correlation"),
        )


def fit_independent_marginals(frame: pd.DataFrame, schema: TableSchema | None = None) -> TableGenerator:
    """Every column's own distribution, drawn independently of the others.

    Example:
        >>> fit_independent_marginals(penguins).method
        'independent_marginals'
    """
    schema = schema or infer_schema(frame)
    marginals = [fit_marginal(frame[spec.name], spec) for spec in schema.columns]
    return TableGenerator("independent_marginals", schema, marginals)


def fit_gaussian_copula(frame: pd.DataFrame, schema: TableSchema | None = None, seed: int = 0) -> TableGenerator:
    """Every column's own distribution, tied together by the correlation of their normal scores.

    Example:
        >>> len(fit_gaussian_copula(penguins).correlation)
        8
    """
    schema = schema or infer_schema(frame)
    rng = np.random.default_rng(seed)
    marginals = [fit_marginal(frame[spec.name], spec) for spec in schema.columns]
    scores = np.stack(
        [ndtri(m.to_uniform(frame[m.name], schema.column(m.name), rng)) for m in marginals], axis=1
    )
    correlation = np.corrcoef(scores, rowvar=False) if len(marginals) > 1 else np.ones((1, 1))
    correlation = np.nan_to_num(np.atleast_2d(correlation))
    correlation = 0.999 * correlation + 0.001 * np.eye(len(marginals))  # always positive definite
    np.fill_diagonal(correlation, 1.0)
    return TableGenerator("gaussian_copula", schema, marginals, correlation.round(6).tolist())
