"""Route planning: multi-start sweep, loop improvement, shuttle groups, departure loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim._plan_lane import LaneLoops
from sim._plan_loads import departure_shares
from sim._plan_search import (
    cut_loops,
    day_costs,
    fits,
    improve_order,
    loop_stats,
    multi_start_loops,
    plan_lane,
)
from sim.plan import _sweep, visit_days
from tests.test_engine import _scenario

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


def _instance(seed: int, n: int, visits: int):
    """A township at facility 0 and ``n`` villages (facilities 1..n) on a random plane."""
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-12, 12, (n, 2))])
    euclid = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    kmat = euclid * rng.uniform(1.1, 1.5, (n + 1, n + 1))  # asymmetric circuity
    np.fill_diagonal(kmat, 0.0)
    tmat = kmat / 30.0 * 60.0
    days = np.vstack([np.ones((1, 7), dtype=bool), visit_days(np.full(n, visits))])
    load = np.where(days, rng.uniform(5, 60, (n + 1, 1)), 0.0)
    load[0] = 0.0
    facs = _sweep(xy, 0, np.arange(1, n + 1))
    return facs, tmat, kmat, load, days


def _week_km(loops, kmat, days) -> float:
    return sum(float(day_costs(lp[None], 0, kmat, 0.0, days).sum()) for lp in loops)


def _within(loops, tmat, kmat, load, days, limits) -> bool:
    cap, max_min, max_km, stop_min = limits
    for lp in loops:
        if len(lp) == 1:
            continue  # a lone village is a loop whatever its size (checked at build)
        order = lp[None]
        if load[lp].sum(axis=0).max() > cap + 1e-9:
            return False
        if day_costs(order, 0, tmat, stop_min, days).max() > max_min + 1e-9:
            return False
        if day_costs(order, 0, kmat, 0.0, days).max() > max_km + 1e-9:
            return False
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 25),
    visits=st.sampled_from([2, 3, 5, 7]),
    cap=st.floats(80, 400),
    max_min=st.floats(90, 480),
    max_km=st.floats(40, 150),
)
def test_plans_keep_every_limit_and_never_lengthen(seed, n, visits, cap, max_min, max_km):
    facs, tmat, kmat, load, days = _instance(seed, n, visits)
    limits = (cap, max_min, max_km, 5.0)
    single = cut_loops(facs, 0, tmat, kmat, load, days, limits)
    multi = multi_start_loops(facs, 0, tmat, kmat, load, days, limits)
    full = plan_lane(facs, 0, tmat, kmat, load, days, limits)
    for plan in (single, multi, full):
        assert sorted(np.concatenate(plan).tolist()) == sorted(facs.tolist())  # each once
        assert _within(plan, tmat, kmat, load, days, limits)
    assert _week_km(multi, kmat, days) <= _week_km(single, kmat, days) + 1e-9
    assert _week_km(full, kmat, days) <= _week_km(multi, kmat, days) + 1e-9


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 20),
    visits=st.sampled_from([1, 2, 3, 5, 7]),
    ties=st.booleans(),
)
def test_lane_loops_price_loops_as_loop_stats_to_the_bit(seed, n, visits, ties):
    facs, tmat, kmat, load, days = _instance(seed, n, visits)
    if ties:  # whole minutes and km: equal legs, so ties in the nearest-neighbour order
        tmat, kmat = np.round(tmat), np.round(kmat)
    limits = (150.0, 240.0, 80.0, 5.0)
    rng = np.random.default_rng(seed)
    loops = [tuple(rng.permutation(facs)[: rng.integers(1, n + 1)].tolist()) for _ in range(40)]
    lane = LaneLoops(facs, 0, (tmat, kmat), load, days, limits)
    keys = [tuple(lane.to_local(lp)) for lp in loops]
    lane.prime(keys)  # numpy, all at once
    lane.prime_loads(keys)
    one_by_one = LaneLoops(facs, 0, (tmat, kmat), load, days, limits)
    for lp, key in zip(loops, keys):
        order, km, minutes, longest = loop_stats(lp, 0, (tmat, kmat), days, 5.0)
        assert lane.stats(key)[1:] == one_by_one.stats(key)[1:] == (km, minutes, longest)
        assert lane.to_facs(lane.order(key)).tolist() == order.tolist()
        expect = fits(np.array(lp), 0, (tmat, kmat), load, days, limits)
        assert lane.fits(key) == one_by_one.fits(key) == expect


def test_improve_order_only_shortens_within_limits():
    _, tmat, kmat, _, days = _instance(3, 12, 7)
    order = np.arange(1, 13)
    km0 = day_costs(order[None], 0, kmat, 0.0, days).sum()
    better = improve_order(order, 0, tmat, kmat, days, stop_min=5.0, max_min=1e9, max_km=1e9)
    assert sorted(better.tolist()) == order.tolist()
    assert day_costs(better[None], 0, kmat, 0.0, days).sum() < km0
    # With the current minutes as the limit, no accepted move may lengthen any day.
    minutes = day_costs(order[None], 0, tmat, 5.0, days).max()
    kept = improve_order(order, 0, tmat, kmat, days, stop_min=5.0, max_min=minutes, max_km=1e9)
    assert day_costs(kept[None], 0, tmat, 5.0, days).max() <= minutes + 1e-9


def test_day_costs_match_tours_of_the_due_villages():
    facs, _, kmat, _, days = _instance(5, 9, 3)
    got = day_costs(facs[None], 0, kmat, 0.0, days)[0]
    for d in range(7):
        due = facs[days[facs, d]]
        path = np.r_[0, due, 0]
        want = kmat[path[:-1], path[1:]].sum() if len(due) else 0.0
        assert got[d] == pytest.approx(want)


def _optimised(sc: sim.Scenario, **planning) -> sim.Scenario:
    data = sc.model_dump(mode="json")
    data["planning"] = {"method": "optimise", "iterations": 60, **planning}
    return sim.scenario_from_dict(data)


@pytest.mark.parametrize(
    ("name", "seed", "method"),
    [
        ("linyi_baseline", 1, "heuristic"),
        ("linyi_baseline", 20261126, "heuristic"),
        ("linxian_mountain", 1, "heuristic"),
        ("linxian_mountain", 20261126, "heuristic"),
        ("linyi_baseline", 1, "optimise"),
        ("linxian_mountain", 1, "optimise"),
    ],
)
def test_built_loops_keep_limits(name, seed, method, tmp_path, monkeypatch):
    monkeypatch.setenv("RURALSIM_CACHE", str(tmp_path))
    sc = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml").model_copy(update={"seed": seed})
    if method == "optimise":
        sc = _optimised(sc)
    c = sim.build(sc).counties[0]
    n_t = c.n_townships
    stop = sc.facilities.village_points.service_time_min
    max_min = sc.schedules.max_loop_h * 60
    for v in c.village_vehicles:
        cap = sc.fleet.vehicle_types[v.vtype].capacity_parcels
        days = np.vstack([np.zeros((n_t + 1, 7), bool), c.village_visit_days[v.lane]])
        per_visit = c.village_rate * 7 / np.maximum(days[n_t + 1 :].sum(axis=1), 1)
        load = np.concatenate([np.zeros(n_t + 1), per_visit])[:, None] * days
        for lp in v.routes:
            if len(lp) == 1:
                continue
            assert load[lp].sum(axis=0).max() <= cap * 0.9 + 1e-6
            minutes = day_costs(lp[None], v.base, c.time_min[v.vtype], stop, days)
            assert minutes.max() <= max_min + 1e-6


def test_plans_are_deterministic():
    sc = sim.load_scenario(ROOT / "scenarios" / "linyi_baseline.yaml")
    a, b = sim.build(sc).counties[0], sim.build(sc).counties[0]
    for x, y in zip(a.shuttles + a.village_vehicles, b.shuttles + b.village_vehicles):
        assert x.id == y.id
        assert all(np.array_equal(r, s) for r, s in zip(x.routes, y.routes))


def test_optimised_loops_are_shorter_cached_and_the_same_again(tmp_path, monkeypatch):
    """planning.method: optimise (PyVRP) gives loops no longer in planned km than the
    heuristic's here, visits every village the heuristic visits, keeps its plans in the cache
    and builds the same loops from it without solving again."""
    import sim.vrp

    monkeypatch.setenv("RURALSIM_CACHE", str(tmp_path))
    base = sim.load_scenario(ROOT / "scenarios" / "linyi_baseline.yaml")
    heur = sim.build(base).counties[0]
    opt = _optimised(base)
    first = sim.build(opt).counties[0]

    def week_km(c):
        total = 0.0
        for v in c.village_vehicles:
            days = np.vstack([np.zeros((c.n_townships + 1, 7), bool), c.village_visit_days[v.lane]])
            for lp in v.routes:
                total += float(day_costs(lp[None], v.base, c.km[v.vtype], 0.0, days).sum())
        return total

    def visited(c):
        return sorted(int(f) for v in c.village_vehicles for lp in v.routes for f in lp)

    assert visited(first) == visited(heur)
    assert week_km(first) < week_km(heur)
    assert any((tmp_path / "plans").iterdir())

    def no_solving(*args, **kwargs):
        raise AssertionError("solved again despite the cache")

    monkeypatch.setattr(sim.vrp, "solve_loops", no_solving)
    again = sim.build(opt).counties[0]
    for x, y in zip(first.village_vehicles, again.village_vehicles, strict=True):
        assert x.id == y.id and all(np.array_equal(r, s) for r, s in zip(x.routes, y.routes))


def test_manifest_names_the_route_planner(tiny_scenario):
    from sim.runfolder import route_planner

    assert route_planner(tiny_scenario)["method"] == "heuristic"
    opt = route_planner(_optimised(tiny_scenario, seed=4))
    assert opt["method"] == "optimise" and opt["solver"].startswith("PyVRP ")
    assert (opt["iterations"], opt["seed"]) == (60, 4)
    assert (opt["routes"], opt["visit_days"]) == ("weekly", "staggered")
    daily = _scenario(tiny_scenario, planning={"routes": "daily", "visit_days": "clustered"})
    assert route_planner(daily)["routes"] == "daily"
    assert route_planner(daily)["visit_days"] == "clustered"


def test_departure_shares_follow_waves_and_sorter(tiny_scenario):
    fast = _scenario(
        tiny_scenario,
        facilities__county_centre__sorting_capacity_per_hour=1_000_000,
        facilities__county_centre__trunk_arrivals=[{"time": "05:30", "share": 1.0}],
    )
    # Everything arrives at 05:30 and is sorted at once: the 08:00 departure takes it all.
    assert departure_shares(fast, 1000.0, [480.0, 870.0]) == pytest.approx([1.0, 0.0])
    # Tiny: 70% at 05:30, 30% at 13:30, 2,000 an hour: the morning departure takes more.
    shares = departure_shares(tiny_scenario, 2000.0, [480.0, 870.0])
    assert shares.sum() == pytest.approx(1.0)
    assert shares[0] > 0.5


def _departure_warnings(world) -> list[str]:
    return [w for c in world.counties for w in c.warnings if "shuttle departures a day" in w]


def test_departure_warning_fires_when_stressed_only(tiny_world, tiny_scenario):
    # The tiny scenario's shuttles leave full on every run (300 of 300 parcels): it warns,
    # as does the stressed reference scenario.
    for world in (tiny_world, sim.build(sim.load_scenario(DATA / "stressed.yaml"))):
        [message] = _departure_warnings(world)
        assert "county 140821" in message
        assert "parcels expected, capacity" in message
        assert "schedules.shuttle_departures" in message
    light = _scenario(tiny_scenario, fleet__vehicle_types__van__capacity_parcels=2000)
    assert _departure_warnings(sim.build(light)) == []


def _daily(sc: sim.Scenario, method: str, **changes) -> sim.Scenario:
    """``sc`` with loops planned per weekday and every village visited 3 times a week."""
    planning = {"method": method, "routes": "daily", "iterations": 60}
    return _scenario(sc, planning=planning, schedules__visits_per_week=3, **changes)


def _runs_on(c: sim.County, d: int):
    """(vehicle, its loops running on weekday ``d`` with the villages due then) per vehicle."""
    for v in c.village_vehicles:
        due = c.village_visit_days[v.lane]
        n_t = c.n_townships
        yield v, [lp[due[lp - 1 - n_t, d]] for i, lp in enumerate(v.routes) if v.days_of(i)[d]]


@pytest.mark.parametrize("method", ["heuristic", "optimise"])
def test_daily_loops_keep_capacity_and_the_working_day(
    tiny_scenario, method, tmp_path, monkeypatch
):
    """On every weekday each due village is on exactly one loop of its lane that day, every
    loop keeps capacity and max_loop_h, and every van's day fits its shift and duty hours."""
    from sim.plan import _loop_departures, van_day_excess

    monkeypatch.setenv("RURALSIM_CACHE", str(tmp_path))
    sc = _daily(tiny_scenario, method)
    c = sim.build(sc).counties[0]
    assert not [w for w in c.warnings if "van-hours" in w or "solver" in w]
    assert all(v.route_days is not None for v in c.village_vehicles)
    assert any(not d.all() for v in c.village_vehicles for d in v.route_days or ())
    n_t, stop = c.n_townships, sc.facilities.village_points.service_time_min
    per_visit = c.village_rate * 7 / 3
    deps = _loop_departures(sc)
    several = 0
    for d in range(7):
        calls = np.zeros(c.village_visit_days.shape[:2], dtype=int)
        for v, loops in _runs_on(c, d):
            vt = sc.fleet.vehicle_types[v.vtype]
            busy = 0.0
            for lp in loops:
                assert len(lp) > 0  # a loop runs only on weekdays some of its villages are due
                calls[v.lane, lp - 1 - n_t] += 1
                assert per_visit[lp - 1 - n_t].sum() <= vt.capacity_parcels * 0.9 + 1e-6
                minutes = float(
                    day_costs(lp[None], v.base, c.time_min[v.vtype], stop, _all(c))[0, 0]
                )
                assert minutes <= sc.schedules.max_loop_h * 60 + 1e-6
                busy += minutes
            several += len(loops) > 1
            shift = (
                sim.scenario.clock_minutes(vt.shift.start),
                sim.scenario.clock_minutes(vt.shift.end),
            )
            excess = van_day_excess(np.array([[busy]]), deps, shift, vt.max_duty_h * 60)
            assert excess.max() == 0
        np.testing.assert_array_equal(calls, c.village_visit_days[:, :, d].astype(int))
    assert several > 0  # vans drive several loops a day: the working day is really checked


