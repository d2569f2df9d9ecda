"""Loop statistics of one lane's villages on Python lists, for the route planner's searches.

The sweep cuts and the loop exchange of :mod:`sim._plan_search` price tens of thousands of
small loops per county. :class:`LaneLoops` takes the lane's submatrices, loads and weekdays
once as Python lists and integer bit masks (local indices, 0 = the base), so that each loop
costs a few list look-ups. Its figures are those of :func:`sim._plan_search.loop_stats` and
:func:`sim._plan_search.fits` to the last bit: the same nearest-neighbour order (ties to the
stop listed first) and the same additions in the same order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

#: Limits of one loop: (capacity per visit, minutes per day, km per departure, stop minutes).
Limits = tuple[float, float, float, float]

#: Fewest loops worth pricing at once with numpy; fewer go one by one.
_BATCH = 12

#: (nearest-neighbour order in local indices, or None when priced in a batch (see
#: :meth:`LaneLoops.order`), km over all days, longest day minutes and km).
Stats = tuple[list[int] | None, float, float, float]


class LaneLoops:
    """A lane's facilities, limits and a cache of loop statistics.

    Parameters
    ----------
    facs
        Facility indices of the lane's villages (any order).
    base
        Facility index of the township point the loops start from.
    mats
        Minutes and km matrices between facilities.
    load_on
        Shape (F, 7), or (F, 1) for one weekday: parcels per visit of each facility on each weekday.
    days_of
        Shape (F, 7), or (F, 1): whether a facility is visited on each weekday.
    limits
        Capacity per visit, minutes per day, km per departure, minutes per stop.

    Notes
    -----
    Local index ``p`` is facility ``ids[p]``; ``ids`` lists the base, then the villages in
    increasing facility order, so sorting local indices sorts facilities.
    """

    def __init__(self, facs, base: int, mats, load_on, days_of, limits: Limits) -> None:
        ids = np.array([base, *sorted({int(f) for f in facs})], dtype=np.int64)
        self.ids = ids
        self.local = {int(f): p for p, f in enumerate(ids.tolist())}
        sub = np.ix_(ids, ids)
        self.ts: list[list[float]] = mats[0][sub].tolist()
        self.ks: list[list[float]] = mats[1][sub].tolist()
        self.load_np = np.asarray(load_on[ids], dtype=np.float64)
        self.load: list[list[float]] = self.load_np.tolist()
        due = np.asarray(days_of[ids], dtype=bool)
        self.due = [
            sum(1 << p for p in np.flatnonzero(due[:, d]).tolist()) for d in range(due.shape[1])
        ]
        self.due_np = due
        both = np.empty(self.due_np.shape[:1] * 2, dtype=np.complex128)
        both.real, both.imag = mats[0][sub], mats[1][sub]
        self.mats = (mats[0][sub], mats[1][sub], both)
        # The batched path's masked argmin needs finite distances (an unreachable stop would
        # tie with the masked ones) and a bit per stop of a loop in an int64 day key.
        self.batched = bool(np.isfinite(both).all())
        self.limits = limits
        self.cache: dict[tuple[int, ...], Stats] = {}
        self.load_ok: dict[tuple[int, ...], bool] = {}

    def to_local(self, facs) -> list[int]:
        """Local indices of facilities, in their order."""
        return [self.local[int(f)] for f in facs]

    def to_facs(self, stops: Sequence[int]) -> np.ndarray:
        """Facility indices of local indices, in their order."""
        return self.ids[list(stops)]

    def stats(self, stops: tuple[int, ...]) -> Stats:
        """The nearest-neighbour order of a loop (local indices), km, longest day minutes, km.

        As :func:`sim._plan_search.loop_stats` with the lane's stop minutes; cached.
        """
        got = self.cache.get(stops)
        if got is None:
            got = self.cache[stops] = self._stats(stops)
        return got

    def _stats(self, stops: tuple[int, ...]) -> tuple[list[int], float, float, float]:
        ts, ks, stop_min = self.ts, self.ks, self.limits[3]
        left, pos, here = list(stops), [], 0
        while len(left) > 1:
            row = ts[here]
            here = min(left, key=row.__getitem__)
            pos.append(here)
            left.remove(here)
        pos += left
        mask = 0
        for p in stops:
            mask |= 1 << p
        patterns: dict[int, int] = {}  # days with the same villages due cost the same
        for d_mask in self.due:
            key = mask & d_mask
            patterns[key] = patterns.get(key, 0) + 1
        total = long_min = long_km = 0.0
        for key, times in patterns.items():
            if not key:
                continue
            prev, t, k, n = 0, 0.0, 0.0, 0
            for p in pos:
                if key >> p & 1:
                    t, k, prev, n = t + ts[prev][p], k + ks[prev][p], p, n + 1
            t, k = t + ts[prev][0] + stop_min * n, k + ks[prev][0]
            total, long_min, long_km = total + k * times, max(long_min, t), max(long_km, k)
        return pos, total, long_min, long_km

    def prime(self, keys: list[tuple[int, ...]]) -> None:
        """Compute the statistics of many loops at once (numpy), as :meth:`stats` would.

        The nearest-neighbour steps and each day's walk are the same comparisons and the same
        additions in the same order, on arrays of all the loops (adding 0.0 where a stop is
        not due leaves a sum unchanged); few loops, or matrices with unreachable pairs, go one
        by one.
        """
        todo = [k for k in dict.fromkeys(keys) if k not in self.cache]
        if not todo:
            return
        width = max(map(len, todo))
        if len(todo) < _BATCH or not self.batched or width > 62:
            for k in todo:
                self.cache[k] = self._stats(k)
            return
        stops, valid = _padded(todo, width)
        order = _nn_orders(self.mats[0], stops, valid)
        total, long_min, long_km = _walks(
            self.mats, self.due_np[order] & valid[:, :, None], order, self.limits[3]
        )
        for k, km, minutes, longest in zip(todo, total, long_min, long_km):
            self.cache[k] = (None, km, minutes, longest)

    def order(self, stops: tuple[int, ...]) -> list[int]:
        """The nearest-neighbour order of a loop (local indices), as :meth:`stats` gives it."""
        pos = self.stats(stops)[0]
        return self._stats(stops)[0] if pos is None else pos

    def within_time(self, stops: tuple[int, ...]) -> bool:
        """Whether a loop's longest day keeps the minutes and km limits (not the load)."""
        _, _, minutes, km = self.stats(stops)
        return minutes <= self.limits[1] and km <= self.limits[2]

    def load_fits(self, stops: Sequence[int]) -> bool:
        """Whether a loop's load, summed in the stops' order, keeps the capacity every day."""
        load = self.load
        acc = load[stops[0]]
        for p in stops[1:]:
            acc = [a + b for a, b in zip(acc, load[p])]
        return max(acc) <= self.limits[0]

    def fits(self, stops: tuple[int, ...]) -> bool:
        """As :func:`sim._plan_search.fits`: load, then minutes and km on every day."""
        return self.load_within(stops) and self.within_time(stops)

    def load_within(self, stops: tuple[int, ...]) -> bool:
        """:meth:`load_fits`, cached."""
        got = self.load_ok.get(stops)
        if got is None:
            got = self.load_ok[stops] = self.load_fits(stops)
        return got

    def prime_loads(self, keys: list[tuple[int, ...]]) -> None:
        """:meth:`load_within` of many loops at once: the same sums, in the same order."""
        todo = [k for k in dict.fromkeys(keys) if k not in self.load_ok]
        if len(todo) < _BATCH:
            for k in todo:
                self.load_ok[k] = self.load_fits(k)
            return
        width = max(map(len, todo))
        stops, valid = _padded(todo, width)
        valid = valid[..., None]
        load = self.load_np[stops]
        acc = load[:, 0]
        for i in range(1, width):
            acc = acc + np.where(valid[:, i], load[:, i], 0.0)
        for k, ok in zip(todo, (acc.max(axis=1) <= self.limits[0]).tolist()):
            self.load_ok[k] = ok

    def greedy_ends(self, exts: list[list[int]], n: int) -> list[list[int]]:
        """The greedy loops' ends from each of the first ``n`` starts of each extended sweep.

        As :func:`sim._plan_search._greedy_end` for every start (a loop from ``ext[i]`` may
        reach ``ext[i + n - 1]``), its load summed along the way; the loops of all starts
        grow a village at a time together, each step's loops priced at once
        (:meth:`prime`).
        """
        load, cap = self.load, self.limits[0]
        ends = [[0] * n for _ in exts]
        active = [(e, i, i + 1, load[ext[i]]) for e, ext in enumerate(exts) for i in range(n)]
        while active:
            grown = []
            for e, i, j, acc in active:
                ext = exts[e]
                if j >= i + n:
                    ends[e][i] = j
                    continue
                acc = [a + b for a, b in zip(acc, load[ext[j]])]
                if max(acc) > cap:
                    ends[e][i] = j
                    continue
                grown.append((e, i, j, acc, tuple(ext[i : j + 1])))
            self.prime([g[4] for g in grown])
            active = []
            for e, i, j, acc, key in grown:
                if self.within_time(key):
                    active.append((e, i, j + 1, acc))
                else:
                    ends[e][i] = j
        return ends


