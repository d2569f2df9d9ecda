"""Search helpers of the route planner: tour costs, multi-start sweep cuts, 2-opt and or-opt.

Costs of many candidate tours are evaluated at once on numpy arrays. A tour leaves its base,
visits its stops in order and returns; on each day (a column of ``days``) it visits only the
stops due that day, in the same order. Everything here is deterministic: ties keep the first
candidate in a fixed enumeration order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from sim._plan_lane import LaneLoops, Limits

#: Nearest villages a village may join or swap with when loops exchange villages.
_NEAR = 10


def nn_order(stops: list[int] | tuple[int, ...] | np.ndarray, base: int, tmat) -> np.ndarray:
    """Order stops by nearest neighbour from the base (a simple open tour).

    Ties go to the stop listed first.
    """
    idx = [base, *(int(f) for f in stops)]
    sub = tmat[np.ix_(idx, idx)].tolist()
    left = list(range(1, len(idx)))
    order: list[int] = []
    here = 0
    while left:
        row = sub[here]
        here = min(left, key=row.__getitem__)
        order.append(idx[here])
        left.remove(here)
    return np.array(order, dtype=np.int64)


def tour_minutes(order: np.ndarray, base: int, tmat: np.ndarray, stop_min: float) -> float:
    """Minutes (or km, with a km matrix and no stop time) of base -> stops -> base."""
    path = np.concatenate([[base], order, [base]])
    return float(tmat[path[:-1], path[1:]].sum() + stop_min * len(order))


def day_costs(
    orders: np.ndarray, base: int, mat: np.ndarray, stop_min: float, days: np.ndarray
) -> np.ndarray:
    """Cost of each candidate tour on each day, visiting only the stops due that day.

    Parameters
    ----------
    orders
        Shape (M, k): M candidate orders of the same k facilities.
    base
        Facility index where every tour starts and ends.
    mat
        Facility matrix (minutes or km).
    stop_min
        Added per stop visited (0 with a km matrix).
    days
        Shape (F, D): whether facility f is visited on day d.

    Returns
    -------
    numpy.ndarray
        Shape (M, D); 0 on a day without a stop.
    """
    m, k = orders.shape
    n_days = days.shape[1]
    path = np.concatenate(
        [np.full((m, 1), base), orders, np.full((m, 1), base)], axis=1, dtype=np.int64
    )
    due = days[orders]  # (M, k, D)
    mask = np.ones((m, k + 2, n_days), dtype=bool)
    mask[:, 1:-1] = due
    pos = np.arange(k + 2)[None, :, None]
    last = np.maximum.accumulate(np.where(mask, pos, 0), axis=1)
    prev = np.concatenate([np.zeros((m, 1, n_days), dtype=np.int64), last[:, :-1]], axis=1)
    src = path[np.arange(m)[:, None, None], prev]
    legs = np.where(mask, mat[src, path[:, :, None]], 0.0)
    legs[:, 0] = 0.0
    n_due = due.sum(axis=1)
    return np.where(n_due > 0, legs.sum(axis=1) + stop_min * n_due, 0.0)


def loop_stats(
    stops, base: int, mats: tuple[np.ndarray, np.ndarray], days_of, stop_min: float
) -> tuple[np.ndarray, float, float, float]:
    """Nearest-neighbour order of a loop, its km over all days, its longest day in minutes and km.

    The same as :func:`nn_order` and :func:`day_costs` on one loop, on Python lists of the
    loop's submatrices (faster for the few stops of one loop).
    """
    idx = np.array([base, *stops], dtype=np.int64)
    ts = mats[0][idx[:, None], idx].tolist()
    ks = mats[1][idx[:, None], idx].tolist()
    left, pos, here = list(range(1, len(idx))), [], 0
    while left:
        row = ts[here]
        here = min(left, key=row.__getitem__)
        pos.append(here)
        left.remove(here)
    order = idx[pos]
    total = long_min = long_km = 0.0
    patterns: dict[tuple[bool, ...], int] = {}  # days with the same villages due cost the same
    for due in days_of[order].T.tolist():
        patterns[tuple(due)] = patterns.get(tuple(due), 0) + 1
    for due, times in patterns.items():
        prev, t, k, n = 0, 0.0, 0.0, 0
        for p, on in zip(pos, due):
            if on:
                t, k, prev, n = t + ts[prev][p], k + ks[prev][p], p, n + 1
        if n:
            t, k = t + ts[prev][0] + stop_min * n, k + ks[prev][0]
            total, long_min, long_km = total + k * times, max(long_min, t), max(long_km, k)
    return order, total, long_min, long_km


def fits(stops: np.ndarray, base: int, mats, load_on, days_of, limits: Limits) -> bool:
    """Whether a loop's nearest-neighbour order keeps every limit on every day."""
    cap, max_min, max_km, stop_min = limits
    if load_on[stops].sum(axis=0).max() > cap:
        return False
    _, _, minutes, km = loop_stats(stops, base, mats, days_of, stop_min)
    return minutes <= max_min and km <= max_km


