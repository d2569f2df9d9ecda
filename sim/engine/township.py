"""Township points: parcels waiting for a village loop, one queue per (township, lane).

A shuttle drops a township's parcels in one operation: held parcels await their villagers,
the others join the queue of their lane (their carrier's, or the shared one in a co-delivery
township). A queue keeps, for every village of the township, its parcels in first-in
first-out order with the time each became available; a village loop takes the ready parcels
of the villages it visits today, earliest first, up to its capacity, in one operation.
"""

from __future__ import annotations

import numpy as np

from sim.engine.constants import _NONE
from sim.engine.state import State, _LaneQueue
from sim.engine.stops import pickup


def load_loop(
    queues: list[_LaneQueue],
    pos: np.ndarray,
    cap: int,
    now: float,
    ordered: bool = True,
    visit: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Take up to ``cap`` ready parcels for a loop's villages, earliest-ready first.

    ``pos`` gives each village's place in the loop (-1 for villages not visited, and a last
    entry -1, see :class:`~sim.engine.state._LaneQueue`; ``visit``, if given, is
    ``pos >= 0``). When more than ``cap`` parcels are ready, the earliest are
    taken (ties by place, then queue order). Returns the parcels and their villages'
    places; with ``ordered`` the parcels come out by place, each village's in queue order
    (else in any order).
    """
    if visit is None:
        visit = pos >= 0
    if len(queues) == 1 and not ordered:
        got, owner, _, taken = queues[0].take_ready(pos, now, visit, cap)
        if taken:  # all of them, in queue order
            return got, owner
        found = [(got, owner)]
    else:
        found = [q.ready(pos, now, visit) for q in queues]
    if len(found) == 1:
        sel, owner = found[0]
    else:
        sel, owner = (np.concatenate(f) for f in zip(*found, strict=True))
    if not len(sel):
        return _NONE, _NONE
    if len(sel) > cap or ordered:
        keys = [q.ready_keys(s) for q, (s, _) in zip(queues, found)]
        ready, key = keys[0] if len(keys) == 1 else (np.concatenate(k) for k in zip(*keys))
        chosen = np.arange(len(sel))
        if len(sel) > cap:
            chosen = np.lexsort((key, owner, ready))[:cap]
        if ordered:
            chosen = chosen[np.lexsort((key[chosen], owner[chosen]))]
        sel, owner = sel[chosen], owner[chosen]
    else:
        chosen = np.arange(len(sel))
    if len(queues) == 1:
        return queues[0].remove(sel), owner
    which = np.repeat(np.arange(len(queues)), [len(s) for s, _ in found])[chosen]
    out = np.empty(len(sel), dtype=np.int64)
    for i, q in enumerate(queues):
        mine = which == i
        if mine.any():
            out[mine] = q.remove(sel[mine])
    return out, owner


def queue_of(st: State, town: np.ndarray, lane: np.ndarray | int) -> np.ndarray:
    """Index in ``st.town_queues`` of the queue of (township, lane)."""
    return town * (st.n_c + 1) + lane


def at_townships(st: State, ids: np.ndarray, at: np.ndarray) -> None:
    """A shuttle unloads parcels at township points at times ``at`` (one per parcel).

    Held parcels await pickup there; the others join their (township, lane) queue, in order.
    """
    p, county = st.p, st.county
    p.t_township[ids] = at
    # Their villages, and from them (in a small table) their townships.
    vill = p.village[ids]
    held = p.held[ids]
    if held.any():
        h = ids[held]
        mean = st.town_delay_h + st.per_km_h * county.village_township_km[vill[held]]
        pickup(st, h, at[held], mean)
        keep = ~held
        ids, at, vill = ids[keep], at[keep], vill[keep]
    if not len(ids):
        return
    town = county.village_township[vill]
    lane: int | None = None  # the lane of every parcel, when the township tells the queue
    if st.all_shared:  # every parcel in its township's shared lane
        key, lane = town, st.n_c
    else:
        key = queue_of(st, town, np.where(st.shared[town], st.n_c, p.carrier[ids]))
    # Grouped by queue (a stable sort: each queue's parcels keep their order), with the
    # group sizes counted rather than found in the sorted keys.
    sizes = np.bincount(key)
    groups = np.flatnonzero(sizes)
    if len(groups) > 1:
        small = len(sizes) <= 2**15  # keys below 2**15: sorted as int16, in linear time
        order = np.argsort(key.astype(np.int16) if small else key, kind="stable")
        ids, at, vill = ids[order], at[order], vill[order]
    latest = float(at.max())  # no parcel of the drop is ready later
    start = 0
    for k, m in zip(groups.tolist(), sizes[groups].tolist(), strict=True):
        q = st.town_queues[k if lane is None else k * (st.n_c + 1) + lane]
        q.push(ids[start : start + m], vill[start : start + m], at[start : start + m], latest)
        start += m
