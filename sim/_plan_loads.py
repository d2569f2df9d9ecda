"""Expected parcels per shuttle departure, from the trunk waves, the sorter and the departures.

The daily volume check of the planner assumes a day's parcels spread evenly over the
departures. They do not: the trunk waves arrive at set times and the sorter works within its
shifts at a finite rate, so one departure may find most of the day's parcels sorted and
waiting. A fluid model of the county centre (waves in, sorting at capacity within shifts,
first in first out) gives the share of a day's parcels ready for each departure.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import clock_minutes
from sim.world import Vehicle

_DAY = 1440
#: Days of the fluid model; the last one is read (earlier days carry their backlog into it).
_DAYS = 3


def sorted_by(scenario, daily_parcels: float) -> np.ndarray:
    """Cumulative parcels sorted at the end of each minute of :data:`_DAYS` days (fluid model).

    Parameters
    ----------
    scenario
        The scenario (trunk waves, sorting capacity and shifts of the county centre).
    daily_parcels
        Inbound parcels a day of the county.

    Returns
    -------
    numpy.ndarray
        Shape (_DAYS * 1440,): parcels sorted by the end of minute ``t``.
    """
    centre = scenario.facilities.county_centre
    arrive = np.zeros(_DAYS * _DAY)
    for wave in centre.trunk_arrivals:
        t = clock_minutes(wave.time)
        arrive[[d * _DAY + t for d in range(_DAYS)]] += wave.share * daily_parcels
    working = np.zeros(_DAY, dtype=bool)
    for s in centre.shifts:
        working[clock_minutes(s.start) : clock_minutes(s.end)] = True
    per_min = np.tile(working, _DAYS) * centre.sorting_capacity_per_hour / 60.0
    done = []
    queue = total = 0.0
    for came, can in zip(arrive.tolist(), per_min.tolist()):  # Python floats: same sums, faster
        queue += came
        step = min(queue, can)
        queue -= step
        total += step
        done.append(total)
    return np.array(done)


def departure_shares(scenario, daily_parcels: float, departures: list[float]) -> np.ndarray:
    """Share of a day's parcels ready for each departure (minutes after midnight, sorted).

    Each departure takes what was sorted since the one before it (the last of the day before,
    for the first); the shares sum to at most 1 (less while the sorter falls behind).
    """
    if daily_parcels <= 0 or not departures:
        return np.zeros(len(departures))
    done = sorted_by(scenario, daily_parcels)
    last = (_DAYS - 1) * _DAY
    at = [done[min(last + int(t), len(done) - 1) - 1] for t in departures]
    before = [done[last - _DAY + int(departures[-1]) - 1], *at[:-1]]
    return (np.array(at) - np.array(before)) / daily_parcels


def report_departure_loads(scenario, county: str, shuttles: list[Vehicle], load, warnings) -> None:
    """Warn when a shuttle departure is expected to carry more parcels than the shuttle holds.

    ``load`` is the inbound parcels a day of each township (0-based). The expected parcels of
    a departure are its share of the day (:func:`departure_shares`) times the daily parcels of
    the shuttle's townships; one warning names the county, how many departures, and the worst
    ones with their townships, expected parcels and capacity.
    """
    types = scenario.fleet.vehicle_types
    total = float(np.sum(load))
    over: list[tuple[float, str]] = []
    n_runs = 0
    shares_at: dict[tuple[float, ...], np.ndarray] = {}  # shuttles of one shift share them
    for veh in shuttles:
        vt = types[veh.vtype]
        start = clock_minutes(vt.shift.start)
        deps = sorted(
            (max(clock_minutes(t), start), t) for t in scenario.schedules.shuttle_departures
        )
        clock = tuple(float(m) for m, _ in deps)
        if clock not in shares_at:
            shares_at[clock] = departure_shares(scenario, total, list(clock))
        shares = shares_at[clock]
        parcels = float(np.sum(load[np.asarray(veh.routes[0]) - 1]))
        for (_, label), share in zip(deps, shares):
            n_runs += 1
            expected = share * parcels
            if expected > vt.capacity_parcels:
                towns = len(veh.routes[0])
                over.append(
                    (
                        expected / vt.capacity_parcels,
                        f"{veh.id} at {label} ({towns} township(s)): {expected:,.0f} "
                        f"parcels expected, capacity {vt.capacity_parcels:,}",
                    )
                )
    if over:
        over.sort(key=lambda x: -x[0])
        worst = "; ".join(text for _, text in over[:3])
        warnings.append(
            f"county {county}: {len(over)} of {n_runs} shuttle departures a day are expected to "
            f"carry more parcels than the shuttle holds, as the trunk waves and the sorter "
            f"fill the departures unevenly (facilities.county_centre.trunk_arrivals, "
            f"sorting_capacity_per_hour, schedules.shuttle_departures); worst: {worst}; "
            "parcels left behind wait for the next departure; add shuttles to "
            "fleet.county_centre or move a departure"
        )
