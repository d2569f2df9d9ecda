"""A per-parcel reference model: every parcel is its own SimPy process.

This is the oracle the columnar engine (:mod:`sim.engine`) is checked against on small
scenarios, and the baseline the benchmark compares its speed with. It follows the same rules
with the plainest possible code: parcels queue for a one-at-a-time sorter resource, wait in
``simpy.Store`` queues, and are loaded, carried and unloaded one event at a time. It draws the
same demand and pickup numbers as the engine, so the two runs must agree.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, cast

import numpy as np
import pandas as pd
import simpy

from sim.engine import (
    DAY_MIN,
    Categories,
    _parcel_table,
    generate_demand,
    shift_at,
    sorting_shifts,
)
from sim.scenario import clock_minutes
from sim.world import World


def run_reference(world: World, *, replication: int = 0, county: int = 0) -> pd.DataFrame:
    """Run one replication of one county with one SimPy process per parcel.

    Parameters
    ----------
    world
        The built world.
    replication
        Replication number.
    county
        Index of the county in ``world.counties``.

    Returns
    -------
    pandas.DataFrame
        The county's parcel table, with the columns of :attr:`sim.engine.Results.parcels`.
    """
    cats = Categories.of(world)
    index = county
    c = world.counties[county]
    sc = c.scenario
    env = simpy.Environment()
    p = generate_demand(c, replication)
    n = len(p.village)
    on_vehicle = np.full(n, -1, dtype=np.int32)
    # The event a parcel waits on while queued or on board (set before it is waited on).
    arrived = cast("list[simpy.Event]", [None] * n)
    centre = sc.facilities.county_centre
    per_parcel = 60.0 / centre.sorting_capacity_per_hour
    shifts = sorting_shifts(sc)
    sorter = simpy.Resource(env, capacity=1)
    shuttle_of = np.zeros(c.n_townships, dtype=np.int64)
    for i, veh in enumerate(c.shuttles):
        shuttle_of[veh.routes[0] - 1] = i
    shuttle_store = [simpy.Store(env) for _ in c.shuttles]
    # One queue per lane and village: each carrier's, then the shared one (co-delivery).
    n_c = len(sc.carriers)
    shared = c.township_shared if c.township_shared is not None else np.ones(c.n_townships, bool)
    village_store = [simpy.Store(env) for _ in range((n_c + 1) * c.n_villages)]
    hold = sc.pickup.max_hold_days * DAY_MIN

    def collect(i: int, mean_h: float) -> Generator[simpy.Event, Any, None]:
        delay = -np.log1p(-p.pickup_u[i]) * mean_h * 60.0
        if delay > hold:
            yield env.timeout(hold)
            p.t_returned[i] = env.now
        else:
            yield env.timeout(delay)
            p.t_pickup[i] = env.now

    def parcel(i: int) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(p.t_created[i])
        with sorter.request() as req:
            yield req
            while True:
                start, end = shift_at(shifts, env.now)
                if env.now < start:
                    yield env.timeout(start - env.now)
                if end - env.now >= per_parcel - 1e-9:
                    break
                yield env.timeout(end - env.now)
            yield env.timeout(per_parcel)
        p.t_sorted[i] = env.now
        arrived[i] = env.event()
        shuttle_store[shuttle_of[p.township[i]]].put(i)
        yield arrived[i]
        if p.held[i]:
            yield from collect(i, sc.pickup.township_mean_delay_h)
            return
        arrived[i] = env.event()
        lane = n_c if shared[p.township[i]] else int(p.carrier[i])
        village_store[lane * c.n_villages + p.village[i]].put((env.now, i))
        yield arrived[i]
        yield from collect(i, sc.pickup.mean_delay_h)

    def drive(
        vi: int, veh, stops, load: list[int], stop_of, stop_min, mark
    ) -> Generator[simpy.Event, Any, None]:
        tm = c.time_min[veh.vtype]
        here = veh.base
        for i in load:
            on_vehicle[i] = vi
        for j, f in enumerate(stops):
            yield env.timeout(tm[here, f])
            for i in load:
                if stop_of(i) == j:
                    mark(i)
                    on_vehicle[i] = -1
                    arrived[i].succeed()
            here = f
            yield env.timeout(stop_min)
        yield env.timeout(tm[here, veh.base])

    def shuttle(vi: int, veh) -> Generator[simpy.Event, Any, None]:
        stops = veh.routes[0]
        pos = {int(f) - 1: j for j, f in enumerate(stops)}
        cap = sc.fleet.vehicle_types[veh.vtype].capacity_parcels
        store = shuttle_store[vi]
        for day in range(sc.horizon_days):
            for dep in sorted(sc.schedules.shuttle_departures):
                t = day * DAY_MIN + clock_minutes(dep)
                if env.now < t:
                    yield env.timeout(t - env.now)
                load: list[int] = []
                for _ in range(min(cap, len(store.items))):
                    i = yield store.get()
                    p.t_shuttle[i] = env.now
                    load.append(i)

                def mark(i: int) -> None:
                    p.t_township[i] = env.now

                yield from drive(
                    vi,
                    veh,
                    stops,
                    load,
                    lambda i: pos[int(p.township[i])],
                    sc.facilities.townships.service_time_min,
                    mark,
                )

    def village_vehicle(vi: int, veh) -> Generator[simpy.Event, Any, None]:
        cap = sc.fleet.vehicle_types[veh.vtype].capacity_parcels
        n_t = c.n_townships
        for day in range(sc.horizon_days):
            weekday = (sc.start_date.weekday() + day) % 7
            for dep in sorted(sc.schedules.village_departures):
                t = day * DAY_MIN + clock_minutes(dep)
                if env.now < t:
                    yield env.timeout(t - env.now)
                for loop in veh.routes:
                    vills = [int(f) - 1 - n_t for f in loop]
                    due = c.village_visit_days[veh.lane, :, weekday]
                    stops = [f for f, v in zip(loop, vills) if due[v]]
                    today = [v for v in vills if due[v]]
                    if not today:
                        continue
                    stores = [village_store[veh.lane * c.n_villages + v] for v in today]
                    waiting = sorted(
                        (ready, k, i)
                        for k, store in enumerate(stores)
                        for ready, i in store.items
                        if ready <= env.now
                    )[:cap]
                    load = []
                    for k, store in enumerate(stores):
                        for _ in range(sum(1 for w in waiting if w[1] == k)):
                            _, i = yield store.get()
                            p.t_loop[i] = env.now
                            load.append(i)
                    pos = {v: j for j, v in enumerate(today)}

                    def mark(i: int) -> None:
                        p.t_point[i] = env.now

                    yield from drive(
                        len(c.shuttles) + vi,
                        veh,
                        stops,
                        load,
                        lambda i, pos=pos: pos[int(p.village[i])],
                        sc.facilities.village_points.service_time_min,
                        mark,
                    )

    for i in range(n):
        env.process(parcel(i))
    for vi, veh in enumerate(c.shuttles):
        env.process(shuttle(vi, veh))
    for vi, veh in enumerate(c.village_vehicles):
        env.process(village_vehicle(vi, veh))
    env.run(until=sc.horizon_days * DAY_MIN)
    return _parcel_table(c, replication, p, on_vehicle, cats, index, sc.horizon_days * DAY_MIN)
