"""The shared ``drive`` routine of every vehicle and the stop handlers it calls."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from sim.engine.constants import _DOOR, _LOCKER, _NONE
from sim.engine.outbound import out_index, out_stamp
from sim.engine.state import State, _Fifo
from sim.world import Vehicle

#: ``arrive(st, drop, now, facility)`` -> (refused parcels, extra stop minutes).
Arrive = Callable[[State, np.ndarray, float, int], tuple[np.ndarray, float]]
#: ``out_home(st, ids, now)`` receives the outbound parcels collected on a run.
OutHome = Callable[[State, np.ndarray, float], None]


def drive(
    st: State,
    veh: Vehicle,
    vi: int,
    kind: str,
    stops: np.ndarray,
    ids: np.ndarray,
    stop_of: np.ndarray,
    stop_min: float,
    arrive: Arrive,
    out_queues: list[_Fifo] | None = None,
    out_home: OutHome | None = None,
) -> Generator[simpy.Event, Any, None]:
    """Drive base -> stops -> base, unloading at each stop the parcels for it.

    ``arrive(st, drop, now, facility)`` takes the parcels for a stop and returns those it
    refused (a full locker) and the extra stop minutes; refused parcels ride back to the
    base and wait there for the next visit. With ``out_queues`` (indexed by the stop's
    queue index, see ``out_index``), the vehicle also collects the outbound parcels ready
    at each stop, in the room left on board, and ``out_home(st, ids, now)`` receives them at
    the base (backhaul).
    """
    env, county, sc = st.env, st.county, st.sc
    tm, kmm = county.time_min[veh.vtype], county.km[veh.vtype]
    if veh.vtype in st.lines:
        capacity, cold = st.lines[veh.vtype].capacity_parcels, False
    else:
        capacity = sc.fleet.vehicle_types[veh.vtype].capacity_parcels
        cold = sc.fleet.vehicle_types[veh.vtype].cold_chain
    run = st.runs
    st.runs += 1
    outbound: list[np.ndarray] = []
    n_out = 0
    order = np.argsort(stop_of, kind="stable")
    ids, stop_of = ids[order], stop_of[order]
    bounds = np.searchsorted(stop_of, np.arange(len(stops) + 1))
    st.on_vehicle[ids] = vi
    load = len(ids)
    here = veh.base
    refused: list[np.ndarray] = []
    for j, f in enumerate(stops):
        dep = env.now
        yield env.timeout(tm[here, f])
        drop = ids[bounds[j] : bounds[j + 1]]
        back, extra = arrive(st, drop, env.now, f)
        st.trips.append(
            (run, vi, kind, here, f, dep, env.now, kmm[here, f], load + n_out, stop_min + extra)
        )
        st.on_vehicle[drop] = -1
        if len(back):
            st.on_vehicle[back] = vi
            refused.append(back)
        load -= len(drop) - len(back)
        if out_queues is not None:
            room = max(capacity - load - n_out, 0)
            n_out += _collect(st, out_queues[out_index(st, f)], room, vi, outbound)
        here = f
        yield env.timeout(stop_min + extra)
    dep = env.now
    yield env.timeout(tm[here, veh.base])
    st.trips.append(
        (run, vi, kind, here, veh.base, dep, env.now, kmm[here, veh.base], load + n_out, 0.0)
    )
    if outbound and out_home is not None:
        got = np.concatenate(outbound)
        if cold:
            st.o.cold_min[got] += env.now - st.out_board[got]
        st.out_on_vehicle[got] = -1
        out_home(st, got, env.now)
    if refused:
        _take_back(st, veh, vi, kind, np.concatenate(refused))


def _collect(st: State, q: _Fifo, room: int, vi: int, outbound: list[np.ndarray]) -> int:
    """Take on the outbound parcels ready at a stop, up to ``room``; return how many."""
    now = st.env.now
    got = q.take(min(q.n_ready(now), room))
    if len(got):
        st.out_board[got] = now
        st.out_on_vehicle[got] = vi
        out_stamp(st, got, now)
        outbound.append(got)
    return len(got)


def _take_back(st: State, veh: Vehicle, vi: int, kind: str, back: np.ndarray) -> None:
    """Put parcels refused on a run back at the head of the queue they were loaded from."""
    p = st.p
    st.on_vehicle[back] = -1
    if kind == "bus":
        # They go back to the head of the bus queue at the station, in order.
        p.t_shuttle[back] = np.nan
        st.shuttle_queues[st.n_sh + vi - st.n_vv].push_front(back, p.t_sorted[back])
        return
    p.t_loop[back] = np.nan
    for v in np.unique(p.village[back]):
        mine = back[p.village[back] == v]
        # They left the head of the queue; they go back to the head, in order.
        st.village_queues[veh.lane * st.n_v + v].push_front(mine, p.t_township[mine])


def pickup(st: State, ids: np.ndarray, at: float, mean_h: float | np.ndarray) -> None:
    """Villagers pick parcels up after a random delay, or they are returned unclaimed."""
    p = st.p
    delay = -np.log1p(-p.pickup_u[ids]) * mean_h * 60.0
    late = delay > st.hold_min
    p.t_pickup[ids[~late]] = at + delay[~late]
    p.t_returned[ids[late]] = at + st.hold_min


def at_township(st: State, ids: np.ndarray, now: float, f: int) -> tuple[np.ndarray, float]:
    """A shuttle unloads at a township point: held parcels await pickup, others a loop."""
    p, county = st.p, st.county
    p.t_township[ids] = now
    held = p.held[ids]
    if held.any():
        h = ids[held]
        mean = st.town_delay_h + st.per_km_h * county.village_township_km[p.village[h]]
        pickup(st, h, now, mean)
        ids = ids[~held]
    if len(ids):
        lane = np.where(st.shared[p.township[ids]], st.n_c, p.carrier[ids]).astype(np.int64)
        key = lane * st.n_v + p.village[ids]
        order = np.argsort(key, kind="stable")
        ids, key = ids[order], key[order]
        cut = np.flatnonzero(np.diff(key)) + 1
        for part, k in zip(np.split(ids, cut), key[np.r_[0, cut]]):
            st.village_queues[k].push(part, float(now))
    return _NONE, 0.0


def at_village(st: State, ids: np.ndarray, now: float, f: int) -> tuple[np.ndarray, float]:
    """A loop or bus unloads at a village point; a full locker refuses the rest."""
    p, sc = st.p, st.sc
    v = f - 1 - st.county.n_townships
    kind = st.county.village_kind[v]
    back = _NONE
    lockers = st.lockers
    if kind == _LOCKER:
        held_now = lockers[v][lockers[v] > now]
        free = max(st.locker_cap - len(held_now), 0)
        ids, back = ids[:free], ids[free:]
        p.overflows[back] += 1
    p.t_point[ids] = now
    if kind == _DOOR:
        p.t_pickup[ids] = now
        return back, sc.facilities.village_points.door_min_per_parcel * len(ids)
    pickup(st, ids, now, st.point_delay_h[kind])
    if kind == _LOCKER:
        release = np.where(np.isnan(p.t_pickup[ids]), p.t_returned[ids], p.t_pickup[ids])
        lockers[v] = np.concatenate([held_now, release])
    return back, 0.0
