"""Route planning at build time: township shuttles and village loops.

Shuttles from the county centre each serve a contiguous sweep of townships; village loops from
each township point are cut from a sweep of its villages by capacity and duration, checked on
every weekday (or come from a vehicle-routing solver, ``planning.method: optimise``), and are
shared out among the township's vehicles. Loops are weekly (driven every weekday) or planned
per weekday (``planning.routes: daily``, see :mod:`sim._plan_lanes`); the engine only drives
the planned routes.
"""

from __future__ import annotations

import itertools

import numpy as np

from sim._plan_lanes import day_minutes, lane_routes
from sim._plan_loads import departure_shares, report_departure_loads
from sim._plan_search import improve_order, nn_order, tour_minutes
from sim._plan_shuttles import shuttle_groups
from sim.errors import BuildError
from sim.scenario import Scenario, clock_minutes
from sim.world import Vehicle

#: Fill factor: a loop is planned for at most this share of a vehicle's capacity.
_LOOP_FILL = 0.9


def visit_days(visits: np.ndarray) -> np.ndarray:
    """Weekdays of each village's visits (columns, 0 = Monday).

    Visits are spread evenly over the week and staggered across villages, so that a loop's
    daily load stays even.
    """
    days = np.zeros((len(visits), 7), dtype=bool)
    for v, n in enumerate(visits):
        if n > 0:
            offset = v % 7 if n < 7 else 0
            days[v, (np.floor(np.arange(n) * 7 / n).astype(int) + offset) % 7] = True
    return days


def lane_visit_days(scenario, visits: np.ndarray, xy, v_town, n_town: int, rate) -> np.ndarray:
    """Weekdays of each lane's visits, shape (lanes, V, 7), by ``planning.visit_days``.

    ``staggered``: :func:`visit_days`; ``clustered``: :func:`clustered_visit_days`.
    """
    if scenario.planning.visit_days == "clustered":
        return np.stack([clustered_visit_days(n, xy, v_town, n_town, rate) for n in visits])
    return np.stack([visit_days(n) for n in visits])


def clustered_visit_days(
    visits: np.ndarray, xy: np.ndarray, v_town: np.ndarray, n_town: int, rate: np.ndarray
) -> np.ndarray:
    """Weekdays of each village's visits, neighbouring villages on the same weekdays.

    Each village keeps the even pattern of :func:`visit_days`; only the weekday it starts on
    differs. A township's villages with the same visits (1 to 6 a week) are swept by angle
    around its point (facility ``t + 1``; ``xy`` is indexed by facility) and cut into 7
    sectors of equal load; each sector starts its pattern on its own weekday, chosen so that
    the sectors due on a day lie next to each other (:func:`_sector_starts`). Every weekday
    then serves a few sectors, about the same load each day. Villages visited every day or
    never are as in :func:`visit_days`.
    """
    days = visit_days(visits)
    starts: dict[int, tuple[int, ...]] = {}
    for t in range(n_town):
        for n in range(1, 7):
            members = np.flatnonzero((v_town == t) & (visits == n))
            if len(members) == 0:
                continue
            if n not in starts:
                starts[n] = _sector_starts(n)
            order = _sweep(xy, t + 1, members + 1 + n_town) - 1 - n_town
            w = np.maximum(rate[order], 1e-9)
            sector = np.minimum(((np.cumsum(w) - w / 2) / w.sum() * 7).astype(int), 6)
            pattern = np.floor(np.arange(n) * 7 / n).astype(int)
            days[order] = False
            for v, k in zip(order, sector):
                days[v, (pattern + starts[n][k]) % 7] = True
    return days


