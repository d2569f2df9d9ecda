"""Per-run state shared by the processes: parcel arrays, queues, trips and counters.

Parcels are rows of numpy arrays (:class:`_Parcels`); a queue is a FIFO of array chunks
(:class:`_Fifo`), or, at a township point, one queue per lane for all its villages
(:class:`_LaneQueue`); loading a vehicle takes its parcels from a queue in one operation.
:class:`State` holds everything one county and replication share; each process receives it
explicitly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import simpy

from sim.engine.constants import _NONE, _RUN_KIND
from sim.outbound import Outbound
from sim.scenario import BusLine, Scenario
from sim.world import County


def county_cached(county: County, key: Hashable, make: Callable[[], Any]) -> Any:
    """``make()``, computed once per county and kept in ``county.engine_cache`` (what the
    engine derives from the county alone, read only afterwards)."""
    if key not in county.engine_cache:
        county.engine_cache[key] = make()
    return county.engine_cache[key]


_EMPTY_F = np.empty(0)


class _Fifo:
    """A FIFO of parcel ids with the time each becomes available, kept as array chunks."""

    __slots__ = ("_chunks", "_n")

    def __init__(self) -> None:
        self._chunks: deque[tuple[np.ndarray, np.ndarray | float]] = deque()
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def push(self, ids: np.ndarray, ready: np.ndarray | float) -> None:
        """Append parcels available from ``ready`` (one time, or one per parcel).

        Ready times must not decrease along the queue.
        """
        if len(ids):
            self._chunks.append((ids, ready))
            self._n += len(ids)

    def push_front(self, ids: np.ndarray, ready: np.ndarray | float) -> None:
        """Put parcels back at the head (their ready times must not exceed the head's)."""
        if len(ids):
            self._chunks.appendleft((ids, ready))
            self._n += len(ids)

    def n_ready(self, now: float) -> int:
        """Number of parcels at the head of the queue that are available at ``now``."""
        n = 0
        for ids, ready in self._chunks:
            if isinstance(ready, float):
                if ready > now:
                    return n
                n += len(ids)
            elif ready[-1] <= now:
                n += len(ids)
            else:
                return n + int(np.searchsorted(ready, now, side="right"))
        return n

    def take(self, k: int) -> np.ndarray:
        """Remove and return the first ``k`` parcels."""
        out = []
        while k > 0 and self._chunks:
            ids, ready = self._chunks[0]
            if len(ids) <= k:
                self._chunks.popleft()
                out.append(ids)
                k -= len(ids)
                self._n -= len(ids)
            else:
                out.append(ids[:k])
                self._chunks[0] = (ids[k:], ready if isinstance(ready, float) else ready[k:])
                self._n -= k
                k = 0
        if not out:
            return np.empty(0, dtype=np.int64)
        return out[0] if len(out) == 1 else np.concatenate(out)


class _LaneQueue:
    """Parcels of one lane at one township point, ordered by (village, arrival) when taken.

    Entries are kept unordered in arrays (id, village, ready time, key), in the order they
    were pushed; ``key`` orders the entries of one village first in, first out: pushes get
    increasing keys, parcels put back at the head get keys below every key handed out so
    far. Until the first parcel is put back, keys follow the entries' order, and the place
    of an entry in the arrays stands for its key (no key is stored). The arrays grow in place
    (with room to spare), so a push copies only its parcels. A taken entry stays in the
    arrays, its village set to -1, until the arrays are compacted: the ``pos`` and ``visit``
    arrays of a loop have one more entry than the county has villages, the last one (index
    -1) -1 and False, so that no loop sees a taken entry.
    """

    __slots__ = (
        "_dead",
        "_front",
        "_ids",
        "_key",
        "_latest",
        "_n",
        "_next",
        "_ready",
        "_vill",
    )

    def __init__(self) -> None:
        self._ids: np.ndarray = _NONE
        self._vill: np.ndarray = _NONE
        self._ready: np.ndarray = _EMPTY_F
        self._key: np.ndarray | None = None  # stored once a parcel is put back at the head
        self._n = 0  # entries in use, at the start of the arrays
        self._next = 0
        self._front = 0
        self._dead = 0  # entries taken but not yet dropped from the arrays (village -1)
        self._latest = -np.inf  # no entry is ready later than this

    def __len__(self) -> int:
        return self._n - self._dead

    def push(
        self, ids: np.ndarray, vill: np.ndarray, ready: np.ndarray, latest: float | None = None
    ) -> None:
        """Append parcels (of villages ``vill``) available from ``ready``, in order.

        ``latest``, if given, is a time no parcel is ready after (else ``ready.max()``).
        """
        m = len(ids)
        if m:
            self._append(ids, vill, ready, latest)
            if self._key is not None:
                self._key[self._n - m : self._n] = np.arange(self._next, self._next + m)
            self._next += m

    def push_front(self, ids: np.ndarray, vill: np.ndarray, ready: np.ndarray) -> None:
        """Put parcels back at the head of their villages' queues, in order."""
        m = len(ids)
        if m:
            if self._key is None:  # keys from here on: the entries' places so far
                self._key = np.arange(len(self._ids), dtype=np.int64)
                self._next, self._front = self._n, 0
            self._append(ids, vill, ready, None)
            self._key[self._n - m : self._n] = np.arange(self._front - m, self._front)
            self._front -= m

    def _append(
        self, ids: np.ndarray, vill: np.ndarray, ready: np.ndarray, latest: float | None
    ) -> None:
        n, m = self._n, len(ids)
        if n + m > len(self._ids):
            size = max(2 * (n + m), 256)
            old = [self._ids, self._vill, self._ready]
            if self._key is not None:
                old.append(self._key)
            grown = [np.empty(size, dtype=a.dtype) for a in old]
            for new, a in zip(grown, old, strict=True):
                new[:n] = a[:n]
            self._ids, self._vill, self._ready = grown[:3]
            if self._key is not None:
                self._key = grown[3]
        self._ids[n : n + m] = ids
        self._vill[n : n + m] = vill
        self._ready[n : n + m] = ready
        self._n = n + m
        top = float(ready.max()) if latest is None else latest
        if not top <= self._latest:
            self._latest = top if top == top else np.inf  # (a NaN: never ready)

    def _compact(self) -> None:
        """Drop the entries taken, keeping the order of the others."""
        live = (self._vill[: self._n] >= 0).nonzero()[0]  # found once, for 3 or 4 arrays
        k = len(live)
        for a in (self._ids, self._vill, self._ready, self._key):
            if a is not None:
                a[:k] = a[live]
        self._n, self._dead = k, 0

    def ready(
        self, pos: np.ndarray, now: float, visit: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Entries of the villages with ``pos >= 0`` available at ``now``, and their owners.

        The owner of an entry is ``pos`` of its village (the village's place in a loop);
        ``visit``, if given, is ``pos >= 0``. ``pos`` has an entry -1 at its end (see the
        class).
        """
        if self._dead > self._n // 2:
            self._compact()
        n = self._n
        vill = self._vill[:n]
        mine = (pos >= 0 if visit is None else visit)[vill]  # booleans, not places
        if now < self._latest:  # some entries are not ready yet
            mine &= self._ready[:n] <= now
        sel = mine.nonzero()[0]
        return sel, pos[vill[sel]]

    def take_ready(
        self, pos: np.ndarray, now: float, visit: np.ndarray, cap: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """:meth:`ready`, then :meth:`remove` unless more than ``cap`` are ready.

        Returns the parcels taken, their owners and villages, in queue order, and True; or,
        when nothing was taken, the entries, owners and villages :meth:`ready` found, and
        False. (The two methods written out as one, for the most frequent load.)
        """
        if self._dead > self._n // 2:
            self._compact()
        n = self._n
        vill = self._vill[:n]
        mine = visit[vill]
        if now < self._latest:  # some entries are not ready yet
            mine &= self._ready[:n] <= now
        sel = mine.nonzero()[0]
        vs = vill[sel]
        if len(sel) > cap:
            return sel, pos[vs], vs, False
        vill[sel] = -1
        self._dead += len(sel)
        return self._ids[sel], pos[vs], vs, True

    def ready_keys(self, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ready times and keys of the entries ``sel`` (keys order them as pushed)."""
        return self._ready[sel], sel if self._key is None else self._key[sel]

    def remove(self, sel: np.ndarray) -> np.ndarray:
        """Remove the entries ``sel`` (from :meth:`ready`); return their parcel ids."""
        out = self._ids[sel]
        self._vill[sel] = -1
        self._dead += len(sel)
        return out


@dataclass
class _Parcels:
    """Columnar parcel state of one replication (mutated only by the engine).

    ``route_u`` (the draws that send a parcel by bus or by shuttle) is empty in a county
    without bus lines.
    """

    village: np.ndarray
    township: np.ndarray
    t_created: np.ndarray
    pickup_u: np.ndarray
    t_sorted: np.ndarray
    t_shuttle: np.ndarray
    t_township: np.ndarray
    t_loop: np.ndarray
    t_point: np.ndarray
    t_pickup: np.ndarray
    t_returned: np.ndarray
    held: np.ndarray
    overflows: np.ndarray
    carrier: np.ndarray
    route_u: np.ndarray


class _RunLegs(NamedTuple):
    """The legs of one vehicle run (base -> stops -> base), recorded when it leaves.

    ``clock`` holds the departure from the base, then the arrival at and departure from each
    stop, then the arrival back at the base. ``net`` is the number of parcels each stop
    takes off board (drops, less refused ones and collected outbound parcels), filled in as
    the run goes; ``ids`` are the inbound parcels it left with.
    """

    run: int
    vehicle: int
    kind: str
    frm: np.ndarray
    to: np.ndarray
    clock: np.ndarray
    km: np.ndarray
    dwell: np.ndarray
    net: np.ndarray
    ids: np.ndarray


@dataclass
class _Trips:
    """Vehicle legs as columns, in the order they ended (see :meth:`join`).

    ``frm`` and ``to`` are facility indices, ``vehicle`` the index among the county's
    vehicles, ``kind`` the index of the run's kind in ``RUN_KINDS``; ``load`` is the number
    of parcels on board on the leg.
    """

    run: np.ndarray
    vehicle: np.ndarray
    kind: np.ndarray
    frm: np.ndarray
    to: np.ndarray
    depart: np.ndarray
    arrive: np.ndarray
    km: np.ndarray
    load: np.ndarray
    stop_min: np.ndarray

    @classmethod
    def join(cls, runs: list[_RunLegs], end: float) -> _Trips:
        """The legs of many runs that arrived before ``end``, in the order they arrived."""
        if not runs:
            i, f = np.empty(0, dtype=np.int64), np.empty(0)
            return cls(i, i, i, i, i, f, f, f, i, f)
        # The runs' fields as columns, one tuple per field (a transpose in C).
        run, vehicle, kind, frm, to, clock_of, km, dwell, net, ids = zip(*runs, strict=True)
        sizes = np.fromiter(map(len, frm), dtype=np.int64, count=len(runs))
        leg_run = np.repeat(np.arange(len(runs)), sizes)
        leg = np.arange(len(leg_run)) - (np.cumsum(sizes) - sizes)[leg_run]  # 0 = first leg
        returning = leg == sizes[leg_run] - 1
        # Parcels on board on each leg: those it left with, less those taken off before.
        stop0 = (np.cumsum(sizes - 1) - (sizes - 1))[leg_run]
        taken = np.concatenate([[0], np.cumsum(np.concatenate(net))])
        n_ids = np.fromiter(map(len, ids), dtype=np.int64, count=len(runs))[leg_run]
        stop_min = np.zeros(len(leg_run))
        stop_min[~returning] = np.concatenate(dwell)
        clock = np.concatenate(clock_of)
        cols = {
            "run": np.array(run, dtype=np.int64)[leg_run],
            "vehicle": np.array(vehicle, dtype=np.int64)[leg_run],
            "kind": np.array([_RUN_KIND[k] for k in kind], dtype=np.int64)[leg_run],
            "frm": np.concatenate(frm),
            "to": np.concatenate(to),
            "depart": clock[0::2],
            "arrive": clock[1::2],
            "km": np.concatenate(km),
            "load": n_ids - (taken[stop0 + leg] - taken[stop0]),
            "stop_min": stop_min,
        }
        order = _arrival_order(clock, cols["run"], leg)
        order = order[cols["arrive"][order] < end]
        return cls(**{n: c[order] for n, c in cols.items()})


def _arrival_order(clock: np.ndarray, run: np.ndarray, leg: np.ndarray) -> np.ndarray:
    """Legs in the order of their arrival events.

    ``clock`` holds each leg's departure and arrival in turn, run after run (leg ``g``
    leaves at ``clock[2 * g]`` and arrives at ``clock[2 * g + 1]``), and ``leg`` the place of
    each leg in its run. By time; legs arriving at the same moment in the order the clock
    scheduled them: by their departure, then the arrival before it, and so on back to the
    runs' starts (a run that started there first), then by run.
    """
    depart, arrive = clock[0::2], clock[1::2]
    order = np.lexsort((leg, run, depart, arrive))
    # Legs that leave and arrive together: in the order of their runs, as sorted, when
    # their runs' clocks agree up to there (vehicles in step); else in clock order.
    i = np.flatnonzero((np.diff(arrive[order]) == 0) & (np.diff(depart[order]) == 0))
    if not len(i) or _in_step(clock, leg, order[i], order[i + 1]):
        return order
    tie = np.flatnonzero(np.diff(arrive[order]) == 0)
    starts = tie[np.r_[True, np.diff(tie) > 1]]
    ends = tie[np.r_[np.diff(tie) > 1, True]] + 2
    for a, b in zip(starts, ends):
        group = order[a:b]
        chain = [tuple(clock[2 * (g - leg[g]) : 2 * g + 2][::-1].tolist()) for g in group]
        order[a:b] = group[sorted(range(len(group)), key=lambda k: (chain[k], run[group[k]]))]
    return order


def _in_step(clock: np.ndarray, leg: np.ndarray, x: np.ndarray, y: np.ndarray) -> bool:
    """Whether each leg of ``x`` has the same place in its run as that of ``y``, and their
    runs the same clock up to its arrival."""
    if not np.array_equal(leg[x], leg[y]):
        return False
    n = 2 * leg[x] + 2  # clock entries of the run up to the leg's arrival
    offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    first_x, first_y = np.repeat(2 * (x - leg[x]), n), np.repeat(2 * (y - leg[y]), n)
    return bool(np.array_equal(clock[first_x + offset], clock[first_y + offset]))


@dataclass
class _Run:
    """What one county and replication produced (see :func:`_simulate`)."""

    parcels: _Parcels
    trips: _Trips
    on_vehicle: np.ndarray
    outbound: Outbound
    out_on_vehicle: np.ndarray
    skipped: list[tuple]
    end: float
    stage: np.ndarray | None = None  # inbound parcels' stage codes at ``end``


@dataclass(eq=False)
class State:
    """What the processes of one county and replication share (built by ``_new_state``).

    Attributes
    ----------
    p, o
        The inbound and outbound parcel arrays.
    trips, skipped
        Vehicle legs, one :class:`_RunLegs` per run, and village loops not driven (vehicle
        index, day, villages, planned).
    drops
        Parcels dropped at village points without a locker, when, their villages (or
        None) and their loop's departure if not yet stamped (or None), not yet stamped
        (see :func:`~sim.engine.stops.flush_drops`).
    out_on_vehicle
        Vehicle index holding each outbound parcel (-1 when none); for inbound parcels
        ``_simulate`` finds them from the runs still under way at the end.
    out_board
        When the vehicle carrying an outbound parcel took it on.
    wake
        Event the trunk waves trigger to wake an idle sorter.
    shuttle_queues
        One queue per shuttle, then one per bus line.
    town_queues
        Per township, one queue per lane (one per carrier, then a shared one); see
        :func:`~sim.engine.township.queue_of`.
    multi_visit
        Per village: more than one vehicle (loops of several lanes, a bus) stops there.
    delay_by_kind, delay_by_village
        Mean pickup delay in hours by point kind (NaN for door delivery), and at each
        village's point.
    has_locker, has_door
        Some village point of the county is a locker; some village has door delivery.
    shared, all_shared
        Per township: its village vehicles are shared (co-delivery); all of them are.
    chained
        Per vehicle: it drives a leg (from, to) that another vehicle also drives, so the two
        may arrive at the same moment; its runs step through every leg and stop as events.
    out_village, out_town, out_centre
        Outbound queues at villages, townships and the county centre.
    lockers
        Release times (pickup or return) of the parcels in each village's locker.
    n_sh, n_vv
        Index of the first village vehicle and of the first bus among the vehicles.
    runs
        Number of vehicle runs (base -> stops -> base) so far.
    """

    county: County
    sc: Scenario
    env: simpy.Environment
    p: _Parcels
    n_days: int
    trips: list[_RunLegs]
    drops: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, float | None]]
    skipped: list[tuple]
    sorter_queue: _Fifo
    route_of_township: np.ndarray
    shuttle_queues: list[_Fifo]
    n_sh: int
    bus_of: np.ndarray | None
    bus_share: np.ndarray
    n_c: int
    town_queues: list[_LaneQueue]
    multi_visit: np.ndarray
    delay_by_kind: np.ndarray
    has_locker: bool
    chained: list[bool]
    shared: np.ndarray
    all_shared: bool
    has_door: bool
    delay_by_village: np.ndarray
    wake: simpy.Event
    hold_min: float
    town_delay_h: float
    per_km_h: float
    locker_cap: int
    lockers: list[np.ndarray]
    rate_per_min: float
    shifts: list[tuple[int, int]]
    o: Outbound
    has_out: bool
    out_board: np.ndarray
    out_on_vehicle: np.ndarray
    out_village: list[_Fifo]
    out_town: list[_Fifo]
    out_centre: _Fifo
    shuttle_deps: list[int]
    loop_deps: list[tuple[int, bool]]
    n_vv: int
    lines: dict[str, BusLine]
    runs: int = 0
