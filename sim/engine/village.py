"""Village vehicles: township point -> village loop -> township point, within shift and duty."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.engine.constants import _NONE, DAY_MIN
from sim.engine.drive import at_village, drive
from sim.engine.outbound import out_at_township
from sim.engine.state import State, _load_fifo
from sim.plan import tour_minutes
from sim.scenario import clock_minutes
from sim.world import Vehicle


def village_vehicle(st: State, vi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
    """Village vehicle ``vi``: drive its loops at each departure, unless they run too late.

    A loop that would end after the driver's shift, or push the day's planned minutes past
    the maximum duty, is not driven (recorded in ``st.skipped``); its parcels wait.
    """
    env, p, sc, county = st.env, st.p, st.sc, st.county
    vt = sc.fleet.vehicle_types[veh.vtype]
    cap = vt.capacity_parcels
    stop_min = sc.facilities.village_points.service_time_min
    shift_start, shift_end = clock_minutes(vt.shift.start), clock_minutes(vt.shift.end)
    max_duty = vt.max_duty_h * 60.0
    tm = county.time_min[veh.vtype]
    n_t = county.n_townships
    start_wd = sc.start_date.weekday()
    lookup = np.zeros(county.n_villages, dtype=np.int64)
    for day in range(st.n_days):
        weekday = (start_wd + day) % 7
        duty = 0.0  # planned minutes of the loops driven today
        for dep, collect_only in st.loop_deps:
            t = day * DAY_MIN + max(dep, shift_start)
            if env.now < t:
                yield env.timeout(t - env.now)
            if collect_only and not st.has_out:
                continue
            for loop in veh.routes:
                vills = loop - 1 - n_t
                today = county.village_visit_days[veh.lane, vills, weekday]
                if not today.any():
                    continue
                stops, vills = loop[today], vills[today]
                planned = tour_minutes(stops, veh.base, tm, stop_min)
                late = env.now + planned > day * DAY_MIN + shift_end + 1e-9
                if late or duty + planned > max_duty + 1e-9:
                    # Not driven past the driver's day: its parcels wait for the next one.
                    st.skipped.append((st.n_sh + vi, day, len(stops), planned))
                    continue
                duty += planned
                queues = [st.village_queues[veh.lane * st.n_v + v] for v in vills]
                ids = _NONE if collect_only else _load_fifo(queues, cap, env.now)
                p.t_loop[ids] = env.now
                lookup[vills] = np.arange(len(vills))
                yield from drive(
                    st,
                    veh,
                    st.n_sh + vi,
                    "collection" if collect_only else "village_loop",
                    stops,
                    ids,
                    lookup[p.village[ids]],
                    stop_min,
                    at_village,
                    st.out_village if st.has_out else None,
                    out_at_township,
                )