def _sector_starts(n: int) -> tuple[int, ...]:
    """The weekday each of 7 sectors starts an ``n``-visit pattern on, sector 0 on Monday.

    Of every assignment of the 7 weekdays to the sectors, the first with the least span (in
    sectors around the township) of the sectors due, summed over the week.
    """
    pattern = set(np.floor(np.arange(n) * 7 / n).astype(int).tolist())
    best: tuple[int, tuple[int, ...]] | None = None
    for rest in itertools.permutations(range(1, 7)):
        start = (0, *rest)
        span = sum(
            _circular_span([k for k in range(7) if (d - start[k]) % 7 in pattern]) for d in range(7)
        )
        if best is None or span < best[0]:
            best = (span, start)
    assert best is not None
    return best[1]


def _circular_span(sectors: list[int]) -> int:
    """Sectors (of 7, around a circle) spanned by the shortest arc holding all of ``sectors``."""
    if len(sectors) < 2:
        return 0
    s = sorted(sectors)
    gaps = [(s[(i + 1) % len(s)] - s[i]) % 7 for i in range(len(s))]
    return 7 - max(gaps)


def local_xy(lonlat: np.ndarray) -> np.ndarray:
    lat0 = np.radians(lonlat[:, 1].mean())
    return np.column_stack([lonlat[:, 0] * np.cos(lat0), lonlat[:, 1]]) * 111.32


def _expand(counts: dict[str, int]) -> list[str]:
    return [name for name in sorted(counts) for _ in range(counts[name])]


def _sweep(xy: np.ndarray, base: int, members: np.ndarray) -> np.ndarray:
    d = xy[members] - xy[base]
    return members[np.lexsort((members, np.arctan2(d[:, 1], d[:, 0])))]


def plan_shuttles(
    scenario, county, xy, rate, v_town, n_town, time_min, km, warnings
) -> list[Vehicle]:
    """Split the townships among the shuttles: contiguous sweeps with the least km.

    The sweep around the county centre is cut into at most one group per shuttle. First the
    cut that minimises the longest tour is found, each group's daily volume within the
    shuttle's capacity over the day's departures (volume is relaxed when no cut can meet it);
    then, with that longest tour as a cap and as many groups, the groups with the least km
    in all, counting the parcels each departure is expected to leave behind
    (:func:`sim._plan_shuttles.shuttle_groups`). Each tour is then shortened by 2-opt and
    or-opt moves that keep it within the cap. A departure expected to carry more than the
    shuttle holds gets a build warning (:func:`sim._plan_loads.report_departure_loads`).
    """
    vtypes = _expand(scenario.fleet.county_centre)
    if len(vtypes) > n_town:
        warnings.append(
            f"fleet.county_centre: {len(vtypes)} shuttles for {n_town} townships; "
            f"{len(vtypes) - n_town} stay idle"
        )
    vtypes = vtypes[:n_town]
    n = len(vtypes)
    load = np.bincount(v_town, weights=rate, minlength=n_town)
    stop_min = scenario.facilities.townships.service_time_min
    deps = len(scenario.schedules.shuttle_departures)
    slow = min(vtypes, key=lambda v: scenario.fleet.vehicle_types[v].max_speed_kmh)
    ranges = [scenario.fleet.vehicle_types[v].range_km for v in vtypes]
    max_km = min((r for r in ranges if r is not None), default=np.inf) / deps
    per_dep = min(scenario.fleet.vehicle_types[v].capacity_parcels for v in vtypes)
    shares = departure_shares(scenario, float(load.sum()), _shuttle_clock(scenario, slow))
    best, longest = shuttle_groups(
        _sweep(xy, 0, np.arange(1, n_town + 1)),
        n,
        load,
        (time_min[slow], km[slow]),
        shares,
        stop_min=stop_min,
        per_dep=per_dep,
        max_km=max_km,
    )
    out = []
    overtime: list[tuple[str, float]] = []
    counter: dict[str, int] = {}
    for vtype, group in zip(vtypes, best or []):
        counter[vtype] = counter.get(vtype, 0) + 1
        order = improve_order(
            nn_order(group, 0, time_min[vtype]),
            0,
            time_min[vtype],
            km[vtype],
            np.ones((len(km[vtype]), 1), dtype=bool),
            stop_min=stop_min,
            max_min=longest,
            max_km=max_km,
        )
        minutes = tour_minutes(order, 0, time_min[vtype], stop_min)
        vid = f"{county}-centre-{vtype}-{counter[vtype]}"
        route_km = tour_minutes(order, 0, km[vtype], 0.0) * len(
            scenario.schedules.shuttle_departures
        )
        limit = scenario.fleet.vehicle_types[vtype].range_km
        if limit is not None and route_km > limit:
            raise BuildError(
                f"fleet: shuttle {vid} drives {route_km:.0f} km a day to its townships, "
                f"beyond the {limit:g} km range of vehicle type {vtype!r} "
                f"(fleet.vehicle_types.{vtype}.range_km); add shuttles to "
                "fleet.county_centre or use a vehicle type with more range"
            )
        if minutes > scenario.schedules.max_loop_h * 60:
            warnings.append(
                f"shuttle {vid}: its route takes {minutes / 60:.1f} h, more than "
                f"schedules.max_loop_h = {scenario.schedules.max_loop_h:g}"
            )
        overtime.append((vid, _shuttle_overtime(scenario, vtype, minutes)))
        out.append(Vehicle(vid, vtype, 0, (order,)))
    _report_shuttle_overtime(overtime, warnings)
    report_departure_loads(scenario, county, out, load, warnings)
    return out