def _all(c: sim.County) -> np.ndarray:
    """Every facility due on one day (for :func:`day_costs` of a whole loop)."""
    return np.ones((len(c.codes), 1), dtype=bool)


def test_daily_plans_are_deterministic_and_cached(tiny_scenario, tmp_path, monkeypatch):
    """The same scenario and seed give the same daily routes, solved afresh or from the cache."""
    import sim.vrp

    sc = _daily(tiny_scenario, "optimise")
    plans = []
    for folder in ("a", "b"):
        monkeypatch.setenv("RURALSIM_CACHE", str(tmp_path / folder))
        plans.append(sim.build(sc).counties[0].village_vehicles)
    monkeypatch.setattr(sim.vrp, "solve_loops", _no_solving)
    plans.append(sim.build(sc).counties[0].village_vehicles)
    for other in plans[1:]:
        for x, y in zip(plans[0], other, strict=True):
            assert x.id == y.id and len(x.routes) == len(y.routes)
            assert all(np.array_equal(r, s) for r, s in zip(x.routes, y.routes))
            assert all(np.array_equal(r, s) for r, s in zip(x.route_days, y.route_days))


def _no_solving(*args, **kwargs):
    raise AssertionError("solved again despite the cache")


def test_weekly_routes_are_the_default_and_unchanged(tiny_scenario, tiny_county):
    """planning.routes: weekly is the default: every route runs every weekday, as before."""
    assert tiny_scenario.planning.routes == "weekly"
    assert all(v.route_days is None for v in tiny_county.vehicles)
    assert all(v.days_of(0).all() for v in tiny_county.village_vehicles)
    again = sim.build(_scenario(tiny_scenario, planning={"routes": "weekly"})).counties[0]
    for x, y in zip(tiny_county.vehicles, again.vehicles, strict=True):
        assert x.id == y.id and y.route_days is None
        assert all(np.array_equal(r, s) for r, s in zip(x.routes, y.routes))