def _padded(keys: list[tuple[int, ...]], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Loops as rows of local indices padded with 0 to ``width``, and where the stops are."""
    valid = np.arange(width)[None, :] < np.fromiter(map(len, keys), np.int64, len(keys))[:, None]
    stops = np.zeros(valid.shape, dtype=np.int64)
    stops[valid] = list(itertools.chain.from_iterable(keys))
    return stops, valid


def _nn_orders(tmat: np.ndarray, stops: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Nearest-neighbour orders from local index 0 of many loops (rows of ``stops``).

    Each step takes the nearest stop not yet visited, ties to the first listed (argmin
    returns the first minimum); padding (``~valid``) is never taken while a stop is left.
    """
    m, width = stops.shape
    rows = np.arange(m)
    here = np.zeros(m, dtype=np.int64)
    avail = valid.copy()
    order = np.zeros_like(stops)
    for step in range(width):
        dist = np.where(avail, tmat[here[:, None], stops], np.inf)
        j = dist.argmin(axis=1)
        here = stops[rows, j]
        order[:, step] = here
        avail[rows, j] = False
    return order


def _walks(mats, due: np.ndarray, order: np.ndarray, stop_min: float):
    """Km over all days, longest day's minutes and km of many loops driven in ``order``.

    ``due`` (loops, stops, days): whether the stop at each position is visited that day. As
    :meth:`LaneLoops._stats`: days with the same villages due are priced once, times their
    number of days, in the order of their first day.
    """
    tmat, kmat, both = mats
    m, width = order.shape
    days = due.shape[2]  # 7, or 1 for one weekday's loops (planning.routes: daily)
    walk = np.zeros((m, days), dtype=np.complex128)  # minutes + 1j * km: added part by part
    prev = np.zeros((m, days), dtype=np.int64)
    n = np.zeros((m, days), dtype=np.int64)
    for i in range(width):
        on, dst = due[:, i, :], order[:, i : i + 1]
        walk = np.where(on, walk + both[prev, dst], walk)
        prev = np.where(on, dst, prev)
        n += on
    t = walk.real + tmat[prev, 0] + stop_min * n
    k = walk.imag + kmat[prev, 0]
    key = (due.astype(np.int64) << np.arange(width)[None, :, None]).sum(axis=1)
    same = key[:, :, None] == key[:, None, :]
    first = ~np.tril(same, -1).any(axis=2) & (n > 0)
    times = same.sum(axis=2)
    part = np.where(first, k * times, 0.0)
    total = part[:, 0]
    for d in range(1, days):  # summed in day order, as one by one
        total = total + part[:, d]
    on_day = n > 0
    long_min = np.where(on_day, t, 0.0).max(axis=1)
    long_km = np.where(on_day, k, 0.0).max(axis=1)
    return total.tolist(), long_min.tolist(), long_km.tolist()