def _shuttle_clock(scenario, vtype: str) -> list[float]:
    """Minutes after midnight when shuttles of a type leave (no earlier than their shift)."""
    start = clock_minutes(scenario.fleet.vehicle_types[vtype].shift.start)
    return sorted(max(clock_minutes(t), start) for t in scenario.schedules.shuttle_departures)


def _shuttle_overtime(scenario, vtype: str, minutes: float) -> float:
    """Minutes a day a shuttle's departures keep its driver beyond the shift or duty hours."""
    vt = scenario.fleet.vehicle_types[vtype]
    deps = np.array(sorted(clock_minutes(t) for t in scenario.schedules.shuttle_departures))
    shift = (clock_minutes(vt.shift.start), clock_minutes(vt.shift.end))
    return float(van_day_excess(np.full((1, 7), minutes), deps, shift, vt.max_duty_h * 60)[0, 0])


def _report_shuttle_overtime(overtime: list[tuple[str, float]], warnings) -> None:
    late = sorted((m, vid) for vid, m in overtime if m > 0)
    if late:
        m, vid = late[-1]
        warnings.append(
            f"fleet.county_centre: {len(late)} of {len(overtime)} shuttles keep their drivers "
            f"{sum(x for x, _ in late) / 60:.1f} h a day in all beyond their shift or duty hours "
            f"(fleet.vehicle_types.*.shift, max_duty_h; worst {vid}, {m / 60:.1f} h); shuttles "
            "are driven anyway and the excess counts as overtime_h; add shuttles"
        )


