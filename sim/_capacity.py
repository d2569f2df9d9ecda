"""A capacity estimate of each tier without a road network, for ``ruralsim validate``.

From the scenario and the shipped divisions (which villages belong to which township), it
estimates the inbound parcels of the busiest day of the measurement window (the villages'
mean rate, as the build computes it, times the largest weekday and event factor) and compares
each tier's capacity with them, in plain Python (no numpy), so that ``validate`` stays fast:

- sorting: the county centre's parcels per hour times its shift hours, against a day's
  arrivals;
- shuttles: the trucks of the county centre times their capacity, against the parcels ready
  for the busiest departure (the share of a day the trunk waves and the sorter make ready for
  each departure, as the planner's fluid model in :mod:`sim._plan_loads` computes it), and
  the largest township against the largest truck (a township rides on one shuttle);
- village loops: per township (and per carrier where it runs its own vans), the vans times
  their capacity at the planner's fill factor (:data:`sim.plan._LOOP_FILL`), one loop per van
  and departure, against the parcels of the township's busiest visit day (each village's rate
  x 7 / its visits per week, on the weekdays the planner spreads its visits over). The planner
  sizes each loop for a whole visit day and drives it at every departure, so more departures
  add no capacity; a van may drive several loops one after another at a departure if its
  shift allows, so a township short here needs vans that come back to reload, which the build
  then checks against the shifts.

Shuttles within 10% of their capacity are reported as tight: the build gives each truck
whole townships, so some trucks carry more than the average. The estimate is of means: the
demand's randomness, the outbound parcels and the roads are left to the build and the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.calendar import daily_factors
from sim.geodata.divisions import child_codes, unit
from sim.scenario import Scenario, clock_minutes

#: The planner's fill factor of a village loop (:data:`sim.plan._LOOP_FILL`, not imported:
#: :mod:`sim.plan` loads numpy).
LOOP_FILL = 0.9
#: Share of the capacity of a tier above which it is reported as tight.
TIGHT = 0.9
#: Loops a van may drive one after another at a departure before the loops tier is called
#: short: two fit a driver's day where loops are short, which only the build can tell.
_RELOADS = 2
#: Examples named in one warning.
_SHOWN = 3
_DAY = 1440
#: Days of the fluid model of the county centre; the last one is read.
_DAYS = 3


@dataclass(frozen=True)
class _Finding:
    """One tier short (or tight) somewhere: where, how much is missing, and the sentence."""

    place: str
    missing: float
    text: str
    #: False where vans that drive up to :data:`_RELOADS` loops a departure would carry it:
    #: a note for the build to check against the shifts, not a warning.
    warn: bool = True


def _expand(counts: dict[str, int]) -> list[str]:
    return [name for name in sorted(counts) for _ in range(counts[name])]


def village_rates(scenario: Scenario, villages: list[str]) -> list[float]:
    """Mean inbound parcels a day of each village, as the build computes them."""
    dem = scenario.demand.inbound
    if dem.mode == "flat":
        return [float(dem.parcels_per_village_per_day)] * len(villages)
    per = dem.parcels_per_person_per_day
    return [dem.populations.get(v, dem.village_population) * per for v in villages]


def peak_factor(scenario: Scenario) -> float:
    """The largest demand factor (weekday times events) of a day of the measurement window."""
    factors = daily_factors(scenario)[scenario.warmup_days : scenario.horizon_days]
    return max(factors, default=1.0)


def ready_shares(scenario: Scenario, daily: float, departures: list[int]) -> list[float]:
    """Share of a day's parcels sorted and waiting for each departure (sorted clock minutes).

    The fluid model of :func:`sim._plan_loads.departure_shares` (trunk waves in, sorting at
    capacity within shifts, first in first out), stepped from one event to the next instead of
    minute by minute; the last of :data:`_DAYS` days is read.
    """
    if daily <= 0 or not departures:
        return [0.0] * len(departures)
    centre = scenario.facilities.county_centre
    waves = [(clock_minutes(w.time), w.share * daily) for w in centre.trunk_arrivals]
    shifts = [(clock_minutes(s.start), clock_minutes(s.end)) for s in centre.shifts]
    rate = centre.sorting_capacity_per_hour / 60.0
    marks = {t for t, _ in waves} | {t for s in shifts for t in s} | set(departures)
    times = sorted({d * _DAY + t for d in range(_DAYS) for t in marks} | {_DAYS * _DAY})
    arrivals = {d * _DAY + t: 0.0 for d in range(_DAYS) for t, _ in waves}
    for d in range(_DAYS):
        for t, parcels in waves:
            arrivals[d * _DAY + t] += parcels
    done_at: dict[int, float] = {}
    queue = done = 0.0
    for a, b in zip(times, times[1:]):
        done_at[a] = done
        queue += arrivals.get(a, 0.0)
        working = any(s <= a % _DAY < e for s, e in shifts)
        step = min(queue, rate * (b - a)) if working else 0.0
        queue -= step
        done += step
    last = (_DAYS - 1) * _DAY
    at = [done_at[last + t] for t in departures]
    before = [done_at[last - _DAY + departures[-1]], *at[:-1]]
    return [(x - y) / daily for x, y in zip(at, before)]


def _sorting(scenario: Scenario, county: str, daily: float) -> list[_Finding]:
    centre = scenario.facilities.county_centre
    hours = sum(clock_minutes(s.end) - clock_minutes(s.start) for s in centre.shifts) / 60
    cap = centre.sorting_capacity_per_hour * hours
    if daily <= cap:
        return []
    need = math.ceil(daily / hours)
    return [
        _Finding(
            county,
            daily - cap,
            f"sorting, county {_named(county)}: {centre.sorting_capacity_per_hour:,} parcels/h "
            f"x {hours:g} shift hours = {cap:,.0f} a day < {daily:,.0f} parcels arriving "
            f"(short by {daily - cap:,.0f}); raise facilities.county_centre."
            f"sorting_capacity_per_hour to {need:,} or lengthen the shifts",
        )
    ]


def _shuttles(
    scenario: Scenario, county: str, town_load: list[tuple[str, float]], peak: float
) -> list[_Finding]:
    """The county centre's trucks against the busiest departure and the largest township."""
    fleet, sched = scenario.fleet, scenario.schedules
    types = _expand(fleet.county_centre)[: len(town_load)]  # the planner leaves the rest idle
    slow = min(types, key=lambda v: fleet.vehicle_types[v].max_speed_kmh)
    start = clock_minutes(fleet.vehicle_types[slow].shift.start)
    clock = sorted(max(clock_minutes(t), start) for t in sched.shuttle_departures)
    daily = sum(load for _, load in town_load) * peak
    shares = ready_shares(scenario, daily, clock)
    worst = max(range(len(clock)), key=lambda i: shares[i])
    need = shares[worst] * daily
    caps = [fleet.vehicle_types[v].capacity_parcels for v in types]
    cap = sum(caps)
    when = f"{clock[worst] // 60:02d}:{clock[worst] % 60:02d}"
    what = (
        f"{len(types)} truck(s) x {min(caps):,}"
        + (f"-{max(caps):,}" if max(caps) != min(caps) else "")
        + f" parcels = {cap:,} per departure"
    )
    found = []
    if need > cap:
        add = math.ceil((need - cap) / max(caps))
        found.append(
            _Finding(
                county,
                need - cap,
                f"shuttles, county {_named(county)}: {what} < {need:,.0f} expected at the "
                f"{when} departure ({shares[worst]:.0%} of the day's {daily:,.0f}; short by "
                f"{need - cap:,.0f}); add {add} truck(s) to fleet.county_centre or move a "
                "departure (schedules.shuttle_departures)",
            )
        )
    elif need > TIGHT * cap:
        found.append(
            _Finding(
                county,
                0.0,
                f"shuttles, county {_named(county)}: tight: {what}, {need:,.0f} expected at "
                f"the {when} departure ({need / cap:.0%}); each truck takes whole townships, "
                "so some will carry more than the average and leave parcels behind; "
                "`validate --build` names them",
            )
        )
    code, big = max(town_load, key=lambda x: x[1])
    big_need = big * peak * shares[worst]
    if big_need > max(caps):
        found.append(
            _Finding(
                county,
                big_need - max(caps),
                f"shuttles, township {_named(code)}: {big_need:,.0f} parcels expected at the "
                f"{when} departure, more than one truck holds ({max(caps):,}); a township "
                "rides on one shuttle: use a larger truck type in fleet.county_centre",
            )
        )
    return found


