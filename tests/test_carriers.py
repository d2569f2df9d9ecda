"""Carriers with market shares, own vehicles or co-delivery (共同配送), cost per carrier."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from tests.test_engine import _scenario, assert_capacities, assert_conserved

CARRIERS = [
    {"name": "zto", "share": 0.5},
    {"name": "yto", "share": 0.3},
    {"name": "post", "share": 0.2},
]


def _run(sc):
    results = sim.run(sim.build(sc), replications=1)
    assert_conserved(results)
    assert_capacities(results)
    k = sim.compute_kpis(results)
    return results, k


def _scope(k, scope):
    return k[k["scope"] == scope].pivot_table(index="code", columns="kpi", values="value")


@pytest.fixture(scope="module")
def pair(tiny_scenario):
    base = _scenario(
        tiny_scenario, horizon_days=4, carriers=CARRIERS, fleet__township_default={"van": 1}
    )
    shared = _run(_scenario(base, co_delivery={"townships": "all"}))
    separate = _run(_scenario(base, co_delivery={"townships": "none"}))
    return shared, separate


def test_parcels_follow_market_shares(pair):
    (results, _), _ = pair
    share = results.parcels["carrier"].value_counts(normalize=True)
    for c in CARRIERS:
        assert share[c["name"]] == pytest.approx(c["share"], abs=0.02)


def test_separate_carriers_run_their_own_vehicles(pair):
    (shared, _), (separate, _) = pair
    c_sep = separate.world.counties[0]
    assert not c_sep.township_shared.any()
    names = {v.id.split("-")[1] for v in c_sep.village_vehicles}
    assert names == {"zto", "yto", "post"}
    assert {v.lane for v in c_sep.village_vehicles} == {0, 1, 2}
    c_sh = shared.world.counties[0]
    assert c_sh.township_shared.all() and {v.lane for v in c_sh.village_vehicles} == {3}
    # Parcels on a carrier's vehicle at the end belong to that carrier.
    p = separate.parcels
    on_loop = p[(p["reason"] == "on_loop") & (p["direction"] == "inbound")]
    for carrier, place in zip(on_loop["carrier"], on_loop["place"].astype(str)):
        assert place.split("-")[1] == carrier


def test_co_delivery_drives_less_and_costs_less(pair):
    (_, k_sh), (_, k_sep) = pair
    sh, sep = _scope(k_sh, "county").iloc[0], _scope(k_sep, "county").iloc[0]
    assert sh["vehicle_km"] < sep["vehicle_km"]
    assert sh["cost_per_parcel_village_yuan"] < sep["cost_per_parcel_village_yuan"]


def test_carrier_costs_add_up(pair):
    for _, k in pair:
        carriers = _scope(k, "carrier")
        county = _scope(k, "county").iloc[0]
        assert carriers["cost_yuan"].sum() == pytest.approx(county["cost_yuan"])
        assert set(carriers.index) == {"zto", "yto", "post"}
    (_, k_sh), (_, k_sep) = pair
    assert (_scope(k_sh, "carrier")["cost_own_vehicles_yuan"] == 0).all()
    assert (_scope(k_sep, "carrier")["cost_own_vehicles_yuan"] > 0).all()
    # Shared costs follow parcels: the biggest carrier pays the most.
    shared = _scope(k_sh, "carrier")["cost_shared_yuan"]
    assert shared.idxmax() == "zto"


def test_mixed_townships(tiny_scenario, tiny_county):
    some = list(tiny_county.township_codes[:3])
    sc = _scenario(
        tiny_scenario, horizon_days=3, carriers=CARRIERS, co_delivery={"townships": some}
    )
    c = sim.build(sc).counties[0]
    assert c.township_shared[:3].all() and not c.township_shared[3:].any()
    _run(sc)


def test_bad_carriers(tiny_scenario):
    data = tiny_scenario.model_dump(mode="json")
    data["carriers"] = [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}]
    with pytest.raises(sim.ScenarioError, match=r"sum to 0\.9"):
        sim.scenario_from_dict(data)
    bad = _scenario(tiny_scenario, co_delivery={"townships": ["141124100"]})
    with pytest.raises(sim.ScenarioError, match=r"co_delivery\.townships"):
        sim.build(bad)
    assert np.isclose(sum(c["share"] for c in CARRIERS), 1)