def plan_loops(
    scenario,
    xy,
    rate,
    visits,
    visit_days,
    eligible,
    v_town,
    t_codes,
    v_codes,
    time_min,
    km,
    warnings,
    lanes,
    plan_cache=None,
) -> tuple[list[Vehicle], np.ndarray]:
    """Plan village loops per township: sweep, cut by capacity, duration and range, balance.

    ``lanes[t]`` lists, for township ``t``, who runs its loops: ``(lane, share, tag)`` per
    carrier with its own vehicles (its share of the demand, its name in the vehicle ids), or
    one shared lane for co-delivery. Each lane gets the township's fleet and plans its own
    loops over the villages it visits (``eligible[lane]``), on its own weekdays
    (``visit_days[lane]``, shape (lanes, V, 7)), with its own load per visit (its share of
    the rate over its ``visits[lane]`` per week). With ``planning.routes: daily`` a lane's
    loops are planned for each weekday over its villages due that day, and each vehicle's
    routes carry the weekdays they run on (:attr:`sim.world.Vehicle.route_days`).

    A loop's load, duration and km are checked on each weekday, over the villages due that
    day; loops go to the township's vehicles longest first, so that each vehicle's day fits
    its driver's shift and duty hours where the fleet allows (see :func:`_assign_loops`)
    and its range covers the day's km (every departure of the day, on one overnight charge).
    Townships whose vehicles cannot work their loops within shifts get one warning with the
    missing van-hours, or a :class:`BuildError` with ``strict: true``.

    Raises
    ------
    BuildError
        If a village is out of range of its township's vehicles, or their range cannot cover
        the loops of a day.
    """
    n_town = len(t_codes)
    # Every daily run of the loops uses range: deliveries and outbound collection runs.
    n_dep = len(scenario.schedules.village_departures) + len(
        scenario.demand.outbound.collection_departures
    )
    departures = _loop_departures(scenario)
    shortfalls: list[tuple[str, int, float]] = []
    eligible = eligible & (visits > 0)
    served = np.zeros(eligible.shape, dtype=bool)
    lane_load, lane_days = _by_facility(rate, visits, visit_days, n_town)
    vehicles: list[Vehicle] = []
    for t in range(n_town):
        code = t_codes[t]
        vtypes = _expand(scenario.fleet.townships.get(code, scenario.fleet.township_default))
        active = [lane for lane, _, _ in lanes[t]]
        members = np.flatnonzero((v_town == t) & eligible[active].any(axis=0))
        if len(members) == 0:
            continue
        if not vtypes:
            warnings.append(
                f"township {code}: no village vehicle; its {len(members)} villages are "
                "served at the township point"
            )
            continue
        base = t + 1
        facs = _sweep(xy, base, members + 1 + n_town)
        limits, ranges = _limits(scenario, vtypes, n_dep)
        tmat, kmat = time_min[vtypes[0]], km[vtypes[0]]
        _check_reach(scenario, code, facs, base, kmat, vtypes, ranges, n_dep, v_codes, n_town)
        for lane, share, tag in lanes[t]:
            mine = facs[eligible[lane, facs - 1 - n_town]]
            if len(mine) == 0:
                continue
            problem = (mine, base, tmat, kmat, lane_load[lane] * share, lane_days[lane], limits)
            served[lane, mine - 1 - n_town] = True
            fleet = (vtypes, ranges, n_dep, departures)
            vehicles += _lane_vehicles(
                scenario, code, problem, fleet, (lane, tag), warnings, shortfalls, plan_cache
            )
    _report_shortfalls(scenario, shortfalls, warnings)
    return vehicles, served


def _by_facility(
    rate: np.ndarray, visits: np.ndarray, visit_days: np.ndarray, n_town: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per lane, facility and weekday: the parcels a visit brings and whether it is a visit
    day (zero and False for the centre and townships), so that loops (facility indices)
    index them directly."""
    per_visit = np.where(visits > 0, rate * 7 / np.maximum(visits, 1), 0.0)
    pad = np.zeros((len(visits), n_town + 1, 7))
    lane_load = np.concatenate([pad, per_visit[:, :, None] * visit_days], axis=1)
    lane_days = np.concatenate([pad.astype(bool), visit_days], axis=1)
    return lane_load, lane_days


def _limits(
    scenario: Scenario, vtypes: list[str], n_dep: int
) -> tuple[tuple[float, float, float, float], np.ndarray]:
    """A township's loop limits (load at the planner's fill of its smallest vehicle, loop
    minutes, km per run on one charge, minutes per stop) and its vehicles' ranges."""
    types = scenario.fleet.vehicle_types
    cap = min(types[v].capacity_parcels for v in vtypes) * _LOOP_FILL
    ranges = np.array([types[v].range_km or np.inf for v in vtypes])
    stop_min = scenario.facilities.village_points.service_time_min
    return (cap, scenario.schedules.max_loop_h * 60, ranges.min() / n_dep, stop_min), ranges