def test_daily_loops_drive_no_more_than_weekly_ones(tiny_scenario, tmp_path, monkeypatch):
    """Planned per weekday, the heuristic's loops drive no more km over the week."""
    monkeypatch.setenv("RURALSIM_CACHE", str(tmp_path))
    weekly = sim.build(_scenario(tiny_scenario, schedules__visits_per_week=3)).counties[0]
    daily = sim.build(_daily(tiny_scenario, "heuristic")).counties[0]

    assert _planned_week_km(daily) <= _planned_week_km(weekly) + 1e-6


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_clustered_visit_days_keep_the_pattern_and_group_neighbours(n):
    """Clustered visit days: each village keeps its visits, evenly spread; a township's
    villages due on a day lie in one arc around its point, with about a day's share of load."""
    from sim.plan import clustered_visit_days

    rng = np.random.default_rng(n)
    m = 140
    angle = rng.uniform(-np.pi, np.pi, m)
    # Facilities: the county centre, the township point (both at 0, 0), then the villages.
    xy = np.vstack([[0.0, 0.0], [0.0, 0.0], np.column_stack([np.cos(angle), np.sin(angle)]) * 10])
    visits = np.full(m, n)
    days = clustered_visit_days(visits, xy, np.zeros(m, dtype=int), 1, np.ones(m))
    pattern = visit_days(np.array([n]))[0]
    for row in days:
        assert any(np.array_equal(row, np.roll(pattern, k)) for k in range(7))
    counts = days.sum(axis=0)
    assert counts.min() >= m * n / 7 - m / 7 and counts.max() <= m * n / 7 + m / 7
    if n < 4:  # the sectors due on a day are next to each other: one arc of n sectors
        for d in range(7):
            due = np.sort(angle[days[:, d]])
            gaps = np.diff(np.concatenate([due, [due[0] + 2 * np.pi]]))
            assert 2 * np.pi - gaps.max() <= 2 * np.pi * (n + 0.5) / 7
    staggered = visit_days(visits)
    assert np.array_equal(days.sum(axis=1), staggered.sum(axis=1))


