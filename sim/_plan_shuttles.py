"""Grouping the townships among the shuttles: contiguous groups of the sweep around the centre.

First the longest tour is minimised (the plan before km were planned); then, under that
longest tour as a cap, the groups with the least km in all are searched over every rotation
and both directions of the sweep by dynamic programming, with as many groups as the first plan.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: A group of township facilities -> minutes (or km) of its nearest-neighbour tour.
TourCost = Callable[[list[int]], float]


def minmax_groups(
    sweep: np.ndarray, n: int, tour: TourCost, fits: Callable[[list[int]], bool]
) -> list[list[int]] | None:
    """Contiguous groups (at most ``n``) of a rotation of the sweep with the shortest longest tour.

    Each group must satisfy ``fits`` (its daily volume within the shuttle's capacity); None
    when no rotation can be cut into ``n`` groups that do.
    """

    def split(order: np.ndarray, limit: float) -> list[list[int]] | None:
        groups: list[list[int]] = [[]]
        for f in order:
            trial = [*groups[-1], int(f)]
            if groups[-1] and (tour(trial) > limit or not fits(trial)):
                groups.append([int(f)])
                if len(groups) > n:
                    return None
            else:
                groups[-1] = trial
        return groups

    best: list[list[int]] | None = None
    for shift in range(len(sweep)):
        order = np.roll(sweep, shift)
        lo, hi = 0.0, tour([int(f) for f in order]) + 1.0
        if split(order, hi) is None:
            continue
        for _ in range(14):  # bisect the longest tour allowed (to ~1e-4 of it)
            mid = (lo + hi) / 2
            if split(order, mid) is None:
                lo = mid
            else:
                hi = mid
        groups = split(order, hi)
        if groups and (best is None or max(map(tour, groups)) < max(map(tour, best))):
            best = groups
    return best


def least_km_groups(
    sweep: np.ndarray,
    start: list[list[int]],
    tour_km: TourCost,
    feasible: Callable[[list[int]], bool],
) -> list[list[int]]:
    """Contiguous groups of the sweep with the least km in all, as many as ``start`` has.

    Every rotation of the sweep, forward then backward, is cut by dynamic programming into
    ``len(start)`` groups that are each ``feasible`` (tour within the cap, volume, range);
    a window stops growing at its first infeasible extension. ``start`` (feasible by
    construction) is kept unless a plan is shorter, so the result is never longer.
    """
    g = len(start)
    best, best_km = start, sum(map(tour_km, start))
    n = len(sweep)
    for seq in (sweep, sweep[::-1]):
        for shift in range(n):
            order = [int(f) for f in np.roll(seq, -shift)]
            groups, total = _dp(order, g, tour_km, feasible)
            if groups is not None and total < best_km - 1e-9:
                best, best_km = groups, total
    return best


def _dp(
    order: list[int], g: int, tour_km: TourCost, feasible: Callable[[list[int]], bool]
) -> tuple[list[list[int]] | None, float]:
    """Cut ``order`` into exactly ``g`` feasible contiguous groups with the least km."""
    n = len(order)
    reach: list[list[int]] = [[] for _ in range(n)]  # reach[i]: ends j of feasible [i, j)
    for i in range(n):
        for j in range(i + 1, n + 1):
            if not feasible(order[i:j]):
                break
            reach[i].append(j)
    cost = np.full((g + 1, n + 1), np.inf)
    back = np.zeros((g + 1, n + 1), dtype=np.int64)
    cost[0, 0] = 0.0
    for k in range(1, g + 1):
        for i in range(n):
            if not np.isfinite(cost[k - 1, i]):
                continue
            for j in reach[i]:
                c = cost[k - 1, i] + tour_km(order[i:j])
                if c < cost[k, j] - 1e-12:
                    cost[k, j], back[k, j] = c, i
    if not np.isfinite(cost[g, n]):
        return None, np.inf
    groups, j = [], n
    for k in range(g, 0, -1):
        i = int(back[k, j])
        groups.append(order[i:j])
        j = i
    return groups[::-1], float(cost[g, n])