def _lane_vehicles(scenario, code, problem, fleet, who, warnings, shortfalls, plan_cache):
    """The vehicles of one lane of a township: its loops planned (:func:`lane_routes`),
    then given to the township's vehicles (:func:`_assign_loops`).

    ``fleet`` is (vehicle types, their ranges, runs a day, departures); ``who`` is (lane,
    id tag). A township whose vehicles cannot work the loops within their shifts adds
    (code, vehicles, missing minutes) to ``shortfalls``.
    """
    vtypes, ranges, n_dep, departures = fleet
    lane, tag = who
    _, base, tmat, kmat, load_on, days_of, limits = problem
    stop_min = limits[3]
    loops, runs = lane_routes(scenario, code, problem, warnings, plan_cache)
    minutes = np.array([day_minutes(lp, base, tmat, stop_min, days_of) for lp in loops])
    dist = np.array([day_minutes(lp, base, kmat, 0.0, days_of) for lp in loops]) * n_dep
    if runs is not None:  # loops planned per weekday run on their weekdays only
        minutes, dist = minutes * runs, dist * runs
    assigned, _, missing = _assign_loops(scenario, code, vtypes, minutes, dist, ranges, departures)
    if missing.max() > 0:
        shortfalls.append((code, len(vtypes), float(missing.max())))
    vehicles = []
    counter: dict[str, int] = {}
    for vtype, mine_idx in zip(vtypes, assigned):
        # A vehicle without a loop stays in the fleet: it and its driver are paid.
        counter[vtype] = counter.get(vtype, 0) + 1
        vid = f"{code}-{tag}{vtype}-{counter[vtype]}"
        if scenario.planning.method == "optimise":
            mine_idx = _parcels_first(mine_idx, loops, minutes, load_on)
        routes = tuple(loops[i] for i in mine_idx)
        days = None if runs is None else tuple(runs[i].copy() for i in mine_idx)
        vehicles.append(Vehicle(vid, vtype, base, routes, lane, days))
    return vehicles


def _check_reach(scenario, code, facs, base, kmat, vtypes, ranges, n_dep, v_codes, n_town):
    """Refuse a village that no vehicle of its township can reach and return from in range."""
    per_dep_range = ranges.min() / n_dep
    for f in facs:
        round_trip = kmat[base, f] + kmat[f, base]
        if round_trip > per_dep_range:
            short = vtypes[int(np.argmin(ranges))]
            limit = scenario.fleet.vehicle_types[short].range_km
            raise BuildError(
                f"fleet: village {v_codes[f - 1 - n_town]} is {round_trip:.1f} km "
                f"there and back from township point {code}, beyond the "
                f"{limit:g} km range of vehicle type {short!r} "
                f"(fleet.vehicle_types.{short}.range_km) over {n_dep} departure(s) a "
                "day; give the township a vehicle with more range (fleet.townships) or "
                "fewer village_departures"
            )


def _loop_departures(scenario) -> np.ndarray:
    """Minutes after midnight of every daily run of the village loops (deliveries, collection)."""
    sched, out = scenario.schedules, scenario.demand.outbound
    times = list(sched.village_departures)
    if out.parcels_per_village_per_day > 0 or out.specialties:
        times += list(out.collection_departures)
    return np.array(sorted(clock_minutes(t) for t in times), dtype=float)


def van_day_excess(
    busy: np.ndarray, departures: np.ndarray, shift: tuple[float, float], max_duty_min: float
) -> np.ndarray:
    """Minutes by which vans' days overrun their shift or duty hours, per van and weekday.

    ``busy`` (vans, 7) holds the minutes of a van's loops at one departure on each weekday;
    at every departure the van drives them one after another, leaving no earlier than the
    departure and its shift start, so its day ends after the last departure's loops.
    """
    start, end = shift
    t = np.zeros_like(busy)
    for dep in departures:
        t = np.maximum(t, max(dep, start)) + np.where(busy > 0, busy, 0.0)
    t = np.where(busy > 0, t, 0.0)
    return np.maximum.reduce([t - end, busy * len(departures) - max_duty_min, np.zeros_like(busy)])


