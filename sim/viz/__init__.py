"""Plots of a run: one figure per function, ``ax`` in and ``Axes`` out, never ``plt.show()``.

The core runs headless; only this package imports matplotlib.
"""

from __future__ import annotations

from sim.viz._figures import save_run_figures
from sim.viz.county_map import plot_county_map
from sim.viz.lead_times import plot_lead_times
from sim.viz.pareto import pareto_front, plot_pareto
from sim.viz.sensitivity import plot_sensitivity

__all__ = [
    "pareto_front",
    "plot_county_map",
    "plot_lead_times",
    "plot_pareto",
    "plot_sensitivity",
    "save_run_figures",
]
