"""Per-run state shared by the processes: parcel arrays, queues, trips and counters.

Parcels are rows of numpy arrays (:class:`_Parcels`); a queue is a FIFO of array chunks
(:class:`_Fifo`), and loading a vehicle takes the first ``k`` ready parcels of a queue in one
operation. :class:`State` holds everything one county and replication share; each process
receives it explicitly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy

from sim.outbound import Outbound
from sim.scenario import BusLine, Scenario
from sim.world import County


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

    def head_ready_times(self, k: int) -> np.ndarray:
        """Ready times of the first ``k`` parcels (without removing them)."""
        out = []
        for ids, ready in self._chunks:
            if k <= 0:
                break
            m = min(k, len(ids))
            out.append(np.full(m, ready) if isinstance(ready, float) else ready[:m])
            k -= m
        return np.concatenate(out) if out else np.empty(0)


@dataclass
class _Parcels:
    """Columnar parcel state of one replication (mutated only by the engine)."""

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


def _load_fifo(queues: list[_Fifo], cap: int, now: float) -> np.ndarray:
    """Take up to ``cap`` ready parcels from several queues, earliest-ready first."""
    ready = np.array([q.n_ready(now) for q in queues])
    if ready.sum() > cap:
        times = np.concatenate([q.head_ready_times(k) for q, k in zip(queues, ready)])
        owner = np.repeat(np.arange(len(queues)), ready)
        order = np.lexsort((owner, times))[:cap]
        ready = np.bincount(owner[order], minlength=len(queues))
    parts = [q.take(int(k)) for q, k in zip(queues, ready) if k]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


@dataclass
class _Run:
    """What one county and replication produced (see :func:`_simulate`)."""

    parcels: _Parcels
    trips: list[tuple]
    on_vehicle: np.ndarray
    outbound: Outbound
    out_on_vehicle: np.ndarray
    skipped: list[tuple]
    end: float


@dataclass(eq=False)
class State:
    """What the processes of one county and replication share (built by ``_new_state``).

    Attributes
    ----------
    p, o
        The inbound and outbound parcel arrays.
    trips, skipped
        Vehicle legs and village loops not driven (vehicle index, day, villages, planned).
    on_vehicle, out_on_vehicle
        Vehicle index holding each inbound or outbound parcel (-1 when none).
    out_board
        When the vehicle carrying an outbound parcel took it on.
    wake
        Event the trunk waves trigger to wake an idle sorter.
    shuttle_queues
        One queue per shuttle, then one per bus line.
    village_queues
        Per lane (one per carrier, then a shared one), one queue per village.
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
    trips: list[tuple]
    skipped: list[tuple]
    on_vehicle: np.ndarray
    sorter_queue: _Fifo
    route_of_township: np.ndarray
    shuttle_queues: list[_Fifo]
    n_sh: int
    bus_of: np.ndarray | None
    bus_share: np.ndarray
    n_v: int
    n_c: int
    village_queues: list[_Fifo]
    shared: np.ndarray
    wake: simpy.Event
    hold_min: float
    point_delay_h: dict[int, float]
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