def _greedy_end(ext: np.ndarray, i: int, stop: int, base: int, mats, load_on, days_of, limits):
    """The end (exclusive) of the greedy loop that starts at ``ext[i]`` and may reach ``stop``."""
    j = i + 1
    while j < stop and fits(ext[i : j + 1], base, mats, load_on, days_of, limits):
        j += 1
    return j


def cut_loops(facs, base, tmat, kmat, load_on, days_of, limits: Limits) -> list[np.ndarray]:
    """Cut a sweep of village facilities into loops within capacity, duration and range.

    A loop grows along the sweep while its nearest-neighbour order keeps every limit on every
    weekday (over the villages due that day); the next village starts a new loop.
    """
    facs = np.asarray(facs, dtype=np.int64)
    loops, i = [], 0
    while i < len(facs):
        j = _greedy_end(facs, i, len(facs), base, (tmat, kmat), load_on, days_of, limits)
        loops.append(nn_order(facs[i:j], base, tmat))
        i = j
    return loops


def multi_start_loops(
    facs: np.ndarray, base: int, tmat, kmat, load_on, days_of, limits: Limits
) -> list[np.ndarray]:
    """The cheapest greedy cut of the sweep over every starting village and both directions.

    Each candidate starts the sweep at one village (forward, then backward) and cuts it by
    the rules of :func:`cut_loops`; the plan with the least km over the week wins, ties to
    fewer loops, then to the first candidate (the plain sweep), so the result is never longer
    than :func:`cut_loops`. Greedy loops depend only on where they start, so each start's
    loop is computed once and shared by every rotation.
    """
    lane = LaneLoops(facs, base, (tmat, kmat), load_on, days_of, limits)
    return _multi_start(lane, np.asarray(facs, dtype=np.int64), tmat)


def _multi_start(lane: LaneLoops, facs: np.ndarray, tmat) -> list[np.ndarray]:
    """:func:`multi_start_loops` on a lane's local indices (see :class:`LaneLoops`)."""
    n = len(facs)
    best: tuple[float, int] | None = None
    plan: tuple[np.ndarray, list[tuple[int, int]]] = (facs, [])
    seqs = [facs, facs[::-1].copy()] if n > 2 else [facs]
    exts = [np.concatenate([seq, seq]) for seq in seqs]
    locs = [lane.to_local(ext) for ext in exts]
    all_ends = lane.greedy_ends(locs, n)
    cuts = [[_rotation_cut(ends, s, n) for s in range(n)] for ends in all_ends]
    lane.prime([tuple(loc[i:j]) for loc, rot in zip(locs, cuts) for loops in rot for i, j in loops])
    for ext, loc, rot in zip(exts, locs, cuts):
        km_of: dict[tuple[int, int], float] = {}
        for loops in rot:
            total = 0.0
            for i, j in loops:
                key = (i % n, j - i)
                if key not in km_of:
                    km_of[key] = lane.stats(tuple(loc[i:j]))[1]
                total += km_of[key]
            if (
                best is None
                or total < best[0] - 1e-9
                or (total <= best[0] + 1e-9 and len(loops) < best[1])
            ):
                best = (total, len(loops))
                plan = (ext, loops)
    ext, loops = plan
    return [nn_order(ext[a:b], lane.ids[0], tmat) for a, b in loops]


def _rotation_cut(ends: list[int], s: int, n: int) -> list[tuple[int, int]]:
    """The greedy loops (start, end in the extended sweep) of the rotation starting at ``s``."""
    loops, i = [], s
    while i < s + n:
        j = min(i + ends[i % n] - i % n, s + n)
        loops.append((i, j))
        i = j
    return loops


