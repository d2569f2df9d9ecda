"""The village loops laid out at once (sim.engine.layout) against loops made one by one."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import sim
from sim.engine.drive import route
from sim.engine.layout import lay_out_loops, multi_visit, shares_a_leg, visitors
from sim.world import County


@pytest.fixture(scope="module")
def stressed_county() -> County:
    """临猗县 with lockers, an outlet, door villages, two carriers and a bus line."""
    scenario = sim.load_scenario("tests/data/stressed.yaml")
    return sim.build(scenario).counties[0]


def _expected_week(county: County, vi: int) -> list[list[np.ndarray]]:
    """The stops of each loop of village vehicle ``vi`` by weekday, one loop at a time."""
    veh = county.village_vehicles[vi]
    week: list[list[np.ndarray]] = [[] for _ in range(7)]
    for i, loop in enumerate(veh.routes):
        due = county.village_visit_days[veh.lane, loop - 1 - county.n_townships] & veh.days_of(i)
        for weekday in range(7):
            if due[:, weekday].any():
                week[weekday].append(loop[due[:, weekday]])
    return week


@pytest.mark.parametrize("county_name", ["tiny", "stressed"])
def test_loops_laid_out_at_once_are_the_loops_made_one_by_one(
    county_name: str, tiny_county: County, stressed_county: County
) -> None:
    county = tiny_county if county_name == "tiny" else stressed_county
    multi = multi_visit(county)
    layout = lay_out_loops(county, multi)
    st = SimpleNamespace(county=county, multi_visit=multi)
    stop_min = county.scenario.facilities.village_points.service_time_min
    n_c = len(county.scenario.carriers)
    kinds = set()
    for vi, veh in enumerate(county.village_vehicles):
        week = _expected_week(county, vi)
        assert [len(day) for day in layout.weeks[vi]] == [len(day) for day in week]
        for day, expected in zip(layout.weeks[vi], week, strict=True):
            for (rt, vills, planned, queues, pos, visit), stops in zip(day, expected, strict=True):
                one = route(st, veh, stops, stop_min, town=False)  # type: ignore[arg-type]
                for name, value in one._asdict().items():
                    got = getattr(rt, name)
                    if isinstance(value, np.ndarray):
                        assert got.dtype == value.dtype and np.array_equal(got, value), name
                    else:
                        assert type(got) is type(value) and got == value, name
                kinds.add((one.any_locker, one.any_door, one.distinct))
                assert np.array_equal(vills, one.vills)
                minutes = county.time_min[veh.vtype][one.frm, one.to].sum()
                assert planned == float(minutes + stop_min * len(stops))
                towns = sorted(set(county.village_township[vills].tolist()))
                assert queues == [t * (n_c + 1) + veh.lane for t in towns]
                assert pos[-1] == -1 and not visit[-1]
                assert np.array_equal(np.flatnonzero(pos >= 0), np.unique(vills))
                assert np.array_equal(pos[vills], np.arange(len(vills)))
                assert np.array_equal(visit, pos >= 0)
    if county_name == "stressed":  # lockers and door villages are on some loops
        assert any(k[0] for k in kinds) and any(k[1] for k in kinds)


def _shares_a_leg_one_by_one(county: County) -> list[bool]:
    """Per vehicle (shuttles, village vehicles, buses): a leg of it another one drives."""
    n_sh = len(county.shuttles)
    legs: list[set[tuple[int, int]]] = []
    for i, veh in enumerate((*county.shuttles, *county.village_vehicles, *county.buses)):
        mine: set[tuple[int, int]] = set()
        village = n_sh <= i < n_sh + len(county.village_vehicles)
        paths = _expected_week(county, i - n_sh) if village else [list(veh.routes)]
        for stops in (s for day in paths for s in day):
            path = [veh.base, *stops.tolist(), veh.base]
            mine.update(zip(path[:-1], path[1:], strict=False))
        legs.append(mine)
    return [
        any(mine & other for j, other in enumerate(legs) if j != i) for i, mine in enumerate(legs)
    ]


def test_shared_legs_and_stops(tiny_county: County, stressed_county: County) -> None:
    for county in (tiny_county, stressed_county):
        layout = lay_out_loops(county, multi_visit(county))
        assert shares_a_leg(county, layout).tolist() == _shares_a_leg_one_by_one(county)
        stops = [
            np.unique(np.concatenate(v.routes))
            for v in (*county.village_vehicles, *county.buses)
            if len(v.routes)
        ]
        expected = np.bincount(
            np.concatenate(stops) - 1 - county.n_townships, minlength=county.n_villages
        )
        assert np.array_equal(visitors(county), expected)
    # The stressed county has vehicles that share a leg and some that do not.
    chained = shares_a_leg(
        stressed_county, lay_out_loops(stressed_county, multi_visit(stressed_county))
    )
    assert chained.any() and not chained.all()
