"""The village loops laid out at once (sim.engine.layout) against loops made one by one."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import sim
from sim.engine import simulate
from sim.engine.constants import _LOCKER
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


def _shares_a_leg_one_by_one(county: County, *, outbound: bool) -> list[bool]:
    """Per vehicle (shuttles, village vehicles, buses): a leg of it that another vehicle it
    can meet drives (a shuttle or bus meets all, village vehicles those of their lane; at a
    locker, or with outbound parcels, all meet)."""
    n_sh, n_vv = len(county.shuttles), len(county.village_vehicles)
    legs: list[set[tuple[int, int]]] = []
    lanes: list[int | None] = []
    for i, veh in enumerate((*county.shuttles, *county.village_vehicles, *county.buses)):
        mine: set[tuple[int, int]] = set()
        village = n_sh <= i < n_sh + n_vv
        paths = _expected_week(county, i - n_sh) if village else [list(veh.routes)]
        for stops in (s for day in paths for s in day):
            path = [veh.base, *stops.tolist(), veh.base]
            mine.update(zip(path[:-1], path[1:], strict=False))
        legs.append(mine)
        lanes.append(veh.lane if village else None)

    def meet(i: int, j: int, leg: tuple[int, int]) -> bool:
        v = leg[1] - 1 - county.n_townships
        locker = v >= 0 and county.village_kind[v] == _LOCKER
        return outbound or locker or None in (lanes[i], lanes[j]) or lanes[i] == lanes[j]

    return [
        any(meet(i, j, leg) for j, other in enumerate(legs) if j != i for leg in mine & other)
        for i, mine in enumerate(legs)
    ]


def test_shared_legs_and_stops(tiny_county: County, stressed_county: County) -> None:
    for county in (tiny_county, stressed_county):
        layout = lay_out_loops(county, multi_visit(county))
        for outbound in (False, True):
            expected = _shares_a_leg_one_by_one(county, outbound=outbound)
            assert shares_a_leg(county, layout, outbound=outbound).tolist() == expected
        stops = [
            np.unique(np.concatenate(v.routes))
            for v in (*county.village_vehicles, *county.buses)
            if len(v.routes)
        ]
        expected = np.bincount(
            np.concatenate(stops) - 1 - county.n_townships, minlength=county.n_villages
        )
        assert np.array_equal(visitors(county), expected)


def test_vehicles_of_other_carriers_on_the_same_legs_do_not_step(
    stressed_county: County,
) -> None:
    """In the stressed county, two carriers' vans share legs: with outbound parcels they
    step through them; without, only those that meet a bus, a locker or their own lane."""
    layout = lay_out_loops(stressed_county, multi_visit(stressed_county))
    inbound = shares_a_leg(stressed_county, layout)
    both = shares_a_leg(stressed_county, layout, outbound=True)
    assert inbound.any() and (both & ~inbound).any() and not both.all()


@pytest.mark.parametrize(
    "path", ["tests/data/stressed.yaml", "scenarios/linyi_separate_carriers.yaml"]
)
def test_tables_are_the_same_when_every_vehicle_steps(path: str, monkeypatch) -> None:
    """Vehicles left out of ``chained`` act on nothing another vehicle on their legs acts on:
    stepping every vehicle through every leg and stop gives the same parcels and legs."""
    scenario = sim.load_scenario(path, sets=["horizon_days=8", "replications=1"])
    batched = sim.run(sim.build(scenario))
    world = sim.build(scenario)
    county = world.counties[0]
    n_vehicles = len(county.vehicles)
    assert sum(shares_a_leg(county, lay_out_loops(county, multi_visit(county)))) < n_vehicles
    monkeypatch.setattr(simulate, "chained", lambda county, outbound: [True] * n_vehicles)
    stepped = sim.run(world)
    pd.testing.assert_frame_equal(batched.parcels, stepped.parcels, check_exact=True)
    pd.testing.assert_frame_equal(batched.trips, stepped.trips, check_exact=True)
