"""Lay out one county: its units, road graph and facility points, from the best source.

The road graph is cached OpenStreetMap data when present (and allowed), else the seeded
synthetic network. Township and village points are OSM place nodes matched by name where
possible, seeded synthetic points elsewhere; every point is snapped to the graph, with explicit
connectors where the graph falls short. The result says, per layer and per unit, what is real
and what is synthetic, and carries the data-quality summary of ``ruralsim geodata check``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from sim.errors import GeodataError
from sim.geodata._cachedir import not_cached_message
from sim.geodata.boundaries import county_boundary, county_seat
from sim.geodata.cache import CountyOSM, load_county
from sim.geodata.divisions import load_divisions, unit
from sim.geodata.snap import Snapped, snap_facilities
from sim.geodata.speeds import add_speeds, highway_speeds
from sim.geodata.synthetic import SyntheticCounty, Terrain, synthetic_county
from sim.rng import stream


@dataclass(frozen=True)
class CountyLayout:
    """Units, road graph and facility points of one county.

    Attributes
    ----------
    code, name
        The county.
    graph
        Road graph with ``speed_kph`` and ``travel_time`` on every edge (connectors included).
    points
        One row per facility, in facility order (centre, townships, villages): code, level,
        parent, lon, lat, node, source ("real" | "osm" | "synthetic"), snap_m, connector,
        connector_reason.
    township_codes, township_names, village_codes, village_names, village_township
        The units, villages grouped by township in code order.
    sources
        Layer -> provenance ("real: ...", "synthetic: ..." or "mixed: ...").
    quality
        Data-quality summary.
    """

    code: str
    name: str
    graph: nx.MultiDiGraph
    points: pd.DataFrame
    township_codes: np.ndarray
    township_names: np.ndarray
    village_codes: np.ndarray
    village_names: np.ndarray
    village_township: np.ndarray
    sources: dict[str, str]
    quality: dict[str, Any]


def lay_out_county(
    code: str,
    *,
    seed: int,
    terrain: Terrain = "plains",
    speeds_kmh: Mapping[str, float] | None = None,
    road_network: str = "auto",
    cache_dir: Path | None = None,
    snap_max_m: float = 500.0,
    connector_speed_kmh: float = 15.0,
    connector_circuity: float = 1.3,
    divisions: pd.DataFrame | None = None,
) -> CountyLayout:
    """Lay out a county from its best available sources.

    Parameters
    ----------
    code
        County code.
    seed
        Seed of the synthetic layers (stream ``network:<code>``).
    terrain
        plains | hills | mountain (road speed factor).
    speeds_kmh
        Per highway class overrides of the default speeds.
    road_network
        "auto" (cached OSM if present, else synthetic), "osm" (require OSM) or "synthetic".
    cache_dir
        OSM cache folder (default: :func:`sim.geodata.cache.default_cache_dir`).
    snap_max_m, connector_speed_kmh, connector_circuity
        Snapping threshold and connector parameters.
    divisions
        The division table, if already loaded.

    Raises
    ------
    GeodataError
        If ``road_network`` is "osm" and no OSM data is cached for the county.
    """
    name = unit(code).name
    towns, vills, v_town = _units(code, divisions)
    t_codes = towns["code"].to_numpy(dtype=object)
    v_codes = vills["code"].to_numpy(dtype=object)
    speeds = highway_speeds(terrain, speeds_kmh)

    seat = county_seat(code)
    layout = synthetic_county(
        county_boundary(code),
        (seat.lon, seat.lat),
        list(t_codes),
        {t: list(v_codes[v_town == i]) for i, t in enumerate(t_codes)},
        rng=stream(seed, f"network:{code}"),
        terrain=terrain,
    )
    fac_codes = np.concatenate([["seat"], t_codes, v_codes]).astype(object)
    osm = None if road_network == "synthetic" else load_county(code, cache_dir)
    if osm is None and road_network == "osm":
        raise GeodataError(not_cached_message(code, name))
    if osm is None:
        points, snapped = _synthetic_points(layout, fac_codes, speeds)
        point_source = np.full(len(points), "synthetic", dtype=object)
        match_rates: dict[str, float] | None = None
        source_graph = layout.graph
    else:
        points, point_source, match_rates = _real_points(osm, code, layout.points, fac_codes)
        snapped = snap_facilities(
            add_speeds(osm.graph.copy(), speeds),
            points[["lon", "lat"]].to_numpy(),
            max_m=snap_max_m,
            connector_speed_kmh=connector_speed_kmh,
            circuity=connector_circuity,
        )
        source_graph = osm.graph
    point_source[0] = "real" if seat.source.startswith("geonames:") else "derived"
    points = points[["code", "level", "parent", "lon", "lat"]].assign(
        node=snapped.nodes,
        source=point_source,
        snap_m=snapped.table["snap_m"].to_numpy(),
        connector=snapped.table["connector"].to_numpy(),
        connector_reason=snapped.table["reason"].to_numpy(),
    )
    return CountyLayout(
        code=code,
        name=name,
        graph=snapped.graph,
        points=points,
        township_codes=t_codes,
        township_names=towns["name"].to_numpy(dtype=object),
        village_codes=v_codes,
        village_names=vills["name"].to_numpy(dtype=object),
        village_township=v_town,
        sources=_sources(seed, seat.source, osm, point_source, len(t_codes)),
        quality=_quality(source_graph, points, match_rates),
    )


def _units(
    code: str, divisions: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The county's townships and villages (villages grouped by township, in division
    order) and each village's township index."""
    div = load_divisions() if divisions is None else divisions
    towns = div[(div["level"] == "township") & (div["parent"] == code)]
    t_codes = towns["code"].to_numpy(dtype=object)
    vills = div[(div["level"] == "village") & div["parent"].isin(t_codes)]
    town_of = pd.Categorical(vills["parent"], categories=t_codes).codes
    vills = vills.iloc[np.argsort(town_of, kind="stable")]
    v_town = pd.Categorical(vills["parent"], categories=t_codes).codes.astype(np.int64)
    return towns, vills, v_town


