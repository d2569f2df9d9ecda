"""Build a runnable :class:`~sim.world.World` from a validated scenario.

For each county of the scenario's region the build resolves the administrative units, takes the
road graph from the best available source (cached OpenStreetMap data, else the seeded synthetic
network), places the facilities (OSM place nodes matched by name, else seeded synthetic points),
snaps them to the graph with explicit connectors where the graph falls short, computes
travel-time matrices between facilities, and plans the vehicles' routes. Everything a run needs
is decided here, so the engine only executes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim._schema_types import Terrain
from sim.budget import check_run_size
from sim.errors import GeodataError
from sim.geodata._cachedir import plan_cache_dir
from sim.geodata.divisions import load_divisions
from sim.geodata.layout import CountyLayout, lay_out_county
from sim.network import facility_matrices, graph_to_csr
from sim.notes import region_notes
from sim.plan import (
    lane_visit_days,
    local_xy,
    nn_order,
    plan_loops,
    plan_shuttles,
)
from sim.region import check_references, reference_error, region_villages
from sim.scenario import BusLine, Scenario
from sim.world import POINT_KINDS, County, Vehicle, World


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
        If the scenario names units outside its region, runs past year 9999, would not fit in
        memory (:func:`sim.budget.check_run_size`), or asks for OpenStreetMap roads
        (``region.road_network: osm``) that are not cached.
    """
    codes = check_region(scenario)
    div = load_divisions()
    counties = []
    for code in codes:
        counties.append(build_county(scenario, code, divisions=div, cache_dir=cache_dir))
        if progress is not None:
            progress(1)
    return World(scenario=scenario, counties=tuple(counties), notes=tuple(region_notes(scenario)))


def check_region(scenario: Scenario) -> list[str]:
    """The county codes of a scenario's region, once its references and size are checked.

    Raises
    ------
    ScenarioError
        As :func:`build`: codes outside the region, a calendar past 9999, a run that
        cannot fit in memory.
    """
    codes = check_references(scenario)
    check_run_size(scenario, region_villages(codes))
    return codes


_POPULATION_SOURCE = (
    "assumed: scenario village_population unless listed in demand.inbound.populations"
)


def build_county(
    scenario: Scenario,
    code: str,
    *,
    divisions: pd.DataFrame | None = None,
    cache_dir: Path | None = None,
) -> County:
    """Build one county of a scenario (see :func:`build`)."""
    terrain = scenario.region.terrain_by_county.get(code, scenario.region.terrain)
    lay = _lay_out(scenario, code, terrain, divisions, cache_dir)
    points = lay.points
    t_codes, v_codes, v_town = lay.township_codes, lay.village_codes, lay.village_township
    lines = [ln for ln in scenario.buses if ln.stops[0] in set(v_codes)]
    time_min, km = _matrices(scenario, lay.graph, points["node"].to_numpy(), lines)
    xy = local_xy(points[["lon", "lat"]].to_numpy())
    population, rate = _demand_rates(scenario, v_codes)
    has_point = _has_point(scenario, v_codes)
    buses, on_bus, replaced = _bus_lines(code, lines, v_codes, len(t_codes), has_point, time_min)
    visits, wanted = lane_visits(scenario, v_codes, rate)
    days = lane_visit_days(scenario, visits, xy, v_town, len(t_codes), rate)
    warnings: list[str] = []
    shuttles = plan_shuttles(scenario, code, xy, rate, v_town, len(t_codes), time_min, km, warnings)
    co = scenario.co_delivery.townships
    shared = np.array([co == "all" or (co != "none" and t in co) for t in t_codes], dtype=bool)
    warnings += _skip_warnings(scenario, has_point & ~shared[v_town], visits, wanted)
    village_vehicles, served = plan_loops(
        scenario,
        xy,
        rate,
        visits,
        days,
        wanted & has_point & ~replaced,
        v_town,
        t_codes,
        v_codes,
        time_min,
        km,
        warnings,
        _lanes(scenario, shared),
        plan_cache=plan_cache_dir(cache_dir),
    )
    return County(
        scenario=scenario,
        terrain=terrain,
        county_code=code,
        county_name=lay.name,
        sources={**lay.sources, "population": _POPULATION_SOURCE},
        quality=lay.quality,
        graph=lay.graph,
        points=points,
        codes=points["code"].to_numpy(dtype=object),
        names=np.concatenate([[lay.name], lay.township_names, lay.village_names]),
        levels=np.array(
            ["county"] + ["township"] * len(t_codes) + ["village"] * len(v_codes), dtype=object
        ),
        township_codes=t_codes,
        township_names=lay.township_names,
        village_codes=v_codes,
        village_names=lay.village_names,
        village_township=v_town,
        village_has_point=has_point,
        village_kind=_point_kinds(scenario, v_codes),
        village_township_km=_township_km(km, v_town, len(t_codes)),
        village_visit_days=days & served[:, :, None],
        village_served=served.any(axis=0) | (on_bus >= 0),
        village_rate=rate,
        village_population=population,
        time_min=time_min,
        km=km,
        shuttles=tuple(shuttles),
        village_vehicles=tuple(village_vehicles),
        buses=tuple(buses),
        village_bus=on_bus,
        township_shared=shared,
        warnings=tuple(
            _named(w, t_codes, lay.township_names, v_codes, lay.village_names) for w in warnings
        ),
    )