def _visit_days(n: int, index: int) -> set[int]:
    """Weekdays of a village's ``n`` visits (:func:`sim.plan.visit_days`, without numpy)."""
    if n <= 0:
        return set()
    offset = index % 7 if n < 7 else 0
    return {(math.floor(k * 7 / n) + offset) % 7 for k in range(n)}


def _lanes(scenario: Scenario, township: str) -> list[tuple[str, float, int | None, float]]:
    """Who runs a township's loops: (label, share of the parcels, own visits per week, fewest
    parcels a visit): the shared vans, or each carrier its own (:func:`sim.build.build`)."""
    co = scenario.co_delivery.townships
    if co == "all" or (co != "none" and township in co):
        return [("", 1.0, None, 0.0)]
    return [
        (f"carrier {c.name}, ", c.share, c.visits_per_week, c.min_parcels_per_visit)
        for c in scenario.carriers
    ]


def _visits(scenario: Scenario, village: str, own: int | None) -> int:
    """Visits per week of a village by a lane (:func:`sim.build.lane_visits`)."""
    listed = scenario.schedules.village_visits_per_week
    if own is None:
        return listed.get(village, scenario.schedules.visits_per_week)
    return min(own, listed.get(village, 7))


def _on_loops(scenario: Scenario, villages: list[str]) -> set[str]:
    """Villages the van loops serve: with a point, and not wholly carried by a bus line."""
    points = scenario.facilities.village_points.villages
    mine = set(villages) if points == "all" else set(villages) & set(points)
    taken: set[str] = set()
    for line in scenario.buses:
        stops = {s for s in line.stops if s in mine} - taken
        taken |= stops
        if line.share_of_parcels >= 1.0:
            mine -= stops
    return mine