def _synthetic_points(
    layout: SyntheticCounty, fac_codes: np.ndarray, speeds: Mapping[str, float]
) -> tuple[pd.DataFrame, Snapped]:
    """The synthetic layout's points in facility order, on its own road nodes."""
    points = layout.points.set_index("code").loc[fac_codes].reset_index()
    graph = add_speeds(layout.graph, speeds)  # the layout is ours: no copy needed
    snapped = Snapped(
        graph=graph,
        nodes=points["node"].to_numpy(dtype=np.int64),
        table=pd.DataFrame({"snap_m": np.zeros(len(points)), "connector": False, "reason": ""}),
    )
    return points, snapped


def _real_points(
    osm: CountyOSM, code: str, synthetic: pd.DataFrame, fac_codes: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, dict[str, float]]:
    """Facility points from OSM place nodes where matched, synthetic ones elsewhere."""
    from sim.geodata.places import match_places

    pts = synthetic.set_index("code").loc[fac_codes, ["level", "parent", "lon", "lat"]].copy()
    source = np.full(len(pts), "synthetic", dtype=object)
    match = match_places(osm.places, code)
    found = match.points.dropna(subset=["lon", "lat"]).set_index("code")
    hit = pts.index.isin(found.index)
    pts.loc[hit, ["lon", "lat"]] = found.loc[pts.index[hit], ["lon", "lat"]].to_numpy()
    source[hit] = "osm"
    return pts.reset_index(), source, dict(match.rates)


def _sources(
    seed: int, seat_source: str, osm: CountyOSM | None, point_source: np.ndarray, n_towns: int
) -> dict[str, str]:
    seat = (
        f"real: GeoNames {seat_source.split(':', 1)[1]}"
        if seat_source.startswith("geonames:")
        else "derived: representative point of the county polygon"
    )
    if osm is None:
        roads = f"synthetic: seeded rural road network (seed {seed})"
    else:
        how = "Overpass" if osm.meta.get("source") == "overpass" else "an OSM extract"
        when = str(osm.meta.get("fetched") or osm.meta.get("osm_timestamp") or "")[:10]
        roads = f"real: OpenStreetMap via {how}" + (f", {when}" if when else "")

    def layer(src: np.ndarray, what: str) -> str:
        n_real = int(np.sum(src == "osm"))
        if n_real == 0:
            return f"synthetic: seeded {what} inside the county polygon"
        if n_real == len(src):
            return f"real: OpenStreetMap place nodes ({n_real})"
        return f"mixed: {n_real} of {len(src)} from OpenStreetMap place nodes, rest synthetic"

    return {
        "divisions": "real: NBS 2023 statistical division codes",
        "county_boundary": "real: DataV.GeoAtlas county polygon (WGS-84)",
        "county_seat": seat,
        "roads": roads,
        "township_points": layer(point_source[1 : 1 + n_towns], "points"),
        "village_points": layer(point_source[1 + n_towns :], "points"),
    }


def _quality(
    source_graph: nx.MultiDiGraph, points: pd.DataFrame, rates: dict[str, float] | None
) -> dict[str, Any]:
    """Data-quality summary of a county's roads and points (``ruralsim geodata check``)."""
    g = source_graph
    comps = [len(c) for c in nx.strongly_connected_components(g)]
    snap = points["snap_m"].to_numpy()
    reasons = points["connector_reason"].to_numpy()
    return {
        "roads": "synthetic" if g.graph.get("synthetic") else "osm",
        "graph_nodes": g.number_of_nodes(),
        "graph_edges": g.number_of_edges(),
        # Two-way roads are two directed edges, one-way roads one.
        "graph_km": round(
            sum(d["length"] * (1.0 if d.get("oneway") else 0.5) for *_, d in g.edges(data=True))
            / 1000.0,
            1,
        ),
        "components": len(comps),
        "largest_component_share": round(max(comps) / max(sum(comps), 1), 4),
        "place_match_rate": rates,
        "snap_m": {
            q: round(float(np.quantile(snap, p)), 1)
            for q, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
        "connectors": {
            "far": int(np.sum(reasons == "far")),
            "disconnected": int(np.sum(reasons == "disconnected")),
        },
    }
