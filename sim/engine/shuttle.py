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
    q = st.shuttle_queues[vi]
    stop_min = sc.facilities.townships.service_time_min
    rt = route(st, veh, stops, stop_min, town=True)
    # Shuttles leave no earlier than their driver's shift; a late return is overtime.
    shift_start = clock_minutes(sc.fleet.vehicle_types[veh.vtype].shift.start)
    for day in range(st.n_days):
        for dep in st.shuttle_deps:
            t = day * DAY_MIN + max(dep, shift_start)
            if env.now < t:
                yield env.timeout(t - env.now)
            ids = q.take(min(cap, q.n_ready(env.now)))
            p.t_shuttle[ids] = env.now
            yield from drive(
                st,
                veh,
                vi,
                "shuttle",
                rt,
                ids,
                pos[p.township[ids]],
                st.out_town if st.has_out else None,
                out_at_centre,
            )
