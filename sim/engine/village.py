"""Village vehicles: township point -> village loop -> township point, within shift and duty."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.engine.constants import _NONE, DAY_MIN
from sim.engine.drive import Route, go_on, leave, wait_until
from sim.engine.layout import village_layout
from sim.engine.outbound import out_at_township
from sim.engine.state import State, _LaneQueue
from sim.engine.township import load_loop
from sim.scenario import clock_minutes
from sim.world import Vehicle

#: A loop as driven on one weekday: route, villages, planned minutes, township queues,
#: each village's place in the loop (-1 for the county's villages not on it, and a last -1
#: for taken queue entries), and whether the loop visits each village (``pos >= 0``).
_Loop = tuple[Route, np.ndarray, float, list[_LaneQueue], np.ndarray, np.ndarray]


def _loops_by_weekday(st: State, vi: int) -> list[list[_Loop]]:
    """The loops of village vehicle ``vi`` with a stop on each weekday (0 = Monday), in route
    order, with this run's township queues (:func:`~sim.engine.layout.lay_out_loops`)."""
    queues = st.town_queues
    return [
        [
            (rt, vills, planned, [queues[q] for q in qs], pos, seen)
            for rt, vills, planned, qs, pos, seen in day
        ]
        for day in village_layout(st.county).weeks[vi]
    ]


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
    week = _loops_by_weekday(st, vi)
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
