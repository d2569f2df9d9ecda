"""Township shuttles: county centre -> township points -> county centre."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.engine.constants import DAY_MIN
from sim.engine.drive import drive, route
from sim.engine.outbound import out_at_centre
from sim.engine.state import State
from sim.scenario import clock_minutes
from sim.world import Vehicle


def shuttle(st: State, vi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
    """Shuttle ``vi``: at each departure, take the sorted parcels of its townships."""
    env, p, sc = st.env, st.p, st.sc
    stops = veh.routes[0]
    cap = sc.fleet.vehicle_types[veh.vtype].capacity_parcels
    pos = np.zeros(st.county.n_townships, dtype=np.int64)
    pos[stops - 1] = np.arange(len(stops))
    pos = pos[st.county.village_township]  # the stop of each village's township
    q = st.shuttle_queues[vi]
    stop_min = sc.facilities.townships.service_time_min
    rt = route(st, veh, stops, stop_min, town=True)
    # Shuttles leave no earlier than their driver's shift; a late return is overtime.
    out = st.out_town if st.has_out else None
    shift_start = clock_minutes(sc.fleet.vehicle_types[veh.vtype].shift.start)
    for day in range(st.n_days):
        for dep in st.shuttle_deps:
            t = day * DAY_MIN + max(dep, shift_start)
            if env.now < t:
                yield env.timeout(t - env.now)
            now = env.now
            ids = q.take(min(cap, q.n_ready(now)))
            p.t_shuttle[ids] = now
            stop_of = pos[p.village[ids]]  # read again (in cache) at the townships
            yield from drive(st, veh, vi, "shuttle", rt, ids, stop_of, out, out_at_centre)
