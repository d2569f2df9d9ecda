"""Building a world: units, matrices and route plans."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from tests.test_engine import _scenario


def test_world_has_the_real_units(tiny_county):
    w = tiny_county
    assert w.county_name == "临猗县"
    assert w.n_townships == 14
    assert w.n_villages == 284
    assert all(
        c.startswith(w.township_codes[t]) for c, t in zip(w.village_codes, w.village_township)
    )
    assert {"roads", "township_points", "village_points"} == {
        k for k, v in w.sources.items() if v.startswith("synthetic")
    }


def test_matrices_are_finite_and_consistent(tiny_county):
    tiny_world = tiny_county
    for name in tiny_world.time_min:
        t, km = tiny_world.time_min[name], tiny_world.km[name]
        assert np.isfinite(t).all() and np.isfinite(km).all()
        assert np.allclose(np.diag(t), 0) and (t >= 0).all()
    # The slower vehicle never arrives earlier.
    assert (tiny_world.time_min["etricycle"] >= tiny_world.time_min["van"] - 1e-9).all()


def test_routes_cover_each_unit_once(tiny_county):
    w = tiny_county
    shuttle_stops = np.concatenate([v.routes[0] for v in w.shuttles])
    assert sorted(shuttle_stops) == list(range(1, w.n_townships + 1))
    loop_stops = np.concatenate([r for v in w.village_vehicles for r in v.routes])
    assert len(loop_stops) == len(set(loop_stops)) == w.n_villages
    for v in w.village_vehicles:
        for loop in v.routes:
            township = w.village_township[loop - 1 - w.n_townships]
            assert (township == v.base - 1).all()  # loops stay in their own township
    assert w.village_served.all()


def test_loops_respect_capacity(tiny_county):
    w = tiny_county
    sc = w.scenario
    for v in w.village_vehicles:
        cap = sc.fleet.vehicle_types[v.vtype].capacity_parcels
        for loop in v.routes:
            expected = w.village_rate[loop - 1 - w.n_townships].sum()
            assert expected <= cap or len(loop) == 1


def test_no_vehicle_means_parcels_wait_at_township(tiny_scenario):
    code = "140821100"
    sc = _scenario(tiny_scenario, fleet__townships={code: {"van": 0}})
    w = sim.build(sc).counties[0]
    mine = w.township_codes[w.village_township] == code
    assert not w.village_served[mine].any()
    assert w.village_served[~mine].all()
    assert any(code in msg for msg in w.warnings)
    # Codes are named in the warnings, the township's and the county's.
    name = w.township_names[list(w.township_codes).index(code)]
    assert any(f"township {name} {code}: no village vehicle" in msg for msg in w.warnings)
    world = sim.build(sc)
    assert all(m.startswith("140821 临猗县: ") for m in world.warnings if m.startswith("1408"))


@pytest.mark.parametrize(
    "county, needle",
    [("140171", "zone"), ("149999", "unknown"), ("141100", "not a county")],
)
def test_bad_region_is_a_scenario_error(tiny_scenario, county, needle):
    sc = _scenario(tiny_scenario, region__county=county)
    with pytest.raises(sim.ScenarioError, match=r"region\.county") as exc:
        sim.build(sc)
    assert needle in str(exc.value).lower() or needle in str(exc.value)


def test_visits_per_week_are_spread(tiny_scenario):
    sc = _scenario(tiny_scenario, schedules__visits_per_week=3)
    w = sim.build(sc).counties[0]
    # The tiny scenario pools its one carrier's parcels: the shared lane (last) visits.
    shared = w.village_visit_days[-1]
    assert (shared.sum(axis=1) == 3).all()
    assert not w.village_visit_days[:-1].any()
    # Staggered: every weekday has some visits.
    assert (shared.sum(axis=0) > 0).all()


def test_codes_in_messages_are_named_but_vehicle_ids_are_not():
    from sim.build import _named

    text = _named(
        "township 140821100: 140821100-van-1 serves 140821100001 (2.1 h)",
        np.array(["140821100"]),
        np.array(["猗氏镇"]),
        np.array(["140821100001"]),
        np.array(["甲村"]),
    )
    assert text == "township 猗氏镇 140821100: 140821100-van-1 serves 甲村 140821100001 (2.1 h)"