def _lay_out(
    scenario: Scenario,
    code: str,
    terrain: Terrain,
    divisions: pd.DataFrame | None,
    cache_dir: Path | None,
) -> CountyLayout:
    """The county's places and roads (:func:`lay_out_county`), a geodata error reported
    against ``region.road_network``."""
    r = scenario.region
    try:
        return lay_out_county(
            code,
            seed=scenario.seed,
            terrain=terrain,
            speeds_kmh=r.speeds_kmh,
            road_network=r.road_network,
            cache_dir=cache_dir,
            snap_max_m=r.snap_max_m,
            connector_speed_kmh=r.connector_speed_kmh,
            connector_circuity=r.connector_circuity,
            divisions=divisions,
        )
    except GeodataError as exc:
        raise reference_error(("region", "road_network"), str(exc)) from None


def _point_kinds(scenario: Scenario, v_codes: np.ndarray) -> np.ndarray:
    """Each village point's kind (index in ``POINT_KINDS``)."""
    vp = scenario.facilities.village_points
    return np.array([POINT_KINDS.index(vp.kinds.get(c, vp.kind)) for c in v_codes], dtype=np.int8)


def _township_km(km: dict[str, np.ndarray], v_town: np.ndarray, n_t: int) -> np.ndarray:
    """Road km between each village and its township point, the shorter way, by any
    vehicle's matrix."""
    km_any = np.minimum.reduce(list(km.values()))
    vf = np.arange(len(v_town)) + 1 + n_t
    return np.minimum(km_any[vf, v_town + 1], km_any[v_town + 1, vf])


