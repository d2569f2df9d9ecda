"""Rural buses carrying parcels (客货邮融合): routing, timetable, capacity, fees, backhaul."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from tests.test_engine import _scenario, assert_capacities, assert_conserved


@pytest.fixture(scope="module")
def line_villages(tiny_county):
    return list(tiny_county.village_codes[:6])


def _bus_scenario(base, villages, **line):
    spec = {
        "name": "k1",
        "stops": villages,
        "departures": ["09:00"],
        "capacity_parcels": 200,
        "fee_per_parcel_yuan": 0.5,
        **line,
    }
    return _scenario(
        base, horizon_days=4, buses=[spec], demand__outbound={"parcels_per_village_per_day": 2}
    )


def test_bus_villages_get_their_parcels_by_bus(tiny_scenario, line_villages):
    sc = _bus_scenario(tiny_scenario, line_villages)
    world = sim.build(sc)
    c = world.counties[0]
    assert len(c.buses) == 1 and (c.village_bus[:6] == 0).all() and (c.village_bus[6:] < 0).all()
    loops = np.concatenate([r for v in c.village_vehicles for r in v.routes])
    assert not np.isin(np.arange(6) + 1 + c.n_townships, loops).any()
    results = sim.run(world, replications=1)
    assert_conserved(results)
    assert_capacities(results)
    p = results.parcels
    inbound = p[p["direction"] == "inbound"]
    mine = inbound["village_code"].isin(line_villages)
    reached = inbound[mine & inbound["t_point"].notna()]
    assert len(reached) > 0
    assert reached["t_township"].isna().all() and reached["t_loop_depart"].isna().all()
    assert np.allclose(reached["t_shuttle_depart"] % 1440, 9 * 60)
    bus_legs = results.trips[results.trips["kind"] == "bus"]
    assert set(bus_legs["to_code"]) >= set(line_villages)
    # Outbound parcels of bus villages ride back on the bus.
    out = p[(p["direction"] == "outbound") & p["village_code"].isin(line_villages)]
    assert out["t_centre"].notna().any() and out["t_township"].isna().all()


def test_bus_kpis_visits_and_fees(tiny_scenario, line_villages):
    sc = _bus_scenario(tiny_scenario, line_villages, fee_per_parcel_yuan=0.7)
    results = sim.run(sim.build(sc), replications=1)
    k = sim.compute_kpis(results)
    county = k[k["scope"] == "county"].set_index("kpi")["value"]
    assert county["bus_parcels"] > 0
    assert county["cost_bus_yuan"] == pytest.approx(0.7 * county["bus_parcels"])
    visits = k[(k["scope"] == "village") & (k["kpi"] == "visits_per_week")].set_index("code")
    assert (visits.loc[line_villages, "value"] == 7).all()


def test_small_bus_leaves_a_backlog_at_the_station(tiny_scenario, line_villages):
    sc = _bus_scenario(tiny_scenario, line_villages, capacity_parcels=5)
    results = sim.run(sim.build(sc), replications=1)
    assert_capacities(results)
    p = results.parcels
    waiting = p["village_code"].isin(line_villages) & (p["reason"] == "awaiting_shuttle")
    assert waiting.sum() > 20


def test_bad_lines_are_rejected(tiny_scenario, line_villages):
    data = tiny_scenario.model_dump(mode="json")
    line = {"name": "k1", "stops": line_villages, "departures": ["09:00"], "capacity_parcels": 10}
    data["buses"] = [line, line]
    with pytest.raises(sim.ScenarioError, match="used twice"):
        sim.scenario_from_dict(data)
    far = _scenario(tiny_scenario, buses=[{**line, "stops": ["141124100201"]}])
    with pytest.raises(sim.ScenarioError, match=r"buses\.0\.stops"):
        sim.build(far)


def test_bus_as_complement_keeps_the_vans(tiny_scenario, line_villages):
    sc = _bus_scenario(tiny_scenario, line_villages, share_of_parcels=0.4)
    world = sim.build(sc)
    c = world.counties[0]
    loops = np.concatenate([r for v in c.village_vehicles for r in v.routes])
    assert np.isin(np.arange(6) + 1 + c.n_townships, loops).all()  # vans still call
    results = sim.run(world, replications=1)
    assert_conserved(results)
    assert_capacities(results)
    p = results.parcels
    mine = p[(p["direction"] == "inbound") & p["village_code"].isin(line_villages)]
    reached = mine[mine["t_point"].notna()]
    by_bus = reached["t_township"].isna()
    assert by_bus.mean() == pytest.approx(0.4, abs=0.1)
    k = sim.compute_kpis(results)
    county = k[k["scope"] == "county"].set_index("kpi")["value"]
    t = reached["t_point"]
    window = reached[(t >= sc.warmup_days * 1440) & (t < sc.horizon_days * 1440)]
    assert county["bus_parcels"] == window["t_township"].isna().sum()
