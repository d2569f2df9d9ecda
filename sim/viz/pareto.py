"""Cost against coverage across the variants of a sweep, with the Pareto front."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def pareto_front(cost: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Indices of the variants no other beats on both (lower cost, higher coverage)."""
    order = np.lexsort((-coverage, cost))
    front, best = [], -np.inf
    for i in order:
        if coverage[i] > best:
            front.append(i)
            best = coverage[i]
    return np.array(front, dtype=np.int64)


def plot_pareto(
    summary: pd.DataFrame,
    *,
    x: str = "cost_per_parcel_yuan",
    y: str = "village_express_coverage",
    scope: str = "province",
    ax: Axes | None = None,
) -> Axes:
    """Scatter the variants of a sweep summary by two KPIs and draw their Pareto front.

    Parameters
    ----------
    summary
        ``summary.csv`` of a sweep (variant, scope, kpi, mean, ci95_low, ci95_high, ...).
    x, y
        KPI to minimise (x) and to maximise (y).
    scope
        KPI scope to plot.
    ax
        Axes to draw on; a new figure when None.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    s = summary[summary["scope"] == scope]
    table = s.pivot_table(index="variant", columns="kpi", values="mean")
    cost, cov = table[x].to_numpy(), table[y].to_numpy()
    ok = np.isfinite(cost) & np.isfinite(cov)
    ax.scatter(cost[ok], cov[ok], c="#264653", s=25, label="variants")
    front = pareto_front(cost[ok], cov[ok])
    ax.plot(cost[ok][front], cov[ok][front], "-o", c="#e76f51", label="Pareto front")
    for i in front:
        ax.annotate(
            str(table.index[ok][i]),
            (cost[ok][i], cov[ok][i]),
            fontsize=7,
            textcoords="offset points",
            xytext=(4, 4),
        )
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{len(table)} variants: {y} against {x} ({scope})", fontsize=10)
    ax.legend(fontsize=8)
    return ax
