"""Carriers with market shares, own vehicles or co-delivery (共同配送), cost per carrier."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


OWN_FREQUENCIES = [
    {"name": "zto", "share": 0.5},  # follows schedules: daily
    {"name": "yto", "share": 0.3, "visits_per_week": 2},
    {"name": "post", "share": 0.2, "visits_per_week": 3, "min_parcels_per_visit": 10},
]


@pytest.fixture(scope="module")
def own_frequencies(tiny_scenario, tiny_county):
    """Separate carriers with their own frequencies; ``post`` skips its small villages.

    Villages get 5 parcels a day, except ``big`` ones with 50: ``post`` expects
    0.2 x 5 x 7 / 3 = 2.3 parcels a visit in a small village (below its 10) and 23 in a big one.
    """
    big = list(tiny_county.village_codes[::20])
    sc = _scenario(
        tiny_scenario,
        horizon_days=8,
        warmup_days=1,
        carriers=OWN_FREQUENCIES,
        co_delivery={"townships": "none"},
        fleet__township_default={"van": 1},
        demand__inbound={
            "mode": "population",
            "parcels_per_person_per_day": 0.01,
            "village_population": 500,
            "populations": {code: 5000 for code in big},
        },
    )
    results, _ = _run(sc)
    return results, np.isin(tiny_county.village_codes, big)


def test_each_carrier_visits_at_its_own_frequency(own_frequencies):
    results, big = own_frequencies
    c = results.world.counties[0]
    days = c.village_visit_days
    assert days.shape == (4, c.n_villages, 7)
    assert (days[0].sum(axis=1) == 7).all()  # zto: schedules.visits_per_week
    assert (days[1].sum(axis=1) == 2).all()  # yto: 2 a week, every village
    assert (days[2].sum(axis=1) == np.where(big, 3, 0)).all()  # post: big villages only
    assert not days[3].any()  # no co-delivery township: the shared lane never runs
    # Each carrier's loops cover exactly the villages it visits, each once.
    for lane in range(3):
        vans = [v for v in c.village_vehicles if v.lane == lane]
        stops = np.concatenate([loop for v in vans for loop in v.routes]) - 1 - c.n_townships
        assert sorted(stops) == list(np.flatnonzero(days[lane].any(axis=1)))
    # On the road: yto stops at each village on 2 of the 7 days of the first full week.
    t = results.trips
    legs = t[(t["kind"] == "village_loop") & t["vehicle"].str.contains("-yto-")]
    legs = legs[legs["to_code"].isin(c.village_codes) & (legs["depart"] < 7 * 1440)]
    per_village = legs.assign(day=legs["depart"] // 1440).groupby("to_code")["day"].nunique()
    assert len(per_village) == c.n_villages and (per_village == 2).all()


def test_skipped_villages_hold_that_carriers_parcels(own_frequencies):
    results, big = own_frequencies
    c = results.world.counties[0]
    p = results.parcels[results.parcels["direction"] == "inbound"]
    small = p["village_code"].isin(c.village_codes[~big])
    post = p["carrier"] == "post"
    # Post's parcels for villages it skips wait at the township point for the villagers ...
    assert p.loc[post & small, "held_at_township"].all()
    assert p.loc[post & small, "t_loop_depart"].isna().all()
    # ... everyone else's parcels ride a loop of their own carrier, and none is stuck.
    assert not p.loc[~(post & small), "held_at_township"].any()
    on_loop = p[p["t_loop_depart"].notna() & (p["reason"] == "on_loop")]
    assert all(v.split("-")[1] == k for v, k in zip(on_loop["place"], on_loop["carrier"]))
    # A parcel waiting for a loop at the end waits for a carrier that does visit its village.
    waiting = p[p["reason"] == "awaiting_loop"]
    assert len(waiting) > 0
    lane_of = {x["name"]: k for k, x in enumerate(OWN_FREQUENCIES)}
    lane = waiting["carrier"].astype(str).map(lane_of).to_numpy()
    vill = pd.Index(c.village_codes).get_indexer(waiting["village_code"])
    assert c.village_visit_days[lane, vill].any(axis=1).all()
    # The village still has a point and other carriers' visits: it counts as served.
    assert c.village_served.all()
    skips = [m for m in c.warnings if "min_parcels_per_visit" in m]
    assert len(skips) == 1 and skips[0].startswith(f"carrier post: its vans skip {(~big).sum()} ")


def test_village_visits_cap_a_carriers_own_frequency(tiny_scenario, tiny_county):
    rare, closed = tiny_county.village_codes[:2]
    sc = _scenario(
        tiny_scenario,
        carriers=OWN_FREQUENCIES,
        co_delivery={"townships": "none"},
        schedules__visits_per_week=5,
        schedules__village_visits_per_week={rare: 1, closed: 0},
    )
    c = sim.build(sc).counties[0]
    per_week = c.village_visit_days.sum(axis=2)
    assert list(per_week[:3, 0]) == [1, 1, 0]  # zto follows the override; yto capped at 1
    assert (per_week[:3, 1] == 0).all()  # 0 listed: nobody visits; parcels held there
    assert list(per_week[:3, 2]) == [5, 2, 0]  # zto the scenario default, post skips it


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
    for field, value in (("visits_per_week", 0), ("visits_per_week", 8)):
        data["carriers"] = [{"name": "a", "share": 1.0, field: value}]
        with pytest.raises(sim.ScenarioError, match=rf"carriers\.0\.{field}"):
            sim.scenario_from_dict(data)
    data["carriers"] = [{"name": "a", "share": 1.0, "min_parcels_per_visit": -1}]
    with pytest.raises(sim.ScenarioError, match=r"carriers\.0\.min_parcels_per_visit"):
        sim.scenario_from_dict(data)
    bad = _scenario(tiny_scenario, co_delivery={"townships": ["141124100"]})
    with pytest.raises(sim.ScenarioError, match=r"co_delivery\.townships"):
        sim.build(bad)
    assert np.isclose(sum(c["share"] for c in CARRIERS), 1)
