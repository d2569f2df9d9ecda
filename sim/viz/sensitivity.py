"""Bars of the sensitivity indices of a Sobol or Morris sweep."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_sensitivity(indices: pd.DataFrame, kpi: str, *, ax: Axes | None = None) -> Axes:
    """Horizontal bars of the total Sobol index (or Morris mu*) of each factor for one KPI.

    Parameters
    ----------
    indices
        ``sensitivity.csv`` of a sweep.
    kpi
        The output KPI.
    ax
        Axes to draw on; a new figure when None.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    rows = indices[indices["kpi"] == kpi]
    key, err = ("ST", "ST_conf") if "ST" in rows else ("mu_star", "mu_star_conf")
    y = np.arange(len(rows))
    ax.barh(y, rows[key], xerr=rows[err], color="#2a9d8f")
    ax.set_yticks(y, rows["factor"], fontsize=8)
    ax.set_xlabel("total Sobol index ST" if key == "ST" else "Morris mu*")
    ax.set_title(f"sensitivity of {kpi}", fontsize=10)
    return ax
