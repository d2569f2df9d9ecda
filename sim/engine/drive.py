"""The shared ``drive`` routine of every vehicle: one run, base -> stops -> base, as a batch.

A run's stop times are known when it leaves (travel times and dwell times, summed in the
order the clock would add them), so its legs are recorded as arrays at once and the drops
at stops that no other process can observe are done in one operation when it leaves. Only
stops whose outcome depends on other processes (a locker or outbound parcels shared with
other vehicles, outbound parcels brought to a township point by its village vehicles) and
stops after the next midnight (when the run's progress is checked) are simulated as
events, at their exact time; the run ends with an event when it is back at its base. A
vehicle that drives a leg another vehicle also drives, where the two can act on the same
things (:func:`~sim.engine.layout.shares_a_leg`), steps through every leg and stop as
events, as SimPy would without batching, so that vehicles arriving at the same moment keep
the order the event queue gives them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import simpy

from sim.engine.constants import _DOOR, _LOCKER, DAY_MIN, stable_order
from sim.engine.outbound import out_index
from sim.engine.state import State, _Fifo, _RunLegs
from sim.engine.stops import at_locker, at_lockers, collect, collect_at_once
from sim.engine.township import at_townships, queue_of
from sim.world import Vehicle

_NO_COUNTS = np.zeros(0, dtype=np.int64)
#: ``out_home(st, ids, now)`` receives the outbound parcels collected on a run.
OutHome = Callable[[State, np.ndarray, float], None]


def delays_to(now: float, t: float) -> list[float]:
    """Delays that bring the clock from ``now`` exactly to ``t`` (``now + d == t``, in turn).

    One delay, unless ``now`` has finer digits than ``t`` can hold and no single sum lands on
    ``t`` (possible when ``t > 2 * now``); then a first delay halfway, from where the rest
    is exact.
    """
    d = t - now
    while now + d < t:
        d = math.nextafter(d, math.inf)
    while now + d > t:
        d = math.nextafter(d, -math.inf)
    if now + d == t:
        return [d]
    half = (t - now) / 2
    return [half, t - (now + half)]


def wait_until(env: simpy.Environment, t: float) -> Generator[simpy.Event, Any, None]:
    """Wait until the clock reads exactly ``t``."""
    for d in delays_to(env.now, t):
        yield env.timeout(d)


class Route(NamedTuple):
    """A vehicle's stops with what stays the same on every run: legs, dwell, kinds of stop.

    ``frm``/``to``/``km`` describe the legs base -> stops -> base; ``dwell`` the
    minutes at each stop (before door deliveries); ``clock`` the legs' and stops' minutes
    in the order the clock adds them (after a 0 for the departure time); ``door`` and
    ``multi`` mark the village stops with door delivery and those other vehicles also serve;
    ``distinct`` tells that no stop repeats; ``locker`` marks the stops at a locker;
    ``any_locker``, ``shared_locker`` (a locker other vehicles also serve), ``any_multi``
    and ``any_door`` tell whether some stop is of that kind.
    """

    stops: np.ndarray
    clock: np.ndarray
    frm: np.ndarray
    to: np.ndarray
    km: np.ndarray
    vills: np.ndarray
    dwell: np.ndarray
    door: np.ndarray
    multi: np.ndarray
    stop_min: float
    town: bool
    distinct: bool
    locker: np.ndarray
    any_locker: bool
    shared_locker: bool
    any_multi: bool
    any_door: bool


def route(st: State, veh: Vehicle, stops: np.ndarray, stop_min: float, *, town: bool) -> Route:
    """The route of ``veh`` through ``stops`` (township points if ``town``, else villages)."""
    county = st.county
    n = len(stops)
    frm = np.empty(n + 1, dtype=np.int64)
    frm[0], frm[1:] = veh.base, stops
    to = np.empty(n + 1, dtype=np.int64)
    to[:-1], to[-1] = stops, veh.base
    vills = stops - 1 - county.n_townships
    if town:
        door = locker = np.zeros(n, dtype=bool)
        multi = np.ones(n, dtype=bool)
        any_locker = shared_locker = False
        any_multi = n > 0
    else:
        kind = county.village_kind[vills]
        door, locker, multi = kind == _DOOR, kind == _LOCKER, st.multi_visit[vills]
        any_locker = bool(locker.any())
        shared_locker = any_locker and bool((locker & multi).any())
        any_multi = bool(multi.any())
    clock = np.empty(2 * n + 2)
    clock[0::2] = stop_min + 0.0
    clock[0] = 0.0
    clock[1::2] = county.time_min[veh.vtype][frm, to]
    return Route(
        stops=stops,
        clock=clock,
        frm=frm,
        to=to,
        km=county.km[veh.vtype][frm, to],
        vills=vills,
        dwell=clock[2:-1:2].copy(),
        door=door,
        multi=multi,
        stop_min=stop_min,
        town=town,
        distinct=len(set(stops.tolist())) == n,
        locker=locker,
        any_locker=any_locker,
        shared_locker=shared_locker,
        any_multi=any_multi,
        any_door=not town and bool(door.any()),
    )


def leave(
    st: State,
    vi: int,
    kind: str,
    rt: Route,
    ids: np.ndarray,
    stop_of: np.ndarray,
    vill: np.ndarray | None = None,
    *,
    batch: bool = True,
    loop: bool = False,
) -> tuple[_RunLegs, float | None]:
    """A run leaves now: record its legs, and do its stops at once if nothing on it can be
    observed by another process before it is back (with ``batch``: no outbound collection).

    ``vill``, if given, holds the parcels' villages. With ``loop`` (a village loop leaving
    with parcels from township points) it stamps their loop departure, kept with the drops
    when its stops are done at once. Returns the legs, and the time it is back when its
    stops are done (else None: the run goes on with :func:`go_on`).
    """
    now = st.env.now
    n_drop = np.bincount(stop_of, minlength=len(rt.stops))
    # Its times as one running sum, in the clock's order.
    dwell = rt.dwell
    if rt.any_door:
        dwell = dwell.copy()
        door_min = st.sc.facilities.village_points.door_min_per_parcel
        dwell[rt.door] = rt.stop_min + door_min * n_drop[rt.door]
        clock = rt.clock.copy()
        clock[2:-1:2] = dwell
    else:
        clock = rt.clock.copy()
    clock[0] = now
    np.add.accumulate(clock, out=clock)  # np.cumsum, without its dispatch
    legs = _RunLegs(st.runs, vi, kind, rt.frm, rt.to, clock, rt.km, dwell, n_drop, ids)
    st.runs += 1
    st.trips.append(legs)
    # The last stop's arrival is clock[-3] (read as a Python float, as is the return).
    if (
        not batch
        or rt.any_locker
        or st.chained[vi]
        or (len(rt.stops) and clock.item(-3) >= (math.floor(now / DAY_MIN) + 1) * DAY_MIN)
    ):
        if loop:
            st.p.t_loop[ids] = now
        return legs, None
    # Nothing reads the loop departures before the drops are stamped.
    _drop(st, rt.town, ids, clock[1:-1:2][stop_of], vill, now if loop else None)
    return legs, clock.item(-1)


def drive(
    st: State,
    veh: Vehicle,
    vi: int,
    kind: str,
    rt: Route,
    ids: np.ndarray,
    stop_of: np.ndarray,
    out_queues: list[_Fifo] | None = None,
    out_home: OutHome | None = None,
) -> Generator[simpy.Event, Any, None]:
    """Drive base -> stops -> base, unloading at each stop the parcels for it.

    ``stop_of`` gives each parcel's stop (index in ``rt.stops``). Shuttles stop at
    township points, the others at village points. A full locker refuses parcels; they ride
    back to the base and wait there for the next visit. With ``out_queues`` (indexed by the
    stop's queue index, see ``out_index``), the vehicle also collects the outbound parcels
    ready at each stop, in the room left on board, and ``out_home(st, ids, now)`` receives
    them at the base (backhaul). The same as :func:`leave`, then :func:`back_at` or
    :func:`go_on` (village vehicles write these steps out, for their many runs).
    """
    legs, back = leave(st, vi, kind, rt, ids, stop_of, batch=out_queues is None)
    if back is not None:
        yield from back_at(st.env, back)
    else:
        yield from go_on(st, veh, vi, kind, rt, ids, stop_of, legs, out_queues, out_home)


def back_at(env: simpy.Environment, back: float) -> Generator[simpy.Event, Any, None]:
    """Wait until ``back`` (as :func:`wait_until`)."""
    now = env.now
    d = back - now
    if now + d == back:  # one delay lands on it (see delays_to)
        yield env.timeout(d)
    else:
        yield from wait_until(env, back)


def go_on(
    st: State,
    veh: Vehicle,
    vi: int,
    kind: str,
    rt: Route,
    ids: np.ndarray,
    stop_of: np.ndarray,
    legs: _RunLegs,
    out_queues: list[_Fifo] | None,
    out_home: OutHome | None,
) -> Generator[simpy.Event, Any, None]:
    """A run that :func:`leave` did not finish: its stops, some of them as events."""
    now = st.env.now
    midnight = (math.floor(now / DAY_MIN) + 1) * DAY_MIN
    unseen = not st.chained[vi] and (len(rt.stops) == 0 or legs.clock.item(-3) < midnight)
    shared = rt.any_multi if out_queues is not None else rt.shared_locker
    if unseen and not rt.town and rt.distinct and not shared:
        yield from _at_once(st, veh, vi, kind, rt, ids, stop_of, legs, out_queues, out_home)
        return
    yield from _stop_by_stop(st, veh, vi, kind, rt, ids, stop_of, legs, out_queues, out_home)


@dataclass
class _Board:
    """What a run stop by stop has on board: counts per stop, refused and collected parcels."""

    n_ids: int
    n_drop: np.ndarray
    n_back: np.ndarray
    n_col: np.ndarray
    refused: list[np.ndarray] = field(default_factory=list)
    outbound: list[np.ndarray] = field(default_factory=list)


def _stop_by_stop(
    st: State,
    veh: Vehicle,
    vi: int,
    kind: str,
    rt: Route,
    ids: np.ndarray,
    stop_of: np.ndarray,
    legs: _RunLegs,
    out_queues: list[_Fifo] | None,
    out_home: OutHome | None,
) -> Generator[simpy.Event, Any, None]:
    """A run with lockers, outbound collection, stops after midnight or shared legs.

    Stops that no other process observes are still done at once when the run leaves; the
    others at their time, in order. A vehicle that shares a leg with another it can meet
    (``chained``, see :func:`~sim.engine.layout.shares_a_leg`) steps through every leg and
    stop as its own events, so that two vehicles arriving at the same moment do so in the
    order the clock would give them.
    """
    env, stops = st.env, rt.stops
    order = stable_order(stop_of)
    ids = ids[order]
    bounds = np.searchsorted(stop_of[order], np.arange(len(stops) + 1))
    board = _Board(
        len(ids),
        np.diff(bounds),
        np.zeros(len(stops), dtype=np.int64),
        np.zeros(len(stops), dtype=np.int64),
    )
    at = legs.clock[1:-1:2]
    lockers = rt.locker
    one_by_one = np.full(len(stops), out_queues is not None) | lockers
    event = at >= (math.floor(env.now / DAY_MIN) + 1) * DAY_MIN
    event |= one_by_one & rt.multi
    now = ~(one_by_one | event)
    n_drop = board.n_drop
    chained = bool(st.chained[vi])
    _drop(st, rt.town, ids[np.repeat(now, n_drop)], np.repeat(at[now], n_drop[now]))
    for j in range(len(stops)) if chained else np.flatnonzero(~now):
        if chained:
            yield env.timeout(rt.clock[2 * j + 1])
        elif event[j]:
            yield from wait_until(env, at[j])
        if not now[j]:
            drop = ids[bounds[j] : bounds[j + 1]]
            _at_stop(st, veh, vi, rt, int(j), drop, at[j], bool(lockers[j]), board, out_queues)
            legs.net[:] = n_drop - board.n_back - board.n_col
        if chained:
            yield env.timeout(legs.dwell[j])
    if chained:
        yield env.timeout(rt.clock[-1])
    else:
        yield from wait_until(env, legs.clock[-1])
    _come_home(st, veh, vi, kind, board, out_home)


def _at_once(
    st: State,
    veh: Vehicle,
    vi: int,
    kind: str,
    rt: Route,
    ids: np.ndarray,
    stop_of: np.ndarray,
    legs: _RunLegs,
    out_queues: list[_Fifo] | None,
    out_home: OutHome | None,
) -> Generator[simpy.Event, Any, None]:
    """A village run with lockers or outbound collection that no other vehicle uses.

    Its stops are done in one pass when it leaves (lockers, then collection in the room
    left on board), and it comes home with one event.
    """
    at, n_drop = legs.clock[1:-1:2], legs.net
    board = _Board(len(ids), n_drop.copy(), np.zeros(len(at), dtype=np.int64), _NO_COUNTS)
    if rt.any_locker:
        ids = ids[stable_order(stop_of)]
        locker = np.repeat(rt.locker, n_drop)
        _drop(st, False, ids[~locker], np.repeat(at[~rt.locker], n_drop[~rt.locker]))
        # The lockers at once: the run's stops are distinct and no other vehicle serves them.
        lk = rt.locker
        n_back, back = at_lockers(st, ids[locker], n_drop[lk], at[lk], rt.vills[lk].tolist())
        board.n_back[lk] = n_back
        if len(back):
            board.refused.append(back)
    else:
        _drop(st, False, ids, at[stop_of])
    net = n_drop - board.n_back
    if out_queues is not None:
        on_board = board.n_ids - net.cumsum()
        queues = [out_queues[out_index(st, int(f))] for f in rt.stops]
        board.outbound, n_col = collect_at_once(st, queues, on_board, _capacity(st, veh)[0], vi, at)
        net -= n_col
    legs.net[:] = net
    yield from wait_until(st.env, legs.clock[-1])
    _come_home(st, veh, vi, kind, board, out_home)


def _come_home(
    st: State, veh: Vehicle, vi: int, kind: str, board: _Board, out_home: OutHome | None
) -> None:
    """Back at the base: hand over the outbound parcels, put refused ones back in queue."""
    if board.outbound and out_home is not None:
        got = np.concatenate(board.outbound)
        if _capacity(st, veh)[1]:
            st.o.cold_min[got] += st.env.now - st.out_board[got]
        st.out_on_vehicle[got] = -1
        out_home(st, got, st.env.now)
    if board.refused:
        _take_back(st, veh, vi, kind, np.concatenate(board.refused))


def _at_stop(
    st: State,
    veh: Vehicle,
    vi: int,
    rt: Route,
    j: int,
    drop: np.ndarray,
    now: float,
    locker: bool,
    board: _Board,
    out_queues: list[_Fifo] | None,
) -> None:
    """Stop ``j`` of a run at ``now``: drop its parcels, then collect outbound parcels."""
    if not locker:
        _drop(st, rt.town, drop, np.full(len(drop), now))
    else:
        back = at_locker(st, drop, now, int(rt.vills[j]))
        board.n_back[j] = len(back)
        if len(back):
            board.refused.append(back)
    if out_queues is not None:
        on_board = board.n_ids - (board.n_drop - board.n_back - board.n_col)[: j + 1].sum()
        room = max(int(_capacity(st, veh)[0] - on_board), 0)
        got = collect(st, out_queues[out_index(st, int(rt.stops[j]))], room, vi, now)
        board.n_col[j] = len(got)
        if len(got):
            board.outbound.append(got)


def _capacity(st: State, veh: Vehicle) -> tuple[int, bool]:
    """A vehicle's capacity in parcels and whether it is cold-chain."""
    if veh.vtype in st.lines:
        return st.lines[veh.vtype].capacity_parcels, False
    vt = st.sc.fleet.vehicle_types[veh.vtype]
    return vt.capacity_parcels, vt.cold_chain


def _drop(
    st: State,
    town: bool,
    ids: np.ndarray,
    at: np.ndarray,
    vill: np.ndarray | None = None,
    left: float | None = None,
) -> None:
    """Drop parcels at their township or village points at times ``at`` (one per parcel).

    Drops at villages without a locker touch nothing but the parcels' own times; they are
    kept for a few large scatters (see :func:`flush_drops`), with the parcels' villages
    (``vill``, if known) and their loop's departure (``left``, if not yet stamped).
    """
    if not len(ids):
        return
    if town:
        at_townships(st, ids, at)
    else:
        st.drops.append((ids, at, vill, left))


def _take_back(st: State, veh: Vehicle, vi: int, kind: str, back: np.ndarray) -> None:
    """Put parcels refused on a run back at the head of the queue they were loaded from."""
    p = st.p
    if kind == "bus":
        # They go back to the head of the bus queue at the station, in order.
        p.t_shuttle[back] = np.nan
        st.shuttle_queues[st.n_sh + vi - st.n_vv].push_front(back, p.t_sorted[back])
        return
    p.t_loop[back] = np.nan
    town = p.township[back]
    for t in np.unique(town):
        mine = back[town == t]
        # They left the head of their villages' queues; they go back there, in order.
        q = st.town_queues[int(queue_of(st, t, veh.lane))]
        q.push_front(mine, p.village[mine], p.t_township[mine])
