"""Map of a county: roads by class, facilities, villages coloured by coverage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.world import World

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.engine import Results
    from sim.world import County

_ROAD_STYLE = {
    "county": (1.6, "#555555"),
    "township": (1.0, "#888888"),
    "village": (0.5, "#bbbbbb"),
}


def plot_county_map(
    results: Results | World,
    coverage: pd.DataFrame,
    *,
    county: str | None = None,
    routes: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Draw roads, centres, township points and villages coloured by coverage.

    Parameters
    ----------
    results
        A run's results or its world (which gives the graphs and points).
    coverage
        The coverage table of the run (:func:`sim.kpi.coverage_table`).
    county
        Code of the county to draw; all counties of the run when None.
    routes
        Draw the planned vehicle routes (straight lines between stops) of a single county.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 8))
    world = results if isinstance(results, World) else results.world
    counties = [world.county(county)] if county else list(world.counties)
    cov = coverage[coverage["level"] == "village"].set_index("code")["covered"]
    counts = {"covered": 0, "not covered": 0, "no point": 0}
    if routes and len(counties) == 1:
        _draw_routes(ax, counties[0])
    for i, c in enumerate(counties):
        _draw_county(
            ax,
            c,
            cov,
            counts,
            legend=i == 0,
            roads=len(counties) <= 12,
            scale=1.0 if len(counties) <= 12 else 0.2,
        )
    pts = counties[0].points
    ax.set_aspect(1 / np.cos(np.radians(float(pts["lat"].mean()))))
    ax.autoscale_view()
    synthetic = (
        world.synthetic_layers()
        if county is None
        else [
            k for k, v in counties[0].sources.items() if v.split(":")[0] in ("synthetic", "mixed")
        ]
    )
    title = f"{counties[0].county_code}" if county or len(counties) == 1 else world.label
    ax.set_title(
        f"{title}: village express coverage, {counts['covered']} of "
        f"{sum(counts.values())} villages covered\n"
        f"synthetic layers: {', '.join(synthetic) or 'none'}",
        fontsize=10,
    )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="lower left", fontsize=8)
    return ax


def _draw_county(
    ax: Axes,
    c: County,
    cov: pd.Series,
    counts: dict,
    *,
    legend: bool,
    roads: bool,
    scale: float,
) -> None:
    from matplotlib.collections import LineCollection

    _draw_boundary(ax, c.county_code)
    if roads:
        segs: dict[str, list] = {k: [] for k in _ROAD_STYLE}
        for u, v, data in c.graph.edges(data=True):
            if data.get("reversed"):
                continue
            geom = data.get("geometry")
            xy = (
                np.asarray(geom.coords)
                if geom is not None
                else np.array(
                    [
                        [c.graph.nodes[u]["x"], c.graph.nodes[u]["y"]],
                        [c.graph.nodes[v]["x"], c.graph.nodes[v]["y"]],
                    ]
                )
            )
            segs.setdefault(_road_class(data), []).append(xy)
        for cls, lines in segs.items():
            width, colour = _ROAD_STYLE.get(cls, (0.5, "#bbbbbb"))
            ax.add_collection(LineCollection(lines, linewidths=width, colors=colour, zorder=1))
    pts = c.points.set_index("code")
    vill = pts.loc[c.village_codes]
    covered = cov.reindex(c.village_codes).fillna(False).to_numpy(dtype=bool)
    has_point = c.village_has_point
    groups: tuple[tuple[str, np.ndarray, dict[str, Any]], ...] = (
        ("covered", covered, {"s": 10 * scale, "c": "#2a9d8f"}),
        ("not covered", ~covered & has_point, {"s": 10 * scale, "c": "#e76f51"}),
        (
            "no point",
            ~has_point,
            {"s": 10 * scale, "facecolors": "none", "edgecolors": "#e76f51"},
        ),
    )
    for label, mask, style in groups:
        counts[label] += int(mask.sum())
        if mask.any():
            ax.scatter(
                vill["lon"][mask],
                vill["lat"][mask],
                zorder=3,
                label=f"village: {label}" if legend else None,
                **style,
            )
    town = pts.loc[c.township_codes]
    ax.scatter(
        town["lon"],
        town["lat"],
        s=40 * scale,
        marker="s",
        c="#264653",
        zorder=4,
        label="township point" if legend else None,
    )
    seat = pts.loc["seat"]
    ax.scatter(
        [seat["lon"]],
        [seat["lat"]],
        s=120 * max(scale, 0.4),
        marker="*",
        c="#f4a261",
        zorder=5,
        edgecolors="black",
        label="county centre" if legend else None,
    )


def _draw_routes(ax: Axes, c: County) -> None:
    """Planned runs as straight lines between stops: shuttles dashed, loops and buses thin."""
    import matplotlib.pyplot as plt

    pts = c.points
    lon, lat = pts["lon"].to_numpy(), pts["lat"].to_numpy()
    cmap = plt.get_cmap("tab20")
    colours = [cmap(i / 19) for i in range(20)]
    for i, veh in enumerate(c.vehicles):
        for route in veh.routes:
            path = np.concatenate([[veh.base], route, [veh.base]])
            style = "--" if veh in c.shuttles else "-"
            ax.plot(
                lon[path],
                lat[path],
                style,
                lw=0.6,
                alpha=0.6,
                color=colours[i % len(colours)],
                zorder=2,
            )


def _road_class(data: dict) -> str:
    if "road_class" in data:
        return str(data["road_class"])
    hwy = data.get("highway")
    if hwy in ("motorway", "trunk", "primary", "secondary", "tertiary"):
        return "county"
    if hwy in ("unclassified", "motorway_link", "trunk_link", "primary_link"):
        return "township"
    return "village"


def _draw_boundary(ax: Axes, code: str) -> None:
    from sim.geodata import county_boundary

    geom = county_boundary(code)
    for poly in getattr(geom, "geoms", [geom]):
        x, y = poly.exterior.xy
        ax.plot(x, y, color="#333333", linewidth=1.2, zorder=0)
