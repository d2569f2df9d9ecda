"""Map of a county: roads by class, facilities, villages coloured by coverage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.engine import Results

_ROAD_STYLE = {
    "county": (1.6, "#555555"),
    "township": (1.0, "#888888"),
    "village": (0.5, "#bbbbbb"),
}


def plot_county_map(results: Results, coverage: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Draw the county's roads, its centre and township points, and villages by coverage.

    Parameters
    ----------
    results
        A run's results (its world gives the graph and points).
    coverage
        The coverage table of the run (:func:`sim.kpi.coverage_table`).
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 8))
    w = results.world
    _draw_boundary(ax, w.county_code)
    segs: dict[str, list] = {k: [] for k in _ROAD_STYLE}
    for u, v, data in w.graph.edges(data=True):
        if data.get("reversed"):
            continue
        geom = data.get("geometry")
        xy = (
            np.asarray(geom.coords)
            if geom is not None
            else np.array(
                [
                    [w.graph.nodes[u]["x"], w.graph.nodes[u]["y"]],
                    [w.graph.nodes[v]["x"], w.graph.nodes[v]["y"]],
                ]
            )
        )
        segs.setdefault(data.get("road_class", "village"), []).append(xy)
    for cls, lines in segs.items():
        width, colour = _ROAD_STYLE.get(cls, (0.5, "#bbbbbb"))
        ax.add_collection(LineCollection(lines, linewidths=width, colors=colour, zorder=1))
    pts = w.points.set_index("code")
    cov = coverage[coverage["level"] == "village"].set_index("code")
    vill = pts.loc[w.village_codes]
    covered = cov.loc[w.village_codes, "covered"].to_numpy(dtype=bool)
    has_point = w.village_has_point
    ax.scatter(
        vill["lon"][covered],
        vill["lat"][covered],
        s=10,
        c="#2a9d8f",
        zorder=3,
        label=f"village covered ({covered.sum()})",
    )
    ax.scatter(
        vill["lon"][~covered & has_point],
        vill["lat"][~covered & has_point],
        s=10,
        c="#e76f51",
        zorder=3,
        label=f"village not covered ({(~covered & has_point).sum()})",
    )
    if (~has_point).any():
        ax.scatter(
            vill["lon"][~has_point],
            vill["lat"][~has_point],
            s=10,
            facecolors="none",
            edgecolors="#e76f51",
            zorder=3,
            label=f"no service point ({(~has_point).sum()})",
        )
    town = pts.loc[w.township_codes]
    ax.scatter(
        town["lon"], town["lat"], s=40, marker="s", c="#264653", zorder=4, label="township point"
    )
    seat = pts.loc["seat"]
    ax.scatter(
        [seat["lon"]],
        [seat["lat"]],
        s=120,
        marker="*",
        c="#f4a261",
        zorder=5,
        edgecolors="black",
        label="county centre",
    )
    ax.set_aspect(1 / np.cos(np.radians(float(pts["lat"].mean()))))
    ax.autoscale_view()
    synthetic = [k for k, v in w.sources.items() if v.startswith("synthetic")]
    ax.set_title(
        f"{w.county_code} — village express coverage\n"
        f"synthetic layers: {', '.join(synthetic) or 'none'}",
        fontsize=10,
    )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="lower left", fontsize=8)
    return ax


def _draw_boundary(ax: Axes, code: str) -> None:
    from sim.geodata import county_boundary

    geom = county_boundary(code)
    for poly in getattr(geom, "geoms", [geom]):
        x, y = poly.exterior.xy
        ax.plot(x, y, color="#333333", linewidth=1.2, zorder=0)
