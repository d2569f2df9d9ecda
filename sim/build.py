"""Build a runnable :class:`~sim.world.World` from a validated scenario.

For each county of the scenario's region the build resolves the administrative units, takes the
road graph from the best available source (cached OpenStreetMap data, else the seeded synthetic
network), places the facilities (OSM place nodes matched by name, else seeded synthetic points),
snaps them to the graph with explicit connectors where the graph falls short, computes
travel-time matrices between facilities, and plans the vehicles' routes. Everything a run needs
is decided here, so the engine only executes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ScenarioError
from sim.geodata import county_boundary, county_seat, load_divisions, resolve_region, unit
from sim.geodata.cache import CountyOSM, load_county
from sim.geodata.snap import Snapped, snap_facilities
from sim.geodata.speeds import add_speeds, highway_speeds
from sim.geodata.synthetic import synthetic_county
from sim.network import facility_matrices
from sim.plan import local_xy, plan_loops, plan_shuttles, visit_days
from sim.rng import stream
from sim.scenario import Scenario
from sim.world import County, World


def region_counties(scenario: Scenario) -> list[str]:
    """County codes of the scenario's region, in code order.

    Raises
    ------
    ScenarioError
        If a code is unknown, not a county, or a development zone; ``loc`` names the field.
    """
    r = scenario.region
    if r.county or r.counties:
        field = "county" if r.county else "counties"
        codes = [r.county] if r.county else list(r.counties or [])
        for i, code in enumerate(codes):
            loc = ("region", "county") if r.county else ("region", "counties", i)
            _check_county(code, loc)
        if len(set(codes)) != len(codes):
            raise _ref_error(("region", field), "a county is listed twice")
        return sorted(codes)
    loc = ("region", "prefecture" if r.prefecture else "province")
    code = str(r.prefecture or r.province)
    try:
        return resolve_region(code)
    except ValueError as exc:
        raise _ref_error(loc, str(exc)) from None


def _check_county(code: str, loc: tuple) -> None:
    try:
        county = unit(code)
    except ValueError as exc:
        raise _ref_error(loc, str(exc)) from None
    if county.level != "county":
        raise _ref_error(loc, f"{code} is a {county.level}, not a county")
    if county.kind == "zone":
        raise _ref_error(
            loc,
            f"{code} {county.name} is a development/scenic zone without a boundary of its "
            "own; choose one of the 117 counties",
        )


def check_references(scenario: Scenario) -> list[str]:
    """Check that the codes a scenario names exist in its region; return its county codes.

    Raises
    ------
    ScenarioError
        Naming the field; its ``loc`` attribute holds the field path (for line lookup).
    """
    counties = region_counties(scenario)
    div = load_divisions()
    towns = div[(div["level"] == "township") & div["parent"].isin(counties)]
    t_codes = set(towns["code"])
    v_codes = set(div.loc[(div["level"] == "village") & div["parent"].isin(t_codes), "code"])
    where = counties[0] if len(counties) == 1 else "the region"
    listed = scenario.facilities.village_points.villages
    checks: list[tuple[tuple[str, ...], list[str], set[str], str]] = [
        (("fleet", "townships"), list(scenario.fleet.townships), t_codes, "township"),
        (
            ("schedules", "village_visits_per_week"),
            list(scenario.schedules.village_visits_per_week),
            v_codes,
            "village",
        ),
        (
            ("demand", "inbound", "populations"),
            list(scenario.demand.inbound.populations),
            v_codes,
            "village",
        ),
        (
            ("region", "terrain_by_county"),
            list(scenario.region.terrain_by_county),
            set(counties),
            "county",
        ),
    ]
    if listed != "all":
        checks.append(
            (("facilities", "village_points", "villages"), list(listed), v_codes, "village")
        )
    for loc, codes, valid, level in checks:
        for i, c in enumerate(codes):
            if c not in valid:
                at = (*loc, i) if loc[-1] == "villages" else (*loc, c)
                hint = counties[0] if len(counties) == 1 else c[:6]
                raise _ref_error(
                    at,
                    f"{c} is not a {level} of {_name(where)}; see "
                    f"`ruralsim geodata show {hint}` for the valid codes",
                )
    return counties


def _name(code: str) -> str:
    return f"county {code} {unit(code).name}" if code.isdigit() else code


def _ref_error(loc: tuple, message: str) -> ScenarioError:
    err = ScenarioError(f"{'.'.join(str(x) for x in loc)}: {message}")
    err.loc = loc  # type: ignore[attr-defined]
    err.detail = message  # type: ignore[attr-defined]
    return err


def build(
    scenario: Scenario,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> World:
    """Build the world of a scenario.

    Parameters
    ----------
    scenario
        A validated scenario.
    cache_dir
        Cache of OpenStreetMap data (default: :func:`sim.geodata.cache.default_cache_dir`).
    progress
        Called with 1 after each county is built.

    Returns
    -------
    World
        The immutable model the engine runs.

    Raises
    ------
    ScenarioError
        If the scenario names units outside its region, or asks for OpenStreetMap roads
        (``region.road_network: osm``) that are not cached.
    """
    codes = check_references(scenario)
    div = load_divisions()
    counties = []
    for code in codes:
        counties.append(build_county(scenario, code, divisions=div, cache_dir=cache_dir))
        if progress is not None:
            progress(1)
    return World(scenario=scenario, counties=tuple(counties))


def build_county(
    scenario: Scenario,
    code: str,
    *,
    divisions: pd.DataFrame | None = None,
    cache_dir: Path | None = None,
) -> County:
    """Build one county of a scenario (see :func:`build`)."""
    div = load_divisions() if divisions is None else divisions
    name = unit(code).name
    towns = div[(div["level"] == "township") & (div["parent"] == code)]
    t_codes = towns["code"].to_numpy(dtype=object)
    vills = div[(div["level"] == "village") & div["parent"].isin(t_codes)]
    order = np.argsort(pd.Categorical(vills["parent"], categories=t_codes).codes, kind="stable")
    vills = vills.iloc[order]
    v_codes = vills["code"].to_numpy(dtype=object)
    v_town = pd.Categorical(vills["parent"], categories=t_codes).codes.astype(np.int64)
    terrain = scenario.region.terrain_by_county.get(code, scenario.region.terrain)
    speeds = highway_speeds(terrain, scenario.region.speeds_kmh)

    seat = county_seat(code)
    layout = synthetic_county(
        county_boundary(code),
        (seat.lon, seat.lat),
        list(t_codes),
        {t: list(v_codes[v_town == i]) for i, t in enumerate(t_codes)},
        rng=stream(scenario.seed, f"network:{code}"),
        terrain=terrain,
    )
    fac_codes = np.concatenate([["seat"], t_codes, v_codes]).astype(object)
    osm = None if scenario.region.road_network == "synthetic" else load_county(code, cache_dir)
    if osm is None and scenario.region.road_network == "osm":
        raise _ref_error(
            ("region", "road_network"),
            f"no OpenStreetMap data cached for county {code} {name}; run `ruralsim geodata "
            f"fetch {code}` (online) or `ruralsim geodata import FILE.osm.pbf --counties "
            f"{code}`, or set road_network: auto to fall back to the synthetic network",
        )
    if osm is None:
        points = layout.points.set_index("code").loc[fac_codes].reset_index()
        graph = add_speeds(layout.graph, speeds)  # the layout is ours: no copy needed
        snapped = Snapped(
            graph=graph,
            nodes=points["node"].to_numpy(dtype=np.int64),
            table=pd.DataFrame({"snap_m": np.zeros(len(points)), "connector": False, "reason": ""}),
        )
        point_source = np.full(len(points), "synthetic", dtype=object)
        match_rates: dict[str, float] | None = None
    else:
        points, point_source, match_rates = _real_points(osm, code, layout.points, fac_codes)
        r = scenario.region
        snapped = snap_facilities(
            add_speeds(osm.graph.copy(), speeds),
            points[["lon", "lat"]].to_numpy(),
            max_m=r.snap_max_m,
            connector_speed_kmh=r.connector_speed_kmh,
            circuity=r.connector_circuity,
        )
    points = points.assign(
        node=snapped.nodes,
        source=point_source,
        snap_m=snapped.table["snap_m"].to_numpy(),
        connector=snapped.table["connector"].to_numpy(),
        connector_reason=snapped.table["reason"].to_numpy(),
    )

    time_min: dict[str, np.ndarray] = {}
    km: dict[str, np.ndarray] = {}
    by_speed: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    for vname, vt in scenario.fleet.vehicle_types.items():
        if vt.max_speed_kmh not in by_speed:
            by_speed[vt.max_speed_kmh] = facility_matrices(
                snapped.graph, snapped.nodes, max_speed_kmh=vt.max_speed_kmh
            )
        time_min[vname], km[vname] = by_speed[vt.max_speed_kmh]

    xy = local_xy(points[["lon", "lat"]].to_numpy())
    population, rate = _demand_rates(scenario, v_codes)
    has_point = _has_point(scenario, v_codes)
    sched = scenario.schedules
    visits = np.array(
        [sched.village_visits_per_week.get(c, sched.visits_per_week) for c in v_codes],
        dtype=np.int64,
    )
    days = visit_days(visits)
    warnings: list[str] = []
    shuttles = plan_shuttles(scenario, xy, rate, v_town, len(t_codes), time_min, warnings)
    village_vehicles, served = plan_loops(
        scenario, xy, rate, visits, days, has_point, v_town, t_codes, time_min, warnings
    )
    return County(
        scenario=scenario,
        terrain=terrain,
        county_code=code,
        county_name=name,
        sources=_sources(scenario, seat.source, osm, point_source, len(t_codes)),
        quality=_quality(osm.graph if osm else layout.graph, snapped, points, match_rates),
        graph=snapped.graph,
        points=points,
        codes=fac_codes,
        names=np.concatenate([[name], towns["name"].to_numpy(), vills["name"].to_numpy()]),
        levels=np.array(
            ["county"] + ["township"] * len(t_codes) + ["village"] * len(v_codes), dtype=object
        ),
        township_codes=t_codes,
        township_names=towns["name"].to_numpy(dtype=object),
        village_codes=v_codes,
        village_names=vills["name"].to_numpy(dtype=object),
        village_township=v_town,
        village_has_point=has_point,
        village_visit_days=days,
        village_served=served,
        village_rate=rate,
        village_population=population,
        time_min=time_min,
        km=km,
        shuttles=tuple(shuttles),
        village_vehicles=tuple(village_vehicles),
        warnings=tuple(warnings),
    )


def _real_points(
    osm: CountyOSM, code: str, synthetic: pd.DataFrame, fac_codes: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, dict[str, float]]:
    """Facility points from OSM place nodes where matched, synthetic ones elsewhere."""
    from sim.geodata.places import match_places

    pts = synthetic.set_index("code").loc[fac_codes, ["level", "parent", "lon", "lat"]].copy()
    source = np.full(len(pts), "synthetic", dtype=object)
    source[0] = "real"  # the county seat
    match = match_places(osm.places, code)
    found = match.points.dropna(subset=["lon", "lat"]).set_index("code")
    hit = pts.index.isin(found.index)
    pts.loc[hit, ["lon", "lat"]] = found.loc[pts.index[hit], ["lon", "lat"]].to_numpy()
    source[hit] = "osm"
    return pts.reset_index(), source, dict(match.rates)


def _sources(
    scenario: Scenario, seat_source: str, osm: CountyOSM | None, point_source, n_towns: int
) -> dict[str, str]:
    seat = (
        f"real: GeoNames {seat_source.split(':', 1)[1]}"
        if seat_source.startswith("geonames:")
        else "derived: representative point of the county polygon"
    )
    if osm is None:
        roads = f"synthetic: seeded rural road network (seed {scenario.seed})"
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
        "population": (
            "assumed: scenario village_population unless listed in demand.inbound.populations"
        ),
    }


def _quality(
    source_graph, snapped: Snapped, points: pd.DataFrame, rates: dict[str, float] | None
) -> dict[str, Any]:
    """Data-quality summary of a county's roads and points (``ruralsim geodata check``)."""
    import networkx as nx

    g = source_graph
    comps = [len(c) for c in nx.strongly_connected_components(g)]
    snap = points["snap_m"].to_numpy()
    reasons = points["connector_reason"].to_numpy()
    return {
        "roads": "synthetic" if g.graph.get("synthetic") else "osm",
        "graph_nodes": g.number_of_nodes(),
        "graph_edges": g.number_of_edges(),
        "graph_km": round(sum(d["length"] for _, _, d in g.edges(data=True)) / 2000.0, 1),
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


def _demand_rates(scenario: Scenario, v_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dem = scenario.demand.inbound
    population = np.array(
        [dem.populations.get(c, dem.village_population) for c in v_codes], dtype=np.float64
    )
    if dem.mode == "flat":
        rate = np.full(len(v_codes), dem.parcels_per_village_per_day)
    else:
        rate = population * dem.parcels_per_person_per_day
    return population, rate


def _has_point(scenario: Scenario, v_codes: np.ndarray) -> np.ndarray:
    listed = scenario.facilities.village_points.villages
    if listed == "all":
        return np.ones(len(v_codes), dtype=bool)
    return np.isin(v_codes, np.array(listed, dtype=object))
