"""Bus lines: station -> village stops -> station, carrying a share of their villages' parcels."""

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


def bus(st: State, i: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
    """Bus ``i``: at each departure of its line, take the line's sorted parcels."""
    env, p = st.env, st.p
    line = st.lines[veh.vtype]
    stops = veh.routes[0]
    pos = np.zeros(st.county.n_villages, dtype=np.int64)
    pos[stops - 1 - st.county.n_townships] = np.arange(len(stops))
    q = st.shuttle_queues[st.n_sh + i]
    rt = route(st, veh, stops, line.stop_min, town=False)
    deps = sorted(clock_minutes(t) for t in line.departures)
    for day in range(st.n_days):
        for dep in deps:
            t = day * DAY_MIN + dep
            if env.now < t:
                yield env.timeout(t - env.now)
            ids = q.take(min(line.capacity_parcels, q.n_ready(env.now)))
            p.t_shuttle[ids] = env.now
            yield from drive(
                st,
                veh,
                st.n_vv + i,
                "bus",
                rt,
                ids,
                pos[p.village[ids]],
                st.out_village if st.has_out else None,
                out_at_centre,
            )
