"""Village vehicles: township point -> village loop -> township point, within shift and duty."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.engine.constants import _NONE, DAY_MIN
from sim.engine.drive import Route, go_on, leave, route, wait_until
from sim.engine.outbound import out_at_township
from sim.engine.state import State, _LaneQueue, county_cached
from sim.engine.township import load_loop, queue_of
from sim.scenario import clock_minutes
from sim.world import Vehicle

#: A loop as driven on one weekday: route, villages, planned minutes, township queues,
#: each village's place in the loop (-1 for the county's villages not on it, and a last -1
#: for taken queue entries), and whether the loop visits each village (``pos >= 0``).
_Loop = tuple[Route, np.ndarray, float, list[_LaneQueue], np.ndarray, np.ndarray]


def _loops_by_weekday(st: State, vi: int, veh: Vehicle) -> list[list[_Loop]]:
    """The loops of village vehicle ``vi`` with a stop on each weekday (0 = Monday), in route
    order, with this run's township queues."""
    week = county_cached(st.county, ("village_loops", vi), lambda: _plan_week(st, veh))
    visits = county_cached(
        st.county, ("village_visits", vi), lambda: [[d[4] >= 0 for d in day] for day in week]
    )
    return [
        [
            (rt, vills, planned, [st.town_queues[q] for q in queues], pos, visit)
            for (rt, vills, planned, queues, pos), visit in zip(day, seen, strict=True)
        ]
        for day, seen in zip(week, visits, strict=True)
    ]


def _plan_week(
    st: State, veh: Vehicle
) -> list[list[tuple[Route, np.ndarray, float, list[int], np.ndarray]]]:
    """The loops of a vehicle by weekday, as :data:`_Loop` with township queue indices.

    A loop runs on the weekdays of its route (:meth:`sim.world.Vehicle.days_of`) where one of
    its villages is due. They depend on the county alone (kept in ``county.engine_cache``);
    nothing in them is changed by a run.
    """
    county = st.county
    stop_min = st.sc.facilities.village_points.service_time_min
    visits = county.village_visit_days[veh.lane]
    week: list[list[tuple[Route, np.ndarray, float, list[int], np.ndarray]]] = [
        [] for _ in range(7)
    ]
    # One more place than villages: -1 at index -1, for the taken entries of a queue.
    nowhere = np.full(county.n_villages + 1, -1, dtype=np.int64)
    made: dict[tuple[int, bytes], tuple[Route, np.ndarray, float, list[int], np.ndarray]] = {}
    for i, loop in enumerate(veh.routes):
        all_vills = loop - 1 - county.n_townships
        days = visits[all_vills]  # (stop, weekday)
        if veh.route_days is not None:  # a route planned for some weekdays only
            days = days & veh.route_days[i]
        for weekday in np.flatnonzero(days.any(axis=0)).tolist():
            today = days[:, weekday]
            # A loop with the same stops on another weekday is the same loop.
            key = (i, today.tobytes())
            if key not in made:
                stops, vills = loop[today], all_vills[today]
                towns = sorted(set(county.village_township[vills].tolist()))
                queues = [int(queue_of(st, t, veh.lane)) for t in towns]
                rt = route(st, veh, stops, stop_min, town=False)
                # As sim.plan.tour_minutes: the legs' minutes summed, plus the stops'.
                minutes = county.time_min[veh.vtype][rt.frm, rt.to].sum()
                pos = nowhere.copy()
                pos[vills] = np.arange(len(vills))
                made[key] = (rt, vills, float(minutes + stop_min * len(stops)), queues, pos)
            week[weekday].append(made[key])
    return week


def village_vehicle(st: State, vi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
    """Village vehicle ``vi``: drive its loops at each departure, unless they run too late.

    A loop that would end after the driver's shift, or push the day's planned minutes past
    the maximum duty, is not driven (recorded in ``st.skipped``); its parcels wait.
    """
    env, sc = st.env, st.sc
    vt = sc.fleet.vehicle_types[veh.vtype]
    cap = vt.capacity_parcels
    shift_start, shift_end = clock_minutes(vt.shift.start), clock_minutes(vt.shift.end)
    max_duty = vt.max_duty_h * 60.0 + 1e-9
    start_wd = sc.start_date.weekday()
    week = _loops_by_weekday(st, vi, veh)
    out = st.out_village if st.has_out else None
    ordered, vid = st.has_locker, st.n_sh + vi  # its index among the county's vehicles
    for day in range(st.n_days):
        loops = week[(start_wd + day) % 7]
        duty = 0.0  # planned minutes of the loops driven today
        end = day * DAY_MIN + shift_end + 1e-9
        for dep, collect_only in st.loop_deps:
            t = day * DAY_MIN + max(dep, shift_start)
            if env.now < t:
                yield env.timeout(t - env.now)
            if collect_only and not st.has_out:
                continue
            kind = "collection" if collect_only else "village_loop"
            for rt, vills, planned, queues, pos, visit in loops:
                now = env.now
                if now + planned > end or duty + planned > max_duty:
                    # Not driven past the driver's day: its parcels wait for the next one.
                    st.skipped.append((vid, day, len(vills), planned))
                    continue
                duty += planned
                ids, stop_of, vill = _NONE, _NONE, None
                if not collect_only:
                    taken = False
                    if len(queues) == 1 and not ordered:  # the most frequent load, at once
                        ids, stop_of, vill, taken = queues[0].take_ready(pos, now, visit, cap)
                    if not taken:
                        ids, stop_of = load_loop(queues, pos, cap, now, ordered, visit)
                        vill = None
                loop = not collect_only  # leave() stamps their loop departure
                legs, back = leave(
                    st, vid, kind, rt, ids, stop_of, vill, batch=out is None, loop=loop
                )
                if back is None:
                    yield from go_on(
                        st, veh, vid, kind, rt, ids, stop_of, legs, out, out_at_township
                    )
                elif now + (back - now) == back:  # as back_at (drive, written out)
                    yield env.timeout(back - now)
                else:
                    yield from wait_until(env, back)
