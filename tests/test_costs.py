"""Vehicle range, CO2, fixed costs, cost tiers, village cost allocation and subsidy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.costs import county_costs, village_economics
from tests.test_engine import _scenario


def _kpis(sc):
    results = sim.run(sim.build(sc), replications=1)
    k = sim.compute_kpis(results)
    county = k[k["scope"] == "county"].set_index("kpi")["value"]
    return results, k, county


def test_ev_range_out_of_reach_is_refused(tiny_scenario, tiny_path, tmp_path, capsys):
    short = _scenario(tiny_scenario, fleet__vehicle_types__etricycle__range_km=3)
    with pytest.raises(sim.BuildError, match=r"range_km") as exc:
        sim.build(short)
    assert "km there and back from township point" in str(exc.value)
    bad = tmp_path / "ev.yaml"
    bad.write_text(
        tiny_path.read_text(encoding="utf-8").replace(
            "      cost_per_hour_yuan: 25\n", "      cost_per_hour_yuan: 25\n      range_km: 3\n"
        ),
        encoding="utf-8",
    )
    assert main(["validate", str(bad)]) == 0  # the fast check plans no routes
    capsys.readouterr()
    assert main(["validate", "--build", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "ev.yaml" in err and "range_km" in err and "Traceback" not in err


def test_range_splits_loops_and_caps_daily_km(tiny_scenario):
    limit = 60.0
    sc = _scenario(
        tiny_scenario,
        fleet__vehicle_types__etricycle__range_km=limit,
        fleet__township_default={"etricycle": 4},
    )
    c = sim.build(sc).counties[0]
    km = c.km["etricycle"]
    for v in c.village_vehicles:
        for weekday in range(7):
            total = 0.0
            for loop in v.routes:
                stops = loop[c.village_visit_days[v.lane, loop - 1 - c.n_townships, weekday]]
                if len(stops):
                    path = np.concatenate([[v.base], stops, [v.base]])
                    total += km[path[:-1], path[1:]].sum()
            assert total <= limit + 1e-6


def test_costs_add_up_and_co2(tiny_scenario):
    sc = _scenario(
        tiny_scenario,
        fleet__vehicle_types__van__co2_kg_per_km=0.2,
        fleet__vehicle_types__etricycle__cost_per_day_yuan=30,
    )
    results, _, county = _kpis(sc)
    assert county["cost_yuan"] == pytest.approx(
        county["cost_shuttle_yuan"] + county["cost_village_yuan"]
    )
    dep = results.trips["depart"]
    legs = results.trips[(dep >= sc.warmup_days * 1440) & (dep < sc.horizon_days * 1440)]
    vans = legs[legs["type"] == "van"]
    assert county["co2_kg"] == pytest.approx(0.2 * vans["km"].sum())
    # Every vehicle of the fleet is paid every day of the window, driving or not.
    c = results.world.counties[0]
    days = sc.horizon_days - sc.warmup_days
    n_vans = sum(v.vtype == "van" for v in c.vehicles)
    n_tricycles = sum(v.vtype == "etricycle" for v in c.vehicles)
    assert n_tricycles == 2 * c.n_townships  # idle ones included
    assert county["cost_fixed_yuan"] == pytest.approx((40 * n_vans + 30 * n_tricycles) * days)
    assert county["cost_driver_yuan"] == pytest.approx(190 * (n_vans + n_tricycles) * days)
    assert county["vehicle_days"] == (n_vans + n_tricycles) * days
    costs = county_costs(c, results.trips, results.parcels)
    assert costs.village_yuan_each.sum() == pytest.approx(costs.village_yuan)


def test_remote_villages_carry_more_cost_and_subsidy(tiny_scenario):
    results, kpis, _ = _kpis(tiny_scenario)
    c = results.world.counties[0]
    costs = county_costs(c, results.trips, results.parcels)
    free = village_economics(c, costs)
    per = free["cost_per_parcel_yuan"].to_numpy()
    tm = c.time_min["etricycle"]
    vf = np.arange(c.n_villages) + 1 + c.n_townships
    alone = tm[c.village_township + 1, vf] + tm[vf, c.village_township + 1]
    ok = np.isfinite(per)
    # Farther villages cost more. Ranks, not values: a loop's cost is shared by stand-alone
    # time within each run, so a few villages on short runs are outliers in yuan per parcel
    # (Pearson 0.43 on the sweep's loops, 0.26 on the improved ones; ranks 0.62 and 0.51).
    rho = pd.Series(alone[ok]).corr(pd.Series(per[ok]), method="spearman")
    assert rho > 0.3
    # With no fee every served village needs a subsidy; with a huge fee none does.
    poor = _scenario(tiny_scenario, economics__revenue_per_parcel_yuan=0)
    rich = _scenario(tiny_scenario, economics__revenue_per_parcel_yuan=1000)
    _, _, c_poor = _kpis(poor)
    _, _, c_rich = _kpis(rich)
    assert c_rich["uneconomic_villages"] == 0 and c_rich["subsidy_needed_yuan_per_day"] == 0
    days = tiny_scenario.horizon_days - tiny_scenario.warmup_days
    assert c_poor["subsidy_needed_yuan_per_day"] == pytest.approx(
        c_poor["cost_village_yuan"] / days
    )
    assert c_poor["uneconomic_villages"] >= 0.9 * np.sum(costs.village_parcels > 0)
    village = kpis[(kpis["scope"] == "village") & (kpis["kpi"] == "subsidy_yuan_per_day")]
    assert len(village) == c.n_villages
