"""The report's interactive coverage map (Bokeh): villages by coverage, township points,
county centres, routes and county boundaries, on a local kilometre grid.

Positions come from ``facilities.csv``, routes from the first replication's legs in
``trips.parquet``. Field values reach the page through Bokeh's JSON and its hover tooltips,
which show them as text (never the ``{safe}`` format).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.labels import Labels
from sim.report._format import number
from sim.report._run import RunFolderData, margin, village_status

if TYPE_CHECKING:
    from bokeh.plotting import figure as Figure

#: Colours of the village states, township points, centres and routes.
_COLOURS = {
    "covered": "#2a9d8f",
    "not_covered": "#e76f51",
    "reachable": "#e9c46a",
    "township": "#264653",
    "centre": "#f4a261",
    "shuttle": "#555555",
    "village_loop": "#8ab6d6",
    "boundary": "#333333",
}


def _source(table: pd.DataFrame):
    """A Bokeh data source of a table's columns (no index column)."""
    from bokeh.models import ColumnDataSource

    return ColumnDataSource({str(c): table[c].to_numpy() for c in table.columns})


def _projector(facilities: pd.DataFrame):
    """Longitude/latitude to km east/north of the points' centre (equirectangular)."""
    lon0 = float(facilities["lon"].mean()) if len(facilities) else 0.0
    lat0 = float(facilities["lat"].mean()) if len(facilities) else 0.0
    kx = 111.32 * math.cos(math.radians(lat0))

    def project(lon, lat):
        """Kilometres east and north of the centre."""
        return (np.asarray(lon, float) - lon0) * kx, (np.asarray(lat, float) - lat0) * 110.57

    return project


def coverage_map(data: RunFolderData, words: Labels) -> Figure:
    """The coverage map of a run folder, as a Bokeh figure."""
    from bokeh.models import HoverTool
    from bokeh.plotting import figure

    fac = data.facilities.dropna(subset=["lon", "lat"])
    project = _projector(fac)
    p = figure(
        height=640,
        sizing_mode="stretch_width",
        match_aspect=True,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        active_scroll="wheel_zoom",
        x_axis_label=words("km_east"),
        y_axis_label=words("km_north"),
    )
    p.toolbar.logo = None
    _boundaries(p, data, project, words)
    _routes(p, data, fac, project, words)
    villages = _village_source(data, fac, project, words)
    hover: list[Any] = []
    size = 7 if len(villages) <= 2000 else 4 if len(villages) <= 8000 else 3
    for status in ("covered", "not_covered", "reachable"):
        part = villages[villages["status"] == status]
        if len(part):
            hover.append(
                p.scatter(
                    "x",
                    "y",
                    source=_source(part),
                    size=size,
                    color=_COLOURS[status],
                    alpha=0.9,
                    legend_label=words(status),
                )
            )
    towns = _township_source(data, fac, project, words)
    if len(towns):
        hover.append(
            p.scatter(
                "x",
                "y",
                source=_source(towns),
                marker="square",
                size=10,
                color=_COLOURS["township"],
                legend_label=words("township_point"),
            )
        )
    seats = fac[fac["level"] == "county"]
    if len(seats):
        x, y = project(seats["lon"], seats["lat"])
        p.scatter(
            x,
            y,
            marker="star",
            size=18,
            color=_COLOURS["centre"],
            line_color="black",
            legend_label=words("county_centre"),
        )
    p.add_tools(
        HoverTool(
            renderers=hover,
            tooltips=[
                (words("name"), "@name"),
                (words("code"), "@code"),
                (words("visits"), "@visits"),
                (words("p95_lead"), "@p95"),
                (words("reason"), "@reason"),
            ],
        )
    )
    p.legend.location = "bottom_left"
    p.legend.click_policy = "hide"
    _synthetic_mark(p, data, words, corner=_top_left(villages, towns))
    return p


def _top_left(*tables: pd.DataFrame) -> tuple[float, float]:
    """The top-left corner of the points drawn (km east, km north)."""
    xs = [float(t["x"].min()) for t in tables if len(t)]
    ys = [float(t["y"].max()) for t in tables if len(t)]
    return (min(xs), max(ys)) if xs else (0.0, 0.0)


def _village_source(data: RunFolderData, fac: pd.DataFrame, project, words: Labels) -> pd.DataFrame:
    """The villages drawn: position, name, code, visits, p95, reason with margin, state."""
    cov = data.coverage[data.coverage["level"] == "village"]
    pos = fac[fac["level"] == "village"].drop_duplicates("code").set_index("code")[["lon", "lat"]]
    cov = cov[cov["code"].isin(pos.index)]
    x, y = project(pos.loc[cov["code"], "lon"], pos.loc[cov["code"], "lat"])
    status = village_status(cov, data.limits)
    reasons = [
        words("covered")
        if bool(r["covered"])
        else " ".join(
            s for s in (words.reason(str(r["reason"])) + ":", _margin(r, data, words)) if s
        )
        for r in cov.to_dict("records")
    ]
    return _points(x, y, cov, reasons).assign(status=status.to_numpy())