def _loops(
    scenario: Scenario, township: str, villages: list[tuple[int, str, float]], peak: float
) -> list[_Finding]:
    """A township's vans against its busiest visit day, lane by lane.

    ``villages`` holds (index in the county, code, mean parcels a day) of each village the
    loops serve.
    """
    fleet = scenario.fleet
    vans = _expand(fleet.townships.get(township, fleet.township_default))
    if not vans or not villages:
        return []  # the build says so (no village vehicle)
    cap = min(fleet.vehicle_types[v].capacity_parcels for v in vans)
    per_loop = cap * LOOP_FILL
    found = []
    for label, share, own, fewest in _lanes(scenario, township):
        day_load = [0.0] * 7
        daily = True
        for index, code, rate in villages:
            n = _visits(scenario, code, own)
            per_visit = share * rate * 7 / max(n, 1)
            if per_visit < fewest:
                continue
            daily &= n in (0, 7)
            for d in _visit_days(n, index):
                day_load[d] += per_visit
        need = max(day_load) * peak
        have = len(vans) * per_loop
        if need <= have:
            continue
        loops = math.ceil(need / per_loop - 1e-9)
        found.append(
            _Finding(
                township,
                need - have,
                f"village loops, {label}township {_named(township)}: {len(vans)} van(s) x "
                f"{per_loop:,.0f} (the planner fills {LOOP_FILL:.0%} of {cap:,}) = "
                f"{have:,.0f} per departure < {need:,.0f} expected on its busiest visit day "
                f"(short by {need - have:,.0f}): each van must drive "
                f"{math.ceil(loops / len(vans))} loops a departure, back to the township "
                f"point between them, if its shift allows; add {loops - len(vans)} van(s) "
                "(fleet.townships)" + ("" if daily else " or visit more often"),
                warn=math.ceil(loops / len(vans)) > _RELOADS,
            )
        )
    return found


def _named(code: str) -> str:
    return f"{code} ({unit(code).name})"


