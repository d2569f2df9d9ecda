"""Village vehicles: township point -> village loop -> township point, within shift and duty."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.engine.constants import _NONE, DAY_MIN
from sim.engine.drive import Route, drive, route
from sim.engine.outbound import out_at_township
from sim.engine.state import State, _LaneQueue
from sim.engine.township import load_loop, queue_of
from sim.plan import tour_minutes
from sim.scenario import clock_minutes
from sim.world import Vehicle

#: A loop as driven on one weekday: route, villages, planned minutes, township queues.
_Loop = tuple[Route, np.ndarray, float, list[_LaneQueue]]


def _loops_by_weekday(st: State, veh: Vehicle) -> list[list[_Loop]]:
    """The loops of a vehicle with a stop on each weekday (0 = Monday), in route order."""
    county = st.county
    tm = county.time_min[veh.vtype]
    stop_min = st.sc.facilities.village_points.service_time_min
    week: list[list[_Loop]] = []
    for weekday in range(7):
        loops = []
        for loop in veh.routes:
            vills = loop - 1 - county.n_townships
            today = county.village_visit_days[veh.lane, vills, weekday]
            if not today.any():
                continue
            stops, vills = loop[today], vills[today]
            towns = np.unique(county.village_township[vills])
            queues = [st.town_queues[int(queue_of(st, t, veh.lane))] for t in towns]
            planned = tour_minutes(stops, veh.base, tm, stop_min)
            loops.append((route(st, veh, stops, stop_min, town=False), vills, planned, queues))
        week.append(loops)
    return week


def village_vehicle(st: State, vi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
    """Village vehicle ``vi``: drive its loops at each departure, unless they run too late.

    A loop that would end after the driver's shift, or push the day's planned minutes past
    the maximum duty, is not driven (recorded in ``st.skipped``); its parcels wait.
    """
    env, p, sc = st.env, st.p, st.sc
    vt = sc.fleet.vehicle_types[veh.vtype]
    cap = vt.capacity_parcels
    shift_start, shift_end = clock_minutes(vt.shift.start), clock_minutes(vt.shift.end)
    max_duty = vt.max_duty_h * 60.0
    start_wd = sc.start_date.weekday()
    week = _loops_by_weekday(st, veh)
    pos = np.full(st.county.n_villages, -1, dtype=np.int64)
    for day in range(st.n_days):
        loops = week[(start_wd + day) % 7]
        duty = 0.0  # planned minutes of the loops driven today
        for dep, collect_only in st.loop_deps:
            t = day * DAY_MIN + max(dep, shift_start)
            if env.now < t:
                yield env.timeout(t - env.now)
            if collect_only and not st.has_out:
                continue
            for rt, vills, planned, queues in loops:
                late = env.now + planned > day * DAY_MIN + shift_end + 1e-9
                if late or duty + planned > max_duty + 1e-9:
                    # Not driven past the driver's day: its parcels wait for the next one.
                    st.skipped.append((st.n_sh + vi, day, len(vills), planned))
                    continue
                duty += planned
                pos[vills] = np.arange(len(vills))
                ids, stop_of = _NONE, _NONE
                if not collect_only:
                    ids, stop_of = load_loop(queues, pos, cap, env.now, ordered=st.has_locker)
                    p.t_loop[ids] = env.now
                pos[vills] = -1
                yield from drive(
                    st,
                    veh,
                    st.n_sh + vi,
                    "collection" if collect_only else "village_loop",
                    rt,
                    ids,
                    stop_of,
                    st.out_village if st.has_out else None,
                    out_at_township,
                )