def _points(x, y, cov: pd.DataFrame, reasons: list[str]) -> pd.DataFrame:
    """The hover data of drawn units: position, name, code, visits, p95 and reason."""
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "name": cov["name"].astype(str).to_numpy(),
            "code": cov["code"].astype(str).to_numpy(),
            "visits": [number(float(v), "number") for v in _col(cov, "visits_per_week")],
            "p95": [number(float(v), "hours") for v in _col(cov, "p95_lead_h")],
            "reason": reasons,
        }
    )


def _margin(row: Mapping[Any, Any], data: RunFolderData, words: Labels) -> str:
    """:func:`margin` of a coverage row, with its worst-week visits."""
    return margin(row, data.limits, float(data.worst_week.get(str(row["code"]), math.nan)), words)


def _col(table: pd.DataFrame, name: str) -> np.ndarray:
    """A column as floats (NaN where missing or not a number)."""
    if name not in table:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)


def _township_source(
    data: RunFolderData, fac: pd.DataFrame, project, words: Labels
) -> pd.DataFrame:
    """The township points drawn: position, name, code, visits, p95 and reason."""
    cov = data.coverage[data.coverage["level"] == "township"].drop_duplicates("code")
    pos = fac[fac["level"] == "township"].drop_duplicates("code").set_index("code")
    cov = cov[cov["code"].isin(pos.index)]
    x, y = project(pos.loc[cov["code"], "lon"], pos.loc[cov["code"], "lat"])
    reasons = [
        words("covered") if bool(c) else words.reason(str(r))
        for c, r in zip(cov["covered"], cov["reason"], strict=True)
    ]
    return _points(x, y, cov, reasons)


def _routes(p, data: RunFolderData, fac: pd.DataFrame, project, words: Labels) -> None:
    """Legs of the first replication as lines: shuttles dashed, village loops thin."""
    t = data.trips
    if t.empty:
        return
    t = t[t["replication"] == t["replication"].min()]
    pos = fac.assign(
        key=np.where(fac["level"] == "county", "seat", fac["code"].astype(str))
    ).drop_duplicates(["county_code", "key"])
    pos = pos.set_index(["county_code", "key"])[["lon", "lat"]]
    for kind, style, label in (
        ("village_loop", "solid", "loops"),
        ("shuttle", "dashed", "shuttles"),
    ):
        legs = t[t["kind"] == kind][["county_code", "from_code", "to_code"]].drop_duplicates()
        a = pos.reindex(pd.MultiIndex.from_arrays([legs["county_code"], legs["from_code"]]))
        b = pos.reindex(pd.MultiIndex.from_arrays([legs["county_code"], legs["to_code"]]))
        ok = a["lon"].notna().to_numpy() & b["lon"].notna().to_numpy()
        if not ok.any():
            continue
        x0, y0 = project(a["lon"][ok], a["lat"][ok])
        x1, y1 = project(b["lon"][ok], b["lat"][ok])
        p.segment(
            x0,
            y0,
            x1,
            y1,
            line_color=_COLOURS[kind],
            line_dash=style,
            line_width=1.4 if kind == "shuttle" else 0.8,
            alpha=0.8,
            legend_label=words(label),
        )


def _boundaries(p, data: RunFolderData, project, words: Labels) -> None:
    """County boundaries (real polygons of the geodata), when the code is a known county."""
    from sim.errors import SimError
    from sim.geodata import county_boundary

    xs, ys = [], []
    for code in sorted(set(data.facilities["county_code"].astype(str))):
        try:
            geom = county_boundary(code)
        except SimError:
            continue
        for poly in getattr(geom, "geoms", [geom]):
            lon, lat = poly.exterior.xy
            x, y = project(lon, lat)
            xs.append(list(x))
            ys.append(list(y))
    if xs:
        p.multi_line(
            xs, ys, line_color=_COLOURS["boundary"], line_width=1.5, legend_label=words("boundary")
        )


def _synthetic_mark(p, data: RunFolderData, words: Labels, *, corner: tuple[float, float]) -> None:
    """Write SYNTHETIC and the synthetic layers (manifest.json) on the map itself."""
    from bokeh.models.annotations import Label

    layers = data.meta.get("synthetic_layers", [])
    if not isinstance(layers, list):
        layers = [str(layers)]
    shown = [str(x) for x in layers]
    if not shown:
        return
    text = words("synthetic_mark", layers=", ".join(words.layer(s) for s in shown))
    p.add_layout(
        Label(
            x=corner[0],
            y=corner[1],
            text=text,
            text_font_size="18px",
            text_baseline="top",
            text_font_style="bold",
            text_color="#c0392b",
            background_fill_color="white",
            background_fill_alpha=0.8,
            border_line_color="#c0392b",
        )
    )
