"""Write the standard figures of a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from sim.engine import Results


def save_run_figures(results: Results, coverage: pd.DataFrame, folder: Path) -> list[Path]:
    """Draw the run's figures into ``folder`` as PNG files and return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.viz.county_map import plot_county_map
    from sim.viz.lead_times import plot_lead_times

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, draw in (
        ("county_map.png", lambda ax: plot_county_map(results, coverage, ax=ax)),
        ("lead_times.png", lambda ax: plot_lead_times(results, ax=ax)),
    ):
        fig, ax = plt.subplots(figsize=(8, 8) if name == "county_map.png" else (8, 4))
        draw(ax)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        out.append(folder / name)
    return out
