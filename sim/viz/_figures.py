"""Write the standard figures of a run folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from sim.engine import Results
    from sim.kpi.survival import Tally
    from sim.world import World


def save_run_figures(
    results: Results | World,
    coverage: pd.DataFrame,
    folder: Path,
    *,
    lead_h: np.ndarray | Sequence[np.ndarray | Tally] | None = None,
) -> list[Path]:
    """Draw the run's figures into ``folder`` as PNG files and return their paths.

    ``results`` is a run's results, or its world with ``lead_h``, the signed lead hours of the
    window's parcels (:func:`sim.viz.lead_times.cohort_lead_hours`) or their tallies.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.viz.county_map import plot_county_map
    from sim.viz.lead_times import cohort_lead_hours, plot_lead_hours
    from sim.world import World

    if isinstance(results, World):
        world = results
        if lead_h is None:
            raise ValueError("save_run_figures(world, ...) needs lead_h")
    else:
        world, lead_h = results.world, cohort_lead_hours(results)
    leads = lead_h  # bound for the lambda below, with its type narrowed

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, draw in (
        ("county_map.png", lambda ax: plot_county_map(world, coverage, ax=ax)),
        ("lead_times.png", lambda ax: plot_lead_hours(leads, world.scenario, ax=ax)),
    ):
        fig, ax = plt.subplots(figsize=(8, 8) if name == "county_map.png" else (8, 4))
        draw(ax)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        out.append(folder / name)
    return out
