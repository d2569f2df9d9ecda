"""Grouping the townships among the shuttles: contiguous groups of the sweep around the centre.

First the longest tour is minimised (the plan before km were planned); then, under that
longest tour as a cap, the groups with the least km in all are searched over every rotation
and both directions of the sweep by dynamic programming, with as many groups as the first plan.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim._plan_search import exchange, tour_minutes

#: Km a shuttle plan may add to leave one expected parcel a day fewer behind at a departure.
_KM_PER_PARCEL_LEFT = 1.0

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


def _nn_from_centre(group: list[int], tmat: list[list[float]]) -> np.ndarray:
    """:func:`sim._plan_search.nn_order` from facility 0, on the matrix as Python lists."""
    left, order, here = list(group), [], 0
    while left:
        here = min(left, key=tmat[here].__getitem__)
        order.append(here)
        left.remove(here)
    return np.array(order, dtype=np.int64)


def shuttle_groups(
    sweep: np.ndarray,
    n: int,
    load: np.ndarray,
    mats: tuple[np.ndarray, np.ndarray],
    shares: np.ndarray,
    *,
    stop_min: float,
    per_dep: float,
    max_km: float,
) -> tuple[list[list[int]] | None, float]:
    """Townships of each shuttle (at most ``n`` groups) and the longest tour allowed, in minutes.

    Parameters
    ----------
    sweep
        Township facilities swept by angle around the county centre (facility 0).
    n
        Shuttles available.
    load
        Inbound parcels a day of each township (0-based).
    mats
        Minutes and km matrices of the slowest shuttle type.
    shares
        Share of a day's parcels ready at each departure (:func:`departure_shares`).
    stop_min, per_dep, max_km
        Minutes per township stop, parcels per shuttle departure, km per departure (range).

    Returns
    -------
    groups, longest
        The groups (None without shuttles) and the cap on each tour's minutes: the longest
        tour of the plan that minimises it (:func:`minmax_groups`, with each group's daily
        volume within ``per_dep`` times the departures, relaxed if no cut meets it). Under
        that cap and with as many groups, the groups with the least km are kept
        (:func:`least_km_groups`, then :func:`exchange`); each parcel a departure is expected
        to leave behind counts as :data:`_KM_PER_PARCEL_LEFT` km.
    """
    tmat, kmat = mats
    tours: dict[tuple[int, ...], tuple[float, float, float]] = {}
    near = tmat[: int(np.max(sweep, initial=0)) + 1, : int(np.max(sweep, initial=0)) + 1].tolist()

    def cost(group: list[int]) -> tuple[float, float, float]:
        key = tuple(group)
        if key not in tours:
            order = _nn_from_centre(group, near)
            left = np.maximum(shares * load[np.array(group) - 1].sum() - per_dep, 0.0).sum()
            km = tour_minutes(order, 0, kmat, 0.0)
            tours[key] = (
                tour_minutes(order, 0, tmat, stop_min),
                km,
                km + _KM_PER_PARCEL_LEFT * left,
            )
        return tours[key]

    def tour(group: list[int]) -> float:
        return cost(group)[0]

    def priced(group: list[int]) -> float:
        return cost(group)[2]

    lights: dict[tuple[int, ...], bool] = {}

    def light(group: list[int]) -> bool:
        key = tuple(group)
        if key not in lights:
            lights[key] = bool(load[np.array(group) - 1].sum() <= per_dep * len(shares))
        return lights[key]

    best = minmax_groups(sweep, n, tour, light)
    volume = best is not None
    if best is None:
        best = minmax_groups(sweep, n, tour, lambda _: True)
    if best is None:
        return None, np.inf
    longest = max(map(tour, best))

    def feasible(group: list[int]) -> bool:
        minutes, km, _ = cost(group)
        return minutes <= longest + 1e-9 and km <= max_km and (not volume or light(group))

    best = exchange(least_km_groups(sweep, best, priced, feasible), priced, feasible)
    return best, longest
