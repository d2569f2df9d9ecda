"""Distribution of parcel lead times from the county centre to the collection point."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.engine import Results


def plot_lead_times(results: Results, *, ax: Axes | None = None) -> Axes:
    """Histogram of lead times (hours) of parcels that reached their point after the warm-up.

    Parameters
    ----------
    results
        A run's results.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    sc = results.world.scenario
    p = results.parcels
    p = p[p["t_created"] >= sc.warmup_days * 1440.0]
    lead = ((p["t_point"] - p["t_created"]) / 60.0).dropna().to_numpy()
    if len(lead):
        # matplotlib's stubs type ``bins`` as a Sequence; an array of edges works the same.
        ax.hist(lead, bins=np.arange(0, max(lead.max(), 1) + 2, 2), color="#264653")  # type: ignore[arg-type]
        for q, style in ((0.5, "--"), (0.95, ":")):
            ax.axvline(
                np.quantile(lead, q),
                color="#e76f51",
                linestyle=style,
                label=f"p{int(q * 100)} = {np.quantile(lead, q):.1f} h",
            )
    ax.axvline(
        sc.kpi.max_lead_time_h,
        color="black",
        linewidth=1,
        label=f"max lead time {sc.kpi.max_lead_time_h:g} h",
    )
    ax.set_xlabel("lead time from county centre to collection point (h)")
    ax.set_ylabel("parcels")
    ax.set_title(f"{sc.name}: lead times ({len(lead):,} parcels, all replications)", fontsize=10)
    ax.legend(fontsize=8)
    return ax