@functools.lru_cache(maxsize=64)
def _moves(k: int) -> np.ndarray:
    """Index permutations of a k-stop tour: every 2-opt reversal and or-opt move (1-3 stops).

    Cached by ``k`` (read-only).
    """
    a = np.arange(k)
    i, j = np.triu_indices(k, 1)
    two = np.where((a >= i[:, None]) & (a <= j[:, None]), i[:, None] + j[:, None] - a, a)
    rows = [two]
    for size in (1, 2, 3):
        for s in range(k - size + 1):
            seg, rest = a[s : s + size], np.concatenate([a[:s], a[s + size :]])
            for p in range(len(rest) + 1):
                if p != s:
                    rows.append(np.concatenate([rest[:p], seg, rest[p:]])[None])
    out = np.unique(np.concatenate(rows), axis=0)
    out.flags.writeable = False
    return out


def improve_order(
    order: np.ndarray,
    base: int,
    tmat: np.ndarray,
    kmat: np.ndarray,
    days: np.ndarray,
    *,
    stop_min: float,
    max_min: float,
    max_km: float,
) -> np.ndarray:
    """Shorten a tour by 2-opt and or-opt moves, keeping its minutes and km within limits.

    Each round applies the move that saves the most km over all days (best improvement);
    a move is accepted only if every day's minutes stay within ``max_min`` and km within
    ``max_km`` (or within the tour's own values, when it already exceeds them).
    """
    k = len(order)
    if k < 3:
        return order
    perms = _moves(k)
    cur = np.asarray(order, dtype=np.int64)
    cur_km = day_costs(cur[None], base, kmat, 0.0, days)[0]
    cur_min = day_costs(cur[None], base, tmat, stop_min, days)[0]
    lim_min, lim_km = max(max_min, cur_min.max()), max(max_km, cur_km.max())
    for _ in range(4 * k):
        cand = cur[perms]
        km = day_costs(cand, base, kmat, 0.0, days)
        gain = cur_km.sum() - km.sum(axis=1)
        ok = (gain > 1e-9) & (km.max(axis=1) <= lim_km)
        if not ok.any():
            break
        minutes = day_costs(cand[ok], base, tmat, stop_min, days)
        fine = minutes.max(axis=1) <= lim_min
        if not fine.any():
            break
        idx = np.flatnonzero(ok)[fine]
        b = int(idx[np.argmax(gain[idx])])
        cur, cur_km = cand[b], km[b]
    return cur


def exchange(
    groups: list[list[int]],
    tour_km: Callable[[list[int]], float],
    feasible: Callable[[list[int]], bool],
    near: dict[int, set[int]] | None = None,
    prepare: Callable[[list[Move]], list[tuple[Move, float, float]]] | None = None,
) -> list[list[int]]:
    """Move or swap stops between groups while that saves km and keeps every group feasible.

    Each round applies the best move (a stop to another group, or two stops of two groups
    swapped), ties to the first found; no group is emptied, so every vehicle keeps its route.
    Used for shuttle groups (townships) and for the loops of a lane (villages). With
    ``near`` (each stop's nearest stops), a stop only moves to a group holding one of them
    and only swaps with one of them (a granular neighbourhood, for speed). ``prepare``, given
    a round's candidate moves in order, returns them with the ``tour_km`` of their two new
    groups (priced all at once, say), less moves whose groups ``feasible`` would certainly
    refuse; the result is the same.

    Notes
    -----
    The moves of a stop ``x`` of group ``a`` to (or with) group ``b`` only change when ``a``
    or ``b`` does: each such set keeps its best feasible move (the first of the largest gain)
    until then, and a round weighs the sets in order, ties to the first; which is the first
    move of the largest gain of the round, as if every move were weighed in order.
    """
    groups = [list(g) for g in groups]
    best_of: dict[tuple[int, int, int], tuple[float, Move | None]] = {}
    fresh: set[tuple[int, int]] = set()  # pairs of groups whose best moves are known
    for _ in range(10 * sum(map(len, groups))):
        moves = _candidate_moves(groups, near, fresh)
        if prepare is None:
            priced = [(mv, tour_km(mv[3]), tour_km(mv[4])) for mv in moves]
        else:
            priced = prepare(moves)
        km = [tour_km(g) for g in groups]
        pairs = [(a, b) for a in range(len(groups)) for b in range(len(groups)) if a != b]
        for a, b in pairs:
            if (a, b) not in fresh:
                best_of.update(((a, x, b), (1e-9, None)) for x in groups[a])
        for mv, km_a, km_b in priced:
            a, b, x, new_a, new_b = mv
            gain = km[a] + km[b] - km_a - km_b
            if gain > best_of[a, x, b][0] and feasible(new_a) and feasible(new_b):
                best_of[a, x, b] = (gain, mv)
        fresh = set(pairs)
        best_move = _first_best(groups, best_of)
        if best_move is None:
            break
        a, b, _, new_a, new_b = best_move
        groups[a], groups[b] = new_a, new_b
        fresh = {p for p in fresh if a not in p and b not in p}
    return groups


