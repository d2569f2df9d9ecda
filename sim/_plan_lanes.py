"""The loops of one township lane: weekly loops, or loops per weekday (``planning.routes``).

A lane's problem is ``(facs, base, tmat, kmat, load_on, days_of, limits)``: the village
facilities in sweep order, the township point, the travel minutes and km, the load of a visit
per facility and weekday, whether each facility is due on each weekday, and the limits of one
loop (:data:`sim._plan_search.Limits`). Weekly loops are driven on every weekday, each calling
at its villages due that day; daily loops are planned for one weekday over the villages due
then, and run only on the weekdays they were planned for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim._plan_search import cut_loops, improve_order, plan_lane, tour_minutes

#: A lane's problem: (facs, base, tmat, kmat, load_on, days_of, limits).
LaneProblem = tuple[Any, ...]


def day_minutes(
    order: np.ndarray, base: int, tmat: np.ndarray, stop_min: float, days: np.ndarray
) -> np.ndarray:
    """Minutes of a loop on each day (column of ``days``), visiting only the villages due."""
    out = np.zeros(days.shape[1])
    for d in range(days.shape[1]):
        stops = order[days[order, d]]
        if len(stops):
            out[d] = tour_minutes(stops, base, tmat, stop_min)
    return out


def lane_routes(
    scenario, code: str, problem: LaneProblem, warnings: list[str], plan_cache
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """A lane's loops and, for ``planning.routes: daily``, the weekdays each runs on.

    Weekly: :func:`lane_loops` on the whole week, and None for the weekdays (every loop runs
    every weekday). Daily: for each weekday, :func:`lane_loops` over the villages due that
    day, with that day's load and limits; a loop planned alike for several weekdays is one
    route running on all of them. Returns the loops and a (loops, 7) array of their weekdays.
    """
    if scenario.planning.routes == "weekly":
        loops, fell_back = lane_loops(scenario, problem, plan_cache)
        if fell_back:
            warnings.append(_fallback_warning(code, "its loops are"))
        return loops, None
    loops, runs, missed = _daily_routes(scenario, problem, plan_cache)
    if missed:
        warnings.append(_fallback_warning(code, f"its loops on weekday(s) {', '.join(missed)} are"))
    return loops, runs


def _daily_routes(
    scenario, problem: LaneProblem, plan_cache
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """The loops of each weekday (weekdays with the same villages and loads planned once),
    their weekdays (loops, 7), and the weekdays the solver found no loops for."""
    facs, base, tmat, kmat, load_on, days_of, limits = problem
    days: dict[bytes, list[int]] = {}  # weekdays alike: the same villages due, the same loads
    for d in range(7):
        due = facs[days_of[facs, d]]
        if len(due):
            same = due.astype(np.int64).tobytes() + load_on[due, d].astype(np.float64).tobytes()
            days.setdefault(same, []).append(d)
    index: dict[tuple[int, ...], int] = {}
    loops: list[np.ndarray] = []
    runs: list[np.ndarray] = []
    missed: list[str] = []
    for alike in days.values():
        d = alike[0]
        day = (facs[days_of[facs, d]], base, tmat, kmat, load_on[:, [d]], days_of[:, [d]], limits)
        planned, fell_back = lane_loops(scenario, day, plan_cache, weekdays=len(days))
        missed += [str(x) for x in alike] if fell_back else []
        for lp in planned:
            key = tuple(lp.tolist())
            if key not in index:
                index[key] = len(loops)
                loops.append(lp)
                runs.append(np.zeros(7, dtype=bool))
            runs[index[key]][alike] = True
    return loops, np.array(runs, dtype=bool).reshape(len(loops), 7), sorted(missed)


def _fallback_warning(code: str, which: str) -> str:
    """The build warning for a township whose loops (``which``) fell back to the heuristic."""
    return (
        f"township {code}: the routing solver found no loops within capacity, "
        f"schedules.max_loop_h and range (planning.method: optimise); {which} the "
        "heuristic's"
    )


def lane_loops(
    scenario, problem: LaneProblem, plan_cache, *, weekdays: int = 0
) -> tuple[list[np.ndarray], bool]:
    """A lane's loops: :func:`sim._plan_search.plan_lane`, or with ``planning.method:
    optimise`` the vehicle-routing solver's (:mod:`sim.vrp`), checked again on every day in
    the floats, each then reordered for the days' due villages; the heuristic's loops when
    the solver finds no plan within the limits (then the second value is True).

    ``weekdays``: 0 for a weekly problem; else the problem is one of that many weekday
    problems of the lane (one column of loads and days, every village due), which share the
    solver's budget of ``planning.iterations``, and the solver is given the day's time and km
    limits too.
    """
    facs, base, tmat, kmat, load_on, days_of, limits = problem
    planning = scenario.planning
    if planning.method != "optimise":
        return plan_lane(*problem), False
    from sim.vrp import LoopProblem, cached_loops

    cap, max_min, max_km, stop_min = limits
    if weekdays:
        vrp = LoopProblem(
            base, facs, tmat, kmat, load_on, cap, max_min, max_km, stop_min, mode="daily"
        )
    else:
        # The solver sees each loop whole; on a day only the villages due are driven, so with
        # fewer visits than days its time and km limits would bind too early: it is given
        # the capacity per weekday only, and a loop that then breaks a day's time or km limit
        # is cut along its order as the heuristic cuts a sweep.
        vrp = LoopProblem(base, facs, tmat, kmat, load_on, cap, np.inf, np.inf, stop_min)
    # A lane's search budget is planning.iterations, for its weekly problem or shared by the
    # (smaller) problems of its weekdays.
    iterations = -(-planning.iterations // max(weekdays, 1))
    loops = cached_loops(vrp, iterations=iterations, seed=planning.seed, folder=plan_cache)
    loops = None if loops is None else _within_limits(loops, problem)
    if loops is None:
        return plan_lane(*problem), True
    ordered = [
        improve_order(
            lp, base, tmat, kmat, days_of, stop_min=stop_min, max_min=max_min, max_km=max_km
        )
        for lp in loops
    ]
    return [_facing(lp, problem) for lp in ordered], False


def _facing(loop: np.ndarray, problem: LaneProblem) -> np.ndarray:
    """The loop or its reverse: the reverse where it is no longer in minutes or km on any day
    and its parcels reach their villages sooner (parcels x minutes from the township point,
    summed over the weekdays), so that the solver's order, chosen for km alone, does not
    make lead times longer than they need be."""
    _, base, tmat, kmat, load_on, days_of, (_, _, _, stop_min) = problem
    back = loop[::-1].copy()
    eps = 1e-9
    for mat, stop in ((tmat, stop_min), (kmat, 0.0)):
        there = day_minutes(loop, base, mat, stop, days_of)
        if (day_minutes(back, base, mat, stop, days_of) > there + eps).any():
            return loop
    if (
        _parcel_minutes(back, base, tmat, stop_min, load_on, days_of)
        < _parcel_minutes(loop, base, tmat, stop_min, load_on, days_of) - eps
    ):
        return back
    return loop


def _parcel_minutes(loop, base, tmat, stop_min, load_on, days_of) -> float:
    """Parcels x minutes from the township point to their village, summed over the weekdays."""
    total = 0.0
    for d in range(days_of.shape[1]):
        stops = loop[days_of[loop, d]]
        if len(stops) == 0:
            continue
        path = np.concatenate([[base], stops])
        arrive = np.cumsum(tmat[path[:-1], path[1:]]) + stop_min * np.arange(len(stops))
        total += float((load_on[stops, d] * arrive).sum())
    return total


def _within_limits(loops: list[np.ndarray], problem: LaneProblem) -> list[np.ndarray] | None:
    """The loops, each that breaks a day's limit cut along its order (as the heuristic cuts a
    sweep), each piece checked once; None if a piece still breaks one."""
    out: list[np.ndarray] = []
    for lp in loops:
        if _keeps_limits(lp, problem):
            out.append(lp)
            continue
        parts = cut_loops(lp, *problem[1:])
        if not all(_keeps_limits(p, problem) for p in parts):
            return None
        out += parts
    return out


def _keeps_limits(loop: np.ndarray, problem: LaneProblem) -> bool:
    """Whether a loop, driven in its order, keeps every limit on every day."""
    _, base, tmat, kmat, load_on, days_of, (cap, max_min, max_km, stop_min) = problem
    return bool(
        load_on[loop].sum(axis=0).max() <= cap
        and day_minutes(loop, base, tmat, stop_min, days_of).max() <= max_min
        and day_minutes(loop, base, kmat, 0.0, days_of).max() <= max_km
    )