def _county(scenario: Scenario, county: str, peak: float) -> list[list[_Finding]]:
    """The findings of one county: sorting, shuttles, village loops."""
    townships = list(child_codes(county))
    if not townships:
        return [[], [], []]
    by_town = [(t, list(child_codes(t))) for t in townships]
    villages = [v for _, vs in by_town for v in vs]
    rates = dict(zip(villages, village_rates(scenario, villages)))
    index = {v: i for i, v in enumerate(villages)}
    served = _on_loops(scenario, villages)
    town_load = [(t, sum(rates[v] for v in vs)) for t, vs in by_town]
    loops = []
    for t, vs in by_town:
        mine = [(index[v], v, rates[v]) for v in vs if v in served]
        loops += _loops(scenario, t, mine, peak)
    daily = sum(rates.values()) * peak
    return [_sorting(scenario, county, daily), _shuttles(scenario, county, town_load, peak), loops]


def capacity_warnings(scenario: Scenario, counties: list[str]) -> list[str]:
    """Where each tier's capacity falls short of the expected parcels, in plain words.

    Parameters
    ----------
    scenario
        The validated scenario.
    counties
        The county codes of its region (:func:`sim.region.region_counties`).

    Returns
    -------
    list of str
        One sentence per tier that is short (or tight) somewhere: the county or township
        (code and name), the capacity, the parcels expected on the busiest day of the
        measurement window, by how much it is short and what to add; with several places,
        how many and the worst few. Empty when every tier has room.
    """
    return [text for text, warn in _grouped(scenario, counties) if warn]


def _grouped(scenario: Scenario, counties: list[str]) -> list[tuple[str, bool]]:
    """Per tier, one sentence of its warnings and one of its notes, each with a flag."""
    peak = peak_factor(scenario)
    tiers: list[list[_Finding]] = [[], [], []]
    for county in counties:
        for mine, found in zip(tiers, _county(scenario, county, peak)):
            mine += found
    out = []
    names = ("sorting", "shuttles", "village loops")
    places = ("short in {} counties", "short or tight in {} counties", "short in {} townships")
    for name, where, found in zip(names, places, tiers):
        for warn in (True, False):
            mine = [f for f in found if f.warn == warn]
            if mine:
                out.append((_sentence(name, where, mine, warn), warn))
    return out


def _sentence(name: str, where: str, found: list[_Finding], warn: bool) -> str:
    """One tier's findings of one kind: all of them for one place, else the worst few."""
    worst = sorted(found, key=lambda f: -f.missing)
    count = len({f.place for f in found})
    if count == 1:  # one place: every finding there, in full
        return "; ".join(f.text for f in worst)
    if not warn:
        where = f"in {{}} townships each van must drive up to {_RELOADS} loops a departure"
    shown = "; ".join(f.text.removeprefix(f"{name}, ") for f in worst[:_SHOWN])
    return f"{name}: {where.format(count)}; worst: {shown}"


def demand_basis(scenario: Scenario) -> str:
    """How the expected parcels were estimated, for the ``capacity:`` line."""
    dem = scenario.demand.inbound
    if dem.mode == "flat":
        basis = f"{dem.parcels_per_village_per_day:g} parcels per village and day"
    else:
        listed = f"the {len(dem.populations):,} populations listed and " if dem.populations else ""
        basis = (
            f"{dem.parcels_per_person_per_day:g} parcels per resident and day, {listed}"
            f"{dem.village_population:,} residents in every {'other ' if listed else ''}"
            "village (demand.inbound.village_population, an average: the divisions give no "
            "populations)"
        )
    peak = peak_factor(scenario)
    return basis + (f", x{peak:g} on the busiest day of the window" if peak != 1 else "")


def capacity_lines(scenario: Scenario, counties: list[str]) -> list[str]:
    """The lines ``validate`` prints on capacity: a warning per tier short or tight, or ok.

    They stay warnings with ``strict: true``: the estimate sees no roads (how long loops take,
    how trucks group the townships), so only the build can tell a plan that does not work.
    """
    found = _grouped(scenario, counties)
    basis = demand_basis(scenario)
    notes = [
        f"  capacity: note: {text} (the build checks whether the shifts allow it: "
        "`validate --build`)"
        for text, warn in found
        if not warn
    ]
    if not any(warn for _, warn in found):
        return [
            f"  capacity: ok: sorting, shuttles and village loops have room for the parcels "
            f"expected ({basis}; an estimate without roads)",
            *notes,
        ]
    warnings = [
        f"  warning: capacity: {text} [expected parcels: {basis}]" for text, w in found if w
    ]
    return warnings + notes
