"""Distribution of parcel lead times from the county centre to the collection point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from sim.kpi import survival
from sim.measure import window

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.engine import Results
    from sim.scenario import Scenario


def plot_lead_times(results: Results, *, ax: Axes | None = None) -> Axes:
    """Histogram of the lead times (hours) of the window's parcels, with the KPIs' p50 and p95.

    The bars show the parcels that reached their point; the percentiles are the KPI table's
    (Kaplan-Meier over the whole cohort, so parcels still on their way count as such).

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
    return plot_lead_hours(cohort_lead_hours(results), results.world.scenario, ax=ax)


def cohort_lead_hours(results: Results) -> np.ndarray:
    """Lead hours of the window's inbound parcels, all replications; negative (or -0.0)
    where censored: the parcel had not reached its point when its run stopped."""
    start, end = window(results.world.scenario)
    p = results.parcels
    t = p["t_created"].to_numpy()
    p = p[(t >= start) & (t < end) & (p["direction"] == "inbound").to_numpy()]
    reached = p["t_point"].notna().to_numpy()
    stop = np.empty(len(p))
    blocks = p.groupby(["replication", "county_code"], observed=True, sort=False).indices
    for key, rows in blocks.items():
        r, code = cast("tuple[int, str]", key)
        stop[rows] = results.end_of(int(r), str(code))
    lead = (np.where(reached, p["t_point"].to_numpy(), stop) - p["t_created"].to_numpy()) / 60.0
    return np.copysign(lead, np.where(reached, 1.0, -1.0))


def plot_lead_hours(
    lead_h: np.ndarray | Sequence[np.ndarray | survival.Tally],
    scenario: Scenario,
    *,
    ax: Axes | None = None,
) -> Axes:
    """The chart of :func:`plot_lead_times` from the cohort's signed lead hours.

    Parameters
    ----------
    lead_h
        Lead hours of the window's parcels, sign bit set where censored: one array
        (:func:`cohort_lead_hours`) or several, or their tallies
        (:func:`sim.stream.run_region` returns one per county and replication).
    scenario
        The run's scenario (name and lead-time standard).
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    sc = scenario
    chunks = [lead_h] if isinstance(lead_h, np.ndarray) else list(lead_h)
    tallies = [x if isinstance(x, survival.Tally) else survival.Tally.of(x) for x in chunks]
    n = sum(t.n for t in tallies)
    late = sum(t.n_censored for t in tallies)
    if n:
        shown = [t.outcomes() for t in tallies]
        top = max([1.0, *(float(v.max()) for v, _ in shown if len(v))])
        bins = np.arange(0, top + 2, 2)
        counts = sum(np.histogram(v, bins=bins, weights=k)[0] for v, k in shown)
        ax.stairs(counts, bins, fill=True, color="#264653")
        (p50, p95), _ = survival.summary_encoded(tallies, (0.5, 0.95))
        for q, value, style in ((50, p50, "--"), (95, p95, ":")):
            if not np.isnan(value):
                ax.axvline(value, color="#e76f51", linestyle=style, label=f"p{q} = {value:.1f} h")
    ax.axvline(
        sc.kpi.max_lead_time_h,
        color="black",
        linewidth=1,
        label=f"max lead time {sc.kpi.max_lead_time_h:g} h",
    )
    ax.set_xlabel("lead time from county centre to collection point (h)")
    ax.set_ylabel("parcels")
    note = f"; {late / n:.1%} not arrived" if late else ""
    ax.set_title(
        f"{sc.name}: lead times of the {n:,} parcels created in the window "
        f"(all replications{note})",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return ax