def _parcels_first(idx: list[int], loops, minutes: np.ndarray, load_on: np.ndarray) -> list[int]:
    """A van's loops in the order that gets its parcels out soonest: fewest minutes per
    parcel first (Smith's rule for the least parcel-weighted waiting of loops driven one
    after another); the van's day is as long in any order."""
    per = [minutes[i].max() / max(float(load_on[loops[i]].sum()), 1e-9) for i in idx]
    return [i for _, i in sorted(zip(per, idx, strict=True), key=lambda x: x[0])]


def _assign_loops(scenario, code, vtypes, minutes, dist, ranges, departures):
    """Give a township's loops to its vans, longest first, so each van's day fits its shift.

    ``minutes`` and ``dist`` (loops, 7) hold each loop's minutes per departure and km per day
    on each weekday (0 on a weekday it does not run). A loop goes to the van whose day then
    overruns its shift or duty hours least (not at all if possible), among those whose range
    still covers the day's km; ties go to the van whose busiest departure stays shortest.
    Loops of different weekdays share a van without adding to each other's day. Returns the
    indices of the loops per van, each van's minutes per departure and weekday, and the
    van-minutes per weekday beyond the shifts.
    """
    types = scenario.fleet.vehicle_types
    shifts = [
        (clock_minutes(types[v].shift.start), clock_minutes(types[v].shift.end)) for v in vtypes
    ]
    duty = [types[v].max_duty_h * 60.0 for v in vtypes]
    assigned: list[list[int]] = [[] for _ in vtypes]
    busy = np.zeros((len(vtypes), 7))
    busy_km = np.zeros((len(vtypes), 7))

    def excess(b: np.ndarray) -> np.ndarray:
        return np.array(
            [van_day_excess(b[k : k + 1], departures, shifts[k], duty[k])[0] for k in range(len(b))]
        )

    for i in np.argsort(minutes.max(axis=1), kind="stable")[::-1]:
        fits = ((busy_km + dist[i]) <= ranges[:, None] + 1e-9).all(axis=1)
        if not fits.any():
            day = int(np.argmax(dist.sum(axis=0)))
            raise BuildError(
                f"fleet: the village loops of township {code} need "
                f"{dist[:, day].sum():.0f} km on weekday {day} (0 = Monday), more than its "
                f"{len(vtypes)} vehicle(s) can drive on one charge "
                f"(range_km {', '.join(f'{r:g}' for r in ranges)}); add vehicles in "
                "fleet.townships or use vehicles with more range"
            )
        over = excess(busy + minutes[i]).sum(axis=1)
        span = (busy + minutes[i]).max(axis=1)
        score = np.where(fits, over * 1e6 + span, np.inf)
        k = int(np.argmin(score))
        assigned[k].append(int(i))
        busy[k] += minutes[i]
        busy_km[k] += dist[i]
    return assigned, busy, excess(busy).sum(axis=0)


def _report_shortfalls(scenario, shortfalls: list[tuple[str, int, float]], warnings) -> None:
    """One warning (or, with ``strict``, an error) for townships whose vans cannot keep shifts."""
    if not shortfalls:
        return
    worst = sorted(shortfalls, key=lambda x: -x[2])
    total_h = sum(x[2] for x in shortfalls) / 60.0
    examples = ", ".join(f"{c} ({n} vehicle(s), {m / 60:.1f} h)" for c, n, m in worst[:3])
    message = (
        f"fleet: the village loops of {len(shortfalls)} township(s) need {total_h:.1f} "
        f"van-hours a day more than their vehicles can work within their shifts and duty hours "
        f"(fleet.vehicle_types.*.shift, max_duty_h), on the worst weekday of each: {examples}; "
        "loops that do not fit are not driven and their villages wait for the next visit; add "
        "vehicles in fleet.township_default or fleet.townships"
    )
    if scenario.strict:
        raise BuildError(message + " (strict: true makes this an error)")
    warnings.append(message)
