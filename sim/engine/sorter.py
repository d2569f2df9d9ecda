"""The trunk waves and the county centre's sorter (finite capacity, shifts)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.engine.constants import DAY_MIN, stable_order
from sim.engine.state import State
from sim.scenario import Scenario, clock_minutes


def sorting_shifts(scenario: Scenario) -> list[tuple[int, int]]:
    """The county centre's shifts as sorted (start, end) minutes after midnight."""
    shifts = scenario.facilities.county_centre.shifts
    return sorted((clock_minutes(s.start), clock_minutes(s.end)) for s in shifts)


def shift_at(shifts: list[tuple[int, int]], t: float) -> tuple[float, float]:
    """The shift (start, end), in minutes since day 0, running at ``t`` or the next one."""
    day = np.floor(t / DAY_MIN)
    for d in (day, day + 1):
        for a, b in shifts:
            if d * DAY_MIN + b > t:
                return d * DAY_MIN + a, d * DAY_MIN + b
    raise AssertionError("shifts must not be empty")


def trunk(st: State) -> Generator[simpy.Event, Any, None]:
    """Bring each wave's parcels to the sorter queue when they arrive; wake the sorter."""
    env, created = st.env, st.p.t_created
    n, s = len(created), 0
    # The waves: runs of one creation time (the parcels are ordered by it), each found by a
    # binary search rather than by a pass over all parcels.
    while s < n:
        t = created[s]
        e = s + int(created[s:].searchsorted(t, side="right"))
        if t > env.now:
            yield env.timeout(t - env.now)
        st.sorter_queue.push(np.arange(s, e), created[s:e])
        if not st.wake.triggered:
            st.wake.succeed()
        s = e


def sorter(st: State) -> Generator[simpy.Event, Any, None]:
    """Sort parcels within the shifts and hand each to its shuttle's (or bus line's) queue."""
    env, p, county = st.env, st.p, st.county
    rate_per_min = st.rate_per_min
    while True:
        if len(st.sorter_queue) == 0:
            st.wake = env.event()
            yield st.wake
        start, end = shift_at(st.shifts, env.now)
        if env.now < start:
            yield env.timeout(start - env.now)
        k = min(len(st.sorter_queue), int((end - env.now) * rate_per_min + 1e-9))
        if k == 0:
            yield env.timeout(end - env.now)
            continue
        ids = st.sorter_queue.take(k)
        # The trunk queues ranges of ids in order: the parcels taken are one range, read as
        # a slice (the test holds for increasing ids only, as these are).
        first = int(ids[0])
        part = slice(first, first + k) if int(ids[-1]) - first == k - 1 else ids
        done = env.now + np.arange(1, k + 1) / rate_per_min
        p.t_sorted[part] = done
        # Hand each parcel to its shuttle's queue; it is loadable once sorted.
        route = st.route_of_township[p.township[part]]
        if county.buses:
            assert st.bus_of is not None  # build_county always sets village_bus
            line = st.bus_of[p.village[part]]
            by_bus = (line >= 0) & (p.route_u[part] < st.bus_share[np.maximum(line, 0)])
            route = np.where(by_bus, st.n_sh + line, route)
        order = stable_order(route)
        ids, done, route = ids[order], done[order], route[order]
        cut = [0, *(np.flatnonzero(route[1:] != route[:-1]) + 1).tolist(), len(route)]
        for a, b in zip(cut[:-1], cut[1:], strict=False):
            st.shuttle_queues[int(route[a])].push(ids[a:b], done[a:b])
        yield env.timeout(k / rate_per_min)
