"""What happens at a vehicle's stops: drops at village points, pickups, outbound collection.

The handlers work on many stops at once where the stops are independent: parcels dropped at
several village points in one call, each parcel with its own arrival time. A locker (whose
free room depends on earlier drops) and outbound collection (whose room depends on the load
on board) are handled one stop at a time, in order.
"""

from __future__ import annotations

import numpy as np

from sim.engine.constants import _DOOR, _LOCKER, _NONE
from sim.engine.outbound import out_stamp
from sim.engine.state import State, _Fifo


def pickup(st: State, ids: np.ndarray, at: float | np.ndarray, mean_h: float | np.ndarray) -> None:
    """Villagers pick parcels up after a random delay, or they are returned unclaimed.

    ``at`` (when each parcel reached its point) and ``mean_h`` (mean delay in hours) are one
    value or one per parcel; the delay comes from the parcel's own uniform draw.
    """
    p = st.p
    delay = p.pickup_u[ids]  # a copy, turned in place into -log1p(-u) * mean_h * 60
    np.negative(delay, out=delay)
    np.log1p(delay, out=delay)
    np.negative(delay, out=delay)
    delay *= mean_h
    delay *= 60.0
    late = delay > st.hold_min
    if not late.any():
        delay += at  # the pickup times, in place (at + delay)
        p.t_pickup[ids] = delay
        return
    ok = ~late
    at_ok, at_late = (at[ok], at[late]) if isinstance(at, np.ndarray) else (at, at)
    p.t_pickup[ids[ok]] = at_ok + delay[ok]
    p.t_returned[ids[late]] = at_late + st.hold_min


def at_villages(st: State, ids: np.ndarray, at: np.ndarray, vill: np.ndarray | None = None) -> None:
    """Drop parcels at village points without a locker, at times ``at`` (one per parcel).

    ``vill``, if given, holds their villages.
    """
    p = st.p
    if vill is None:
        vill = p.village[ids]
    p.t_point[ids] = at
    if st.has_door:
        door = st.county.village_kind[vill] == _DOOR
        if door.any():
            p.t_pickup[ids[door]] = at[door]
            ids, at, vill = ids[~door], at[~door], vill[~door]
    pickup(st, ids, at, st.delay_by_village[vill])


def flush_drops(st: State) -> None:
    """Stamp the parcels dropped at village points without a locker since the last call."""
    if st.drops:
        ids, at, vill, left = zip(*st.drops)
        st.drops.clear()
        every = np.concatenate(ids)
        # Loop departures kept with the drops: stamped in one scatter.
        if all(t is not None for t in left):
            sizes = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
            st.p.t_loop[every] = np.repeat(np.array(left), sizes)
        else:
            for some, t in zip(ids, left, strict=True):
                if t is not None:
                    st.p.t_loop[some] = t
        # Their villages as the loads found them, unless some drop came without.
        known = None if any(v is None for v in vill) else np.concatenate(vill)
        at_villages(st, every, np.concatenate(at), known)


def at_locker(st: State, ids: np.ndarray, now: float, v: int) -> np.ndarray:
    """Drop parcels at village ``v``'s locker at ``now``; return those it refused (full)."""
    p, lockers = st.p, st.lockers
    held_now = lockers[v][lockers[v] > now]
    free = max(st.locker_cap - len(held_now), 0)
    ids, back = ids[:free], ids[free:]
    p.overflows[back] += 1
    p.t_point[ids] = now
    pickup(st, ids, now, st.delay_by_kind[_LOCKER])
    release = np.where(np.isnan(p.t_pickup[ids]), p.t_returned[ids], p.t_pickup[ids])
    lockers[v] = np.concatenate([held_now, release])
    return back


def at_lockers(
    st: State, ids: np.ndarray, n_drop: np.ndarray, at: np.ndarray, vills: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Drop parcels at the lockers of distinct villages ``vills``, reached at times ``at``.

    ``ids`` holds the first locker's ``n_drop[0]`` parcels, then the next one's, and so on.
    The same as :func:`at_locker` at each in turn, as no parcel or locker is shared between
    them. Returns how many each refused, and the refused parcels in that order.
    """
    p, lockers = st.p, st.lockers
    held, keep = [], np.ones(len(ids), dtype=bool)
    n_back = np.zeros(len(vills), dtype=np.int64)
    start = 0
    for j, v in enumerate(vills):
        held.append(lockers[v][lockers[v] > at[j]])
        free = max(st.locker_cap - len(held[j]), 0)
        end = start + int(n_drop[j])
        if end - start > free:
            keep[start + free : end] = False
            n_back[j] = end - start - free
        start = end
    back = ids[~keep]
    p.overflows[back] += 1
    ids, n_in = ids[keep], n_drop - n_back
    t = np.repeat(at, n_in)
    p.t_point[ids] = t
    pickup(st, ids, t, st.delay_by_kind[_LOCKER])
    release = np.where(np.isnan(p.t_pickup[ids]), p.t_returned[ids], p.t_pickup[ids])
    cut = [0, *np.add.accumulate(n_in).tolist()]
    for j, v in enumerate(vills):
        lockers[v] = np.concatenate([held[j], release[cut[j] : cut[j + 1]]])
    return n_back, back


def collect(st: State, q: _Fifo, room: int, vi: int, now: float) -> np.ndarray:
    """Take on the outbound parcels ready at a stop at ``now``, up to ``room``."""
    got = q.take(min(q.n_ready(now), room))
    if len(got):
        st.out_board[got] = now
        st.out_on_vehicle[got] = vi
        out_stamp(st, got, now)
    return got if len(got) else _NONE


def collect_at_once(
    st: State, queues: list[_Fifo], on_board: np.ndarray, cap: int, vi: int, at: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Collect outbound parcels at a run's stops (``queues``, reached at ``at``), in order.

    ``on_board`` is the number of inbound parcels on board after each stop's drop; no other
    vehicle uses the queues. Returns the non-empty collections and the count at each stop.
    """
    n_col = np.zeros(len(at), dtype=np.int64)
    got: list[np.ndarray] = []
    n_out = 0
    for j, q in enumerate(queues):
        room = max(int(cap - on_board[j] - n_out), 0)
        ids = q.take(min(q.n_ready(at[j]), room))
        if len(ids):
            n_col[j] = len(ids)
            n_out += len(ids)
            got.append(ids)
    if got:
        ids = np.concatenate(got)
        t = np.repeat(at, n_col)
        st.out_board[ids] = t
        st.out_on_vehicle[ids] = vi
        out_stamp(st, ids, t)
    return got, n_col