#: A candidate move of :func:`exchange`: groups a and b, the stop x of a that moves (or swaps),
#: and what a and b would hold.
Move = tuple[int, int, int, list[int], list[int]]


def _first_best(
    groups: list[list[int]], best_of: dict[tuple[int, int, int], tuple[float, Move | None]]
) -> Move | None:
    """The move of the largest gain over every stop and group, ties to the first in order."""
    best_gain, best_move = 1e-9, None
    for a, ga in enumerate(groups):
        for x in ga:
            for b in range(len(groups)):
                if b != a:
                    gain, move = best_of[a, x, b]
                    if gain > best_gain:
                        best_gain, best_move = gain, move
    return best_move


def _candidate_moves(
    groups: list[list[int]], near: dict[int, set[int]] | None, skip: set[tuple[int, int]]
) -> list[Move]:
    """The moves of a round of :func:`exchange` between groups not in ``skip``, in order."""
    out: list[Move] = []
    for a, ga in enumerate(groups):
        for x in ga:
            rest = [f for f in ga if f != x]
            for b, gb in enumerate(groups):
                if b == a or (a, b) in skip:
                    continue
                close = gb if near is None else [y for y in gb if y in near[x]]
                if rest and close:
                    out.append((a, b, x, rest, [*gb, x]))
                out += [
                    (a, b, x, [*rest, y], [f for f in gb if f != y] + [x]) for y in close if y > x
                ]
    return out


def plan_lane(facs, base, tmat, kmat, load_on, days_of, limits: Limits) -> list[np.ndarray]:
    """Loops of one lane: the best multi-start sweep cut, each loop then shortened.

    See :func:`multi_start_loops`, :func:`exchange_loops` and :func:`improve_order`;
    every limit of ``limits`` still holds on every weekday after the improvement.
    """
    _, max_min, max_km, stop_min = limits
    lane = LaneLoops(facs, base, (tmat, kmat), load_on, days_of, limits)
    loops = _multi_start(lane, np.asarray(facs, dtype=np.int64), tmat)
    if len(loops) > 1:
        loops = _exchange_loops(lane, loops, kmat)
    return [
        improve_order(
            lp, base, tmat, kmat, days_of, stop_min=stop_min, max_min=max_min, max_km=max_km
        )
        for lp in loops
    ]


def exchange_loops(loops, base, tmat, kmat, load_on, days_of, limits: Limits):
    """Move and swap villages between a lane's loops while that saves km within every limit."""
    lane = LaneLoops(np.concatenate(loops), base, (tmat, kmat), load_on, days_of, limits)
    return _exchange_loops(lane, loops, kmat)


def _exchange_loops(lane: LaneLoops, loops: list[np.ndarray], kmat) -> list[np.ndarray]:
    """:func:`exchange_loops` on a lane's local indices (see :class:`LaneLoops`)."""

    def week_km(group: list[int]) -> float:
        return lane.stats(tuple(sorted(group)))[1]

    def feasible(group: list[int]) -> bool:
        return lane.fits(tuple(sorted(group)))

    def prepare(moves: list[Move]) -> list[tuple[Move, float, float]]:
        # A move whose load breaks the capacity is refused by ``feasible`` whatever its gain.
        keyed = [(mv, tuple(sorted(mv[3])), tuple(sorted(mv[4]))) for mv in moves]
        lane.prime_loads([k for _, ka, kb in keyed for k in (ka, kb)])
        ok = lane.load_ok
        keep = [x for x in keyed if ok[x[1]] and ok[x[2]]]
        lane.prime([k for _, ka, kb in keep for k in (ka, kb)])
        cache = lane.cache
        return [(mv, cache[ka][1], cache[kb][1]) for mv, ka, kb in keep]

    stops = np.concatenate(loops)
    dist = np.minimum(kmat[np.ix_(stops, stops)], kmat[np.ix_(stops, stops)].T)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, 1 : _NEAR + 1]
    loc = lane.to_local(stops)
    near = {p: {loc[g] for g in row} for p, row in zip(loc, nearest.tolist())}
    groups = exchange([lane.to_local(lp) for lp in loops], week_km, feasible, near, prepare)
    return [lane.to_facs(lane.order(tuple(sorted(g)))) for g in groups]
