"""Village loops from a vehicle-routing solver (PyVRP), for ``planning.method: optimise``.

One township's lane is one capacitated routing problem: the township point is the depot, its
villages are the clients, each with one load dimension per weekday (what the vehicle carries
there on that day of a fixed weekly loop), and every loop must stay within the vehicle's
capacity, the longest loop allowed and the range left for one departure. With loops planned per
weekday (``planning.routes: daily``) a problem is one weekday's: the villages due that day, one
load dimension. The solver minimises
km; a van then drives several loops a day (the planner assigns loops to vans afterwards).

PyVRP works in integers: minutes become seconds, km become metres, loads hundredths of a
parcel, each rounded so that a loop it accepts is also accepted in the floats (the planner
checks every loop again and falls back to its own plan otherwise). The search stops after a
number of iterations without improvement, never on the clock, so that the same problem and
seed give the same loops on any machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Units PyVRP's integers count: seconds per minute, metres per km, hundredths of a parcel.
_SECONDS, _METRES, _LOAD = 60, 1000, 100


@dataclass(frozen=True)
class LoopProblem:
    """The loops of one township lane to plan.

    Attributes
    ----------
    base
        Facility index of the township point.
    stops
        Facility indices of the villages to visit.
    time_min, km
        Travel minutes and km between facilities (indexed by facility).
    load
        Parcels a visit carries on each day, per facility, shape (facilities, days): 7
        weekdays for a weekly loop, one column for a day's loop.
    capacity
        Parcels a loop may carry.
    max_min
        Longest loop, minutes, stops included.
    max_km
        Longest loop, km.
    stop_min
        Minutes at each village.
    mode
        ``"weekly"`` or ``"daily"`` (``planning.routes``), part of the cache key.
    """

    base: int
    stops: np.ndarray
    time_min: np.ndarray
    km: np.ndarray
    load: np.ndarray
    capacity: float
    max_min: float
    max_km: float
    stop_min: float
    mode: str = "weekly"

    def key(self, iterations: int, seed: int) -> str:
        """A hash of the problem and the search settings (for a cache of plans)."""
        nodes = np.concatenate([[self.base], self.stops])
        h = hashlib.sha256()
        for a in (
            nodes.astype(np.int64),
            self.time_min[np.ix_(nodes, nodes)],
            self.km[np.ix_(nodes, nodes)],
            self.load[self.stops],
            np.array([self.capacity, self.max_min, self.max_km, self.stop_min, iterations, seed]),
        ):
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        if self.mode != "weekly":  # weekly keys stay those of plans cached before modes
            h.update(f"{self.mode}:{self.load.shape[1]}".encode())
        return h.hexdigest()[:24]


def solve_loops(problem: LoopProblem, *, iterations: int, seed: int) -> list[np.ndarray] | None:
    """Loops (facility indices in driving order) of least km, or None when the solver finds
    no plan within every limit.

    ``iterations`` is the number of iterations without improvement after which the search
    stops (at most 20 times as many in all).
    """
    from pyvrp import Model
    from pyvrp.stop import MaxIterations, MultipleCriteria, NoImprovement

    p = problem
    nodes = np.concatenate([[p.base], p.stops]).astype(np.int64)
    n = len(p.stops)
    if n == 0:
        return []
    t = p.time_min[np.ix_(nodes, nodes)]
    d = p.km[np.ix_(nodes, nodes)]
    m = Model()
    locs = [m.add_location(x=0.0, y=0.0, name=str(f)) for f in nodes]
    depot = m.add_depot(locs[0])
    m.add_vehicle_type(
        num_available=n,
        capacity=[int(np.floor(p.capacity * _LOAD))] * p.load.shape[1],
        start_depot=depot,
        end_depot=depot,
        shift_duration=_floor(p.max_min * _SECONDS),
        max_distance=_floor(p.max_km * _METRES),
    )
    demand = np.ceil(p.load[p.stops] * _LOAD).astype(np.int64)
    for i in range(n):
        m.add_client(
            locs[i + 1],
            delivery=[int(x) for x in demand[i]],
            service_duration=int(np.ceil(p.stop_min * _SECONDS)),
        )
    for i in range(n + 1):
        for j in range(n + 1):
            if i != j:
                m.add_edge(
                    locs[i],
                    locs[j],
                    distance=int(np.ceil(d[i, j] * _METRES)),
                    duration=int(np.ceil(t[i, j] * _SECONDS)),
                )
    stop = MultipleCriteria([NoImprovement(iterations), MaxIterations(20 * iterations)])
    result = m.solve(stop, seed=seed, display=False, collect_stats=False)
    if not result.is_feasible():
        return None
    loops = []
    for route in result.best.routes():
        # A client activity's index counts the clients in the order they were added.
        visits = [a.idx for a in route if a.is_client()]
        loops.append(p.stops[np.asarray(visits, dtype=np.int64)])
    return sorted(loops, key=lambda lp: tuple(lp.tolist()))


def _floor(x: float) -> int:
    """``x`` rounded down to an int, with no limit (inf) as PyVRP's largest."""
    return int(np.floor(x)) if np.isfinite(x) else np.iinfo(np.int64).max


def cached_loops(
    problem: LoopProblem, *, iterations: int, seed: int, folder: Path | None
) -> list[np.ndarray] | None:
    """:func:`solve_loops`, kept in ``folder`` under the problem's :meth:`~LoopProblem.key`
    (the same problem and settings are solved once: a sweep's variants share their plans).
    A cached "no plan" is kept too; ``folder`` None solves every time."""
    path = None if folder is None else folder / f"{problem.key(iterations, seed)}.json"
    if path is not None and path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved is None:
                return None
            return [np.asarray(lp, dtype=np.int64) for lp in saved]
        except (OSError, ValueError):
            pass  # unreadable: solve again and overwrite
    loops = solve_loops(problem, iterations=iterations, seed=seed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            body = None if loops is None else [lp.tolist() for lp in loops]
            tmp.write_text(json.dumps(body), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return loops