def _matrices(
    scenario: Scenario, graph: Any, nodes: np.ndarray, lines: list[BusLine]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Minutes and km between the facilities for each vehicle type and bus line (keyed
    ``bus:<name>``), computed once per distinct speed."""
    time_min: dict[str, np.ndarray] = {}
    km: dict[str, np.ndarray] = {}
    by_speed: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    roads = graph_to_csr(graph)  # once for every speed
    speeds = [(name, vt.max_speed_kmh) for name, vt in scenario.fleet.vehicle_types.items()]
    speeds += [(f"bus:{ln.name}", ln.max_speed_kmh) for ln in lines]
    for name, speed in speeds:
        if speed not in by_speed:
            by_speed[speed] = facility_matrices(roads, nodes, max_speed_kmh=speed)
        time_min[name], km[name] = by_speed[speed]
    return time_min, km


def _bus_lines(
    code: str,
    lines: list[BusLine],
    v_codes: np.ndarray,
    n_t: int,
    has_point: np.ndarray,
    time_min: dict[str, np.ndarray],
) -> tuple[list[Vehicle], np.ndarray, np.ndarray]:
    """The county's bus lines as vehicles; each village's line (-1: none; a village on
    several lines rides the first that lists it); villages whose line carries all their
    parcels (they lose their van loops)."""
    on_bus = np.full(len(v_codes), -1, dtype=np.int64)
    index_of = {c: i for i, c in enumerate(v_codes)}
    buses = []
    for i, line in enumerate(lines):
        stops = np.array([index_of[c] for c in line.stops], dtype=np.int64)
        stops = stops[(on_bus[stops] < 0) & has_point[stops]]
        on_bus[stops] = i
        facilities = stops + 1 + n_t
        if line.reorder and len(facilities):
            facilities = nn_order(list(facilities), 0, time_min[f"bus:{line.name}"])
        buses.append(Vehicle(f"{code}-bus-{line.name}", f"bus:{line.name}", 0, (facilities,)))
    replaced = (on_bus >= 0) & np.array(
        [lines[i].share_of_parcels >= 1.0 if i >= 0 else False for i in on_bus], dtype=bool
    )
    return buses, on_bus, replaced


def _lanes(scenario: Scenario, shared: np.ndarray) -> list[list[tuple[int, float, str]]]:
    """Per township, its lanes of village vehicles: (lane, share of parcels, id prefix); one
    shared lane in a co-delivery township, else one per carrier."""
    n_c = len(scenario.carriers)
    return [
        [(n_c, 1.0, "")]
        if shared[t]
        else [(k, c.share, f"{c.name}-") for k, c in enumerate(scenario.carriers)]
        for t in range(len(shared))
    ]


def _skip_warnings(
    scenario: Scenario, own_lane: np.ndarray, visits: np.ndarray, wanted: np.ndarray
) -> list[str]:
    """A warning per carrier whose vans skip villages (with a point, in a township without
    co-delivery) where it expects too few parcels a visit."""
    warnings = []
    for k, carrier in enumerate(scenario.carriers):
        skipped = own_lane & (visits[k] > 0) & ~wanted[k]
        if skipped.any():
            warnings.append(
                f"carrier {carrier.name}: its vans skip {skipped.sum()} villages where it expects "
                f"fewer than {carrier.min_parcels_per_visit:g} parcels a visit "
                "(carriers[].min_parcels_per_visit); its parcels for them wait at the township"
            )
    return warnings


#: A township (9-digit) or village (12-digit) code standing alone in a message (not part of a
#: vehicle id such as ``140821100-van-1``).
_CODE = re.compile(r"(?<![\w-])(\d{12}|\d{9})(?![\w-])")


def _named(message: str, t_codes, t_names, v_codes, v_names) -> str:
    """The message with the county's township and village codes named: ``猗氏镇 140821100``."""
    names = dict(zip(t_codes, t_names, strict=True)) | dict(zip(v_codes, v_names, strict=True))

    def name(m: re.Match[str]) -> str:
        code = m.group(1)
        return f"{names[code]} {code}" if code in names else code

    return _CODE.sub(name, message)


def lane_visits(
    scenario: Scenario, v_codes: np.ndarray, rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Visits per week of each village by each lane, and whether the lane means to visit it.

    Lanes are the carriers (their own vans, in townships without co-delivery), then the shared
    co-delivery lane. The shared lane, and carriers without a ``visits_per_week`` of their own,
    follow the schedules (``village_visits_per_week``, else ``visits_per_week``). A carrier's
    own frequency replaces ``schedules.visits_per_week`` and is capped by a village's listed
    visits. A carrier skips a village where it expects fewer than its
    ``min_parcels_per_visit`` parcels per visit.

    Parameters
    ----------
    scenario
        The scenario.
    v_codes
        Village codes of the county.
    rate
        Mean inbound parcels per day of each village (all carriers).

    Returns
    -------
    visits : numpy.ndarray
        Shape (C + 1, V): visits per week of village ``v`` by lane ``l``.
    wanted : numpy.ndarray
        Shape (C + 1, V): the lane visits the village at all (visits, and enough parcels).
    """
    sched = scenario.schedules
    listed = sched.village_visits_per_week
    default = np.array([listed.get(c, sched.visits_per_week) for c in v_codes], dtype=np.int64)
    cap = np.array([listed.get(c, 7) for c in v_codes], dtype=np.int64)
    visits, wanted = [], []
    for carrier in scenario.carriers:
        n = default if carrier.visits_per_week is None else np.minimum(carrier.visits_per_week, cap)
        per_visit = carrier.share * rate * 7 / np.maximum(n, 1)
        visits.append(n)
        wanted.append((n > 0) & ~(per_visit < carrier.min_parcels_per_visit))
    visits.append(default)
    wanted.append(default > 0)
    return np.stack(visits), np.stack(wanted)


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
