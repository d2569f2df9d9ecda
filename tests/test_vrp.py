"""Village loops from the vehicle-routing solver: every village once, every limit kept, the
same loops for the same problem and seed."""

import numpy as np
import pytest

from sim.vrp import LoopProblem, solve_loops


def _problem(seed: int, n: int = 18, capacity: float = 120.0, max_km: float | None = None):
    rng = np.random.default_rng(seed)
    xy = rng.random((n + 2, 2)) * 15
    km = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) * 1.3
    load = np.zeros((n + 2, 7))
    load[2:] = rng.integers(0, 30, (n, 7)) * rng.random((n, 1))
    if max_km is None:  # every village alone fits, two far ones together may not
        max_km = 1.1 * float((km[1, 2:] + km[2:, 1]).max())
    return LoopProblem(
        base=1,
        stops=np.arange(2, n + 2),
        time_min=km / 30 * 60,
        km=km,
        load=load,
        capacity=capacity,
        max_min=200.0,
        max_km=max_km,
        stop_min=4.0,
    )


def _tour(p: LoopProblem, loop: np.ndarray, m: np.ndarray) -> float:
    o = np.concatenate([[p.base], loop, [p.base]])
    return float(m[o[:-1], o[1:]].sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loops_visit_every_village_once_within_every_limit(seed):
    p = _problem(seed)
    loops = solve_loops(p, iterations=100, seed=seed)
    assert loops is not None
    assert sorted(np.concatenate(loops).tolist()) == p.stops.tolist()
    for lp in loops:
        assert p.load[lp].sum(axis=0).max() <= p.capacity
        assert _tour(p, lp, p.km) <= p.max_km
        assert _tour(p, lp, p.time_min) + p.stop_min * len(lp) <= p.max_min


def test_same_problem_and_seed_same_loops():
    p = _problem(5)
    a = solve_loops(p, iterations=80, seed=3)
    b = solve_loops(p, iterations=80, seed=3)
    assert a is not None and b is not None
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    assert p.key(80, 3) == p.key(80, 3) != p.key(80, 4)


def test_no_plan_when_a_village_alone_breaks_a_limit():
    p = _problem(7, max_km=1.0)  # no village is within 1 km there and back
    assert solve_loops(p, iterations=30, seed=0) is None


def test_a_days_problem_keeps_its_limits_and_has_its_own_key():
    """A weekday's problem (planning.routes: daily): one load column, real time and km limits."""
    week = _problem(3)
    day = LoopProblem(
        base=week.base,
        stops=week.stops,
        time_min=week.time_min,
        km=week.km,
        load=week.load[:, [2]],
        capacity=40.0,
        max_min=week.max_min,
        max_km=week.max_km,
        stop_min=week.stop_min,
        mode="daily",
    )
    loops = solve_loops(day, iterations=60, seed=1)
    assert loops is not None and len(loops) > 1
    assert sorted(np.concatenate(loops).tolist()) == day.stops.tolist()
    for lp in loops:
        assert day.load[lp, 0].sum() <= day.capacity
        assert _tour(day, lp, day.km) <= day.max_km
        assert _tour(day, lp, day.time_min) + day.stop_min * len(lp) <= day.max_min
    same_load = LoopProblem(**{**day.__dict__, "mode": "weekly"})
    assert day.key(60, 1) != same_load.key(60, 1)
