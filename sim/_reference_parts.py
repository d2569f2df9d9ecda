"""Vehicles and points of the per-parcel reference model (see :mod:`sim.reference`).

Every queue is a plain ``simpy.Store`` of ``(ready time, parcel)`` pairs in FIFO order; a
vehicle counts the parcels at the head that are ready when it leaves and takes them one at a
time. Points are plain functions a vehicle calls at a stop, parcel by parcel: the township point
keeps the parcels of villages it holds and queues the others for their village vehicle; a
village point hands each parcel to its villager (a locker only while it has a free compartment).
Handing over happens inside the vehicle's own step, so that whatever else happens at the same
instant sees the parcels where the columnar engine has them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from sim.engine import DAY_MIN, _Parcels
from sim.scenario import BusLine, clock_minutes
from sim.world import POINT_KINDS, County, Vehicle

#: Kind code of a parcel held at its township point (after the village point kinds).
TOWNSHIP = len(POINT_KINDS)
LOCKER = POINT_KINDS.index("locker")
DOOR = POINT_KINDS.index("door")

#: What a stop does with the parcels dropped there: returns those refused and extra minutes.
Unload = Callable[["Ref", list[int], int], tuple[list[int], float]]


@dataclass
class Ref:
    """State of one reference run, shared by the parcel, sorter and vehicle processes.

    Attributes
    ----------
    env
        The SimPy environment.
    county
        The county simulated.
    p
        Parcel arrays (demand draws in, timestamps out).
    on_vehicle
        Per parcel, the index of the vehicle it is on, or -1.
    wait
        Per parcel, the event it waits for next (sorted; then at the point it is collected
        from, with the value ``(kind, locker request or None)``).
    sort_queue
        Parcels at the county centre waiting for the sorter.
    sorter_wake
        Succeeded by an arriving parcel, for an idle sorter.
    stations
        Per shuttle, then per bus line: sorted parcels waiting to leave the centre.
    villages
        Per (lane, village): parcels at the township point waiting for a village vehicle.
    lockers
        Per village: the compartments of its locker (used where the point is a locker).
    lines
        Bus lines by vehicle type (``"bus:<name>"``).
    has_out
        Whether the county has outbound parcels (village vehicles then also drive the
        collection-only departures).
    days
        Days the vehicles' schedules run for.
    """

    env: simpy.Environment
    county: County
    p: _Parcels
    on_vehicle: np.ndarray
    wait: list[simpy.Event]
    sort_queue: simpy.Store
    sorter_wake: simpy.Event
    stations: list[simpy.Store]
    villages: dict[tuple[int, int], simpy.Store]
    lockers: list[simpy.Resource]
    lines: dict[str, BusLine]
    has_out: bool
    days: int


def take(store: simpy.Store) -> Any:
    """Take the head item of a non-empty store now.

    A get from a non-empty store succeeds at once; reading its value instead of yielding it
    takes a whole load in one step, as the engine does, so that no other process acts in
    between and the vehicles' events keep the engine's order.
    """
    return store.get().value


def put_back(store: simpy.Store, items: list[tuple[float, int]]) -> None:
    """Put parcels back at the head of a queue, in order (nobody waits on its gets)."""
    store.items[0:0] = items


def board(s: Ref, store: simpy.Store, cap: int, vi: int) -> list[int]:
    """Take up to ``cap`` parcels from the head of a queue that are ready now."""
    n = 0
    for ready, _ in store.items:
        if ready > s.env.now:
            break
        n += 1
    load = [take(store)[1] for _ in range(min(cap, n))]
    for i in load:
        s.on_vehicle[i] = vi
    return load


def board_loop(s: Ref, queues: list[simpy.Store], cap: int, vi: int) -> list[int]:
    """Load a loop of several villages: the ``cap`` earliest-ready parcels among them.

    Ties in ready time go to the village earlier on the loop, then to the parcel earlier in
    its queue; each queue gives up a head run, in its FIFO order.
    """
    ready: list[tuple[float, int, int]] = []
    for k, q in enumerate(queues):
        for pos, (t, _) in enumerate(q.items):
            if t > s.env.now:
                break
            ready.append((t, k, pos))
    chosen = sorted(ready)[:cap]
    load = []
    for k, q in enumerate(queues):
        n = sum(1 for _, owner, _ in chosen if owner == k)
        load += [take(q)[1] for _ in range(n)]
    for i in load:
        s.on_vehicle[i] = vi
    return load


def drive(
    s: Ref,
    veh: Vehicle,
    vi: int,
    stops: np.ndarray,
    load: list[int],
    dest: np.ndarray,
    stop_min: float,
    unload: Unload,
) -> Generator[simpy.Event, Any, list[int]]:
    """Drive base -> stops -> base, unloading at each stop the parcels whose ``dest`` it is.

    Returns the parcels the stops refused, still on board when the vehicle is back.
    """
    env = s.env
    tm = s.county.time_min[veh.vtype]
    here = veh.base
    refused: list[int] = []
    for f in stops:
        yield env.timeout(tm[here, f])
        back, extra = unload(s, [i for i in load if dest[i] == f], int(f))
        refused += back
        here = f
        yield env.timeout(stop_min + extra)
    yield env.timeout(tm[here, veh.base])
    return refused


def at_township(s: Ref, drop: list[int], f: int) -> tuple[list[int], float]:
    """A township point takes parcels: it holds those of its unserved villages, queues the rest.

    The queue is the village's in the parcel's lane: its carrier's, or the shared one where
    the township pools its last mile (co-delivery).
    """
    c, p, now = s.county, s.p, s.env.now
    n_c = len(c.scenario.carriers)
    for i in drop:
        p.t_township[i] = now
        s.on_vehicle[i] = -1
        if p.held[i]:
            s.wait[i].succeed((TOWNSHIP, None))
            continue
        shared = c.township_shared is None or c.township_shared[p.township[i]]
        lane = n_c if shared else int(p.carrier[i])
        s.villages[lane, int(p.village[i])].put((now, i))
    return [], 0.0


def at_village(s: Ref, drop: list[int], f: int) -> tuple[list[int], float]:
    """A village point takes parcels one by one; a full locker refuses them (they stay on board).

    Door delivery hands each parcel over at once, each adding ``door_min_per_parcel`` to the
    stop.
    """
    c, p, now = s.county, s.p, s.env.now
    v = f - 1 - c.n_townships
    kind = int(c.village_kind[v])
    back: list[int] = []
    handed = 0
    for i in drop:
        req = None
        if kind == LOCKER:
            locker = s.lockers[v]
            if locker.count >= locker.capacity:
                p.overflows[i] += 1
                back.append(i)
                continue
            req = locker.request()
        p.t_point[i] = now
        s.on_vehicle[i] = -1
        s.wait[i].succeed((kind, req))
        handed += 1
    if kind == DOOR:
        return back, c.scenario.facilities.village_points.door_min_per_parcel * handed
    return back, 0.0


def shuttle(s: Ref, vi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
    """A township shuttle: at each departure, the ready parcels of its station, up to capacity."""
    env, p, sc = s.env, s.p, s.county.scenario
    cap = sc.fleet.vehicle_types[veh.vtype].capacity_parcels
    dest = p.township + 1
    shift_start = clock_minutes(sc.fleet.vehicle_types[veh.vtype].shift.start)
    for day in range(s.days):
        for dep in sorted(clock_minutes(t) for t in sc.schedules.shuttle_departures):
            t = day * DAY_MIN + max(dep, shift_start)  # not before the driver's shift
            if env.now < t:
                yield env.timeout(t - env.now)
            load = board(s, s.stations[vi], cap, vi)
            p.t_shuttle[load] = env.now
            stop_min = sc.facilities.townships.service_time_min
            yield from drive(s, veh, vi, veh.routes[0], load, dest, stop_min, at_township)


def bus(s: Ref, bi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
    """A bus line from the county station; parcels a locker refused go back to its queue head."""
    env, p, c = s.env, s.p, s.county
    line = s.lines[veh.vtype]
    vi = len(c.shuttles) + len(c.village_vehicles) + bi
    station = s.stations[len(c.shuttles) + bi]
    dest = p.village + 1 + c.n_townships
    for day in range(s.days):
        for dep in sorted(clock_minutes(t) for t in line.departures):
            t = day * DAY_MIN + dep
            if env.now < t:
                yield env.timeout(t - env.now)
            load = board(s, station, line.capacity_parcels, vi)
            p.t_shuttle[load] = env.now
            back = yield from drive(
                s, veh, vi, veh.routes[0], load, dest, line.stop_min, at_village
            )
            p.t_shuttle[back] = np.nan
            s.on_vehicle[back] = -1
            put_back(station, [(p.t_sorted[i], i) for i in back])


def village_vehicle(s: Ref, vi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
    """A village vehicle: at each departure it drives its loops one after another.

    A loop runs on its route's weekdays (all, unless planned per weekday), calls only at the
    villages due that weekday and loads, up to capacity, the
    earliest-ready parcels of its lane for them. With outbound parcels in the county it also
    drives the collection-only departures (no inbound parcels on board).
    """
    env, p, c = s.env, s.p, s.county
    sc = c.scenario
    cap = sc.fleet.vehicle_types[veh.vtype].capacity_parcels
    n_t = c.n_townships
    deps = sorted(
        [(clock_minutes(t), False) for t in sc.schedules.village_departures]
        + [(clock_minutes(t), True) for t in sc.demand.outbound.collection_departures]
    )
    dest = p.village + 1 + n_t
    vt = sc.fleet.vehicle_types[veh.vtype]
    shift_start, shift_end = clock_minutes(vt.shift.start), clock_minutes(vt.shift.end)
    for day in range(s.days):
        weekday = (sc.start_date.weekday() + day) % 7
        duty = 0.0
        for dep, collect_only in deps:
            t = day * DAY_MIN + max(dep, shift_start)
            if env.now < t:
                yield env.timeout(t - env.now)
            if collect_only and not s.has_out:
                continue
            for r, loop in enumerate(veh.routes):
                stops = loop[c.village_visit_days[veh.lane, loop - 1 - n_t, weekday]]
                if len(stops) == 0 or not veh.days_of(r)[weekday]:  # not due, or not its day
                    continue
                # The driver's day: a loop that cannot be back by the shift's end, or would
                # take the day past its duty hours, is not driven.
                planned = _planned_min(c.time_min[veh.vtype], veh.base, stops, sc)
                if env.now + planned > day * DAY_MIN + shift_end + 1e-9:
                    continue
                if duty + planned > vt.max_duty_h * 60.0 + 1e-9:
                    continue
                duty += planned
                queues = [s.villages[veh.lane, int(f) - 1 - n_t] for f in stops]
                load = [] if collect_only else board_loop(s, queues, cap, len(c.shuttles) + vi)
                p.t_loop[load] = env.now
                stop_min = sc.facilities.village_points.service_time_min
                back = yield from drive(
                    s, veh, len(c.shuttles) + vi, stops, load, dest, stop_min, at_village
                )
                p.t_loop[back] = np.nan
                s.on_vehicle[back] = -1
                for f in stops:  # back to the head of their village's queue, in order
                    mine = [(p.t_township[i], i) for i in back if dest[i] == f]
                    put_back(s.villages[veh.lane, int(f) - 1 - n_t], mine)


def _planned_min(tm: np.ndarray, base: int, stops: np.ndarray, sc: Any) -> float:
    """Minutes of a loop as planned: driving between its stops and a stop at each."""
    path = [base, *(int(f) for f in stops), base]
    driving = [float(tm[a, b]) for a, b in zip(path, path[1:])]
    return float(np.sum(driving) + sc.facilities.village_points.service_time_min * len(stops))