def test_clustered_visit_days_shorten_daily_loops(tiny_scenario, tmp_path, monkeypatch):
    """With loops per weekday, clustered visit days drive fewer km than staggered ones."""
    monkeypatch.setenv("RURALSIM_CACHE", str(tmp_path))
    staggered = sim.build(_daily(tiny_scenario, "heuristic")).counties[0]
    sc = _daily(tiny_scenario, "heuristic")
    clustered = sim.build(
        _scenario(sc, planning={**sc.planning.model_dump(), "visit_days": "clustered"})
    ).counties[0]
    assert np.array_equal(
        staggered.village_visit_days.sum(axis=2), clustered.village_visit_days.sum(axis=2)
    )
    assert not np.array_equal(staggered.village_visit_days, clustered.village_visit_days)
    assert _planned_week_km(clustered) < 0.95 * _planned_week_km(staggered)


def _planned_week_km(c: sim.County) -> float:
    """Km of the village loops over a week, each on its weekdays, calling at the villages due."""
    total = 0.0
    for d in range(7):
        for v, loops in _runs_on(c, d):
            for lp in loops:
                total += float(day_costs(lp[None], v.base, c.km[v.vtype], 0.0, _all(c))[0, 0])
    return total


def test_optimised_loops_face_their_parcels_and_vans_drive_busy_loops_first():
    """With the solver's plans, a loop is reversed where that is no longer and its parcels
    arrive sooner, and a van drives its loops fewest minutes per parcel first."""
    from sim._plan_lanes import _facing
    from sim.plan import _parcels_first

    # Township point 0, villages 1 and 2 on a triangle (10 min apart); 2 has the parcels.
    tmat = np.array([[0.0, 10.0, 10.0], [10.0, 0.0, 10.0], [10.0, 10.0, 0.0]])
    load_on = np.zeros((3, 7))
    load_on[1], load_on[2] = 1.0, 9.0
    days_of = np.ones((3, 7), dtype=bool)
    problem = (np.array([1, 2]), 0, tmat, tmat, load_on, days_of, (100.0, 480.0, 100.0, 5.0))
    assert _facing(np.array([1, 2]), problem).tolist() == [2, 1]
    assert _facing(np.array([2, 1]), problem).tolist() == [2, 1]
    # A reverse that is longer on some day is never taken, however its parcels fare.
    skew = tmat.copy()
    skew[2, 1] = 30.0
    longer = (np.array([1, 2]), 0, skew, skew, load_on, days_of, (100.0, 480.0, 100.0, 5.0))
    assert _facing(np.array([1, 2]), longer).tolist() == [1, 2]
    # Loops of 60, 30 and 90 minutes carrying 10, 10 and 90 parcels: 6, 3 and 1 min/parcel.
    loops = [np.array([1]), np.array([2]), np.array([3])]
    minutes = np.array([[60.0] * 7, [30.0] * 7, [90.0] * 7])
    loads = np.zeros((4, 7))
    loads[1], loads[2], loads[3] = 10 / 7, 10 / 7, 90 / 7
    assert _parcels_first([0, 1, 2], loops, minutes, loads) == [2, 1, 0]
