"""Outbound farm products (农产品进城): seasons, backhaul, trunk cut-offs, spoilage, cold chain."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest

import sim
from sim.outbound import season_curve
from sim.scenario import Specialty
from tests.test_engine import _scenario, assert_capacities, assert_conserved

CHERRIES = {
    "name": "cherries",
    "start": "03-01",
    "end": "03-09",
    "peak_parcels_per_village_per_day": 12,
    "shelf_life_h": 30,
}


def _run(sc):
    results = sim.run(sim.build(sc), replications=1)
    assert_conserved(results)
    assert_capacities(results)
    return results


def test_season_is_a_triangle_and_may_wrap_the_year():
    spec = Specialty(name="x", start="03-01", end="03-05", peak_parcels_per_village_per_day=1)
    days = [_dt.date(2026, 2, 28) + _dt.timedelta(days=d) for d in range(7)]
    np.testing.assert_allclose(season_curve(spec, days), [0, 0, 0.5, 1, 0.5, 0, 0])
    wrap = Specialty(name="y", start="12-30", end="01-01", peak_parcels_per_village_per_day=1)
    days = [_dt.date(2026, 12, 29) + _dt.timedelta(days=d) for d in range(4)]
    np.testing.assert_allclose(season_curve(wrap, days), [0, 0, 1, 0])


def test_outbound_parcels_ride_back_and_leave_on_the_trunk(tiny_scenario):
    sc = _scenario(
        tiny_scenario,
        horizon_days=4,
        demand__outbound={"parcels_per_village_per_day": 3},
        facilities__county_centre__trunk_departures=[{"time": "20:00", "cutoff_min": 90}],
    )
    p = _run(sc).parcels
    # The window's parcels (the drain adds later ones that need not leave).
    out = p[(p["direction"] == "outbound") & (p["t_created"] < sc.horizon_days * 1440)]
    assert len(out) > 2000
    shipped = out[out["final_state"] == "delivered"]
    assert len(shipped) > 0.5 * len(out)
    # Trunk at 20:00 with a 90-minute cut-off.
    assert np.allclose(shipped["t_trunk"] % 1440, 20 * 60)
    assert (shipped["t_trunk"] - shipped["t_centre"] >= 90 - 1e-9).all()
    late = shipped[(shipped["t_centre"] % 1440) > 20 * 60 - 90]
    assert ((late["t_trunk"] - late["t_centre"]) > 60 * 12).all()  # waited for the next day
    # Inbound KPIs are not disturbed by outbound rows.
    k = sim.compute_kpis(sim.run(sim.build(sc), replications=1))
    county = k[k["scope"] == "county"].set_index("kpi")["value"]
    assert county["outbound_parcels_created"] == (out["t_created"] >= 1440).sum()  # the window
    t = p["t_created"]
    assert county["parcels_created"] == ((t >= 1440) & (t < sc.horizon_days * 1440)).sum()
    assert county["lead_time_p50_h"] < 48


def test_perishables_spoil_and_cold_chain_saves_them(tiny_scenario):
    base = _scenario(
        tiny_scenario,
        start_date="2026-03-01",
        horizon_days=8,
        demand__outbound={"specialties": [CHERRIES], "cold_chain_shelf_factor": 4},
    )
    warm = _run(base).parcels
    cold = _run(
        _scenario(
            base,
            fleet__vehicle_types__van__cold_chain=True,
            fleet__vehicle_types__etricycle__cold_chain=True,
        )
    ).parcels

    def rate(p):
        out = p[p["direction"] == "outbound"]
        return (out["final_state"] == "spoiled").mean()

    assert rate(warm) > 0.05
    assert rate(cold) < rate(warm)
    spoiled = warm[warm["final_state"] == "spoiled"]
    assert (spoiled["reason"] == "shelf_life_exceeded").all()
    assert spoiled["village_code"].notna().all()


def test_specialty_villages_must_be_in_the_region(tiny_scenario):
    spec = {**CHERRIES, "villages": ["141124100201"]}
    sc = _scenario(tiny_scenario, demand__outbound={"specialties": [spec]})
    with pytest.raises(sim.ScenarioError, match=r"specialties\.0\.villages"):
        sim.build(sc)


def test_dedicated_collection_runs(tiny_scenario):
    base = _scenario(
        tiny_scenario,
        horizon_days=5,
        demand__outbound={"parcels_per_village_per_day": 4},
        schedules__village_departures=["06:00"],
    )
    extra = _scenario(
        base,
        demand__outbound={"parcels_per_village_per_day": 4, "collection_departures": ["09:00"]},
    )
    a, b = _run(base).parcels, _run(extra).parcels
    out_a = a[a["direction"] == "outbound"]
    out_b = b[b["direction"] == "outbound"]
    # Packed at 08:00: loops leaving at 06:00 reach some villages before that; the extra
    # 09:00 collection run picks up what they missed the same day.
    wait_a = (out_a["t_collected"] - out_a["t_created"]).mean()
    wait_b = (out_b["t_collected"] - out_b["t_created"]).mean()
    assert wait_b < 0.8 * wait_a
    # Collection runs carry no inbound parcels.
    legs = _run(extra).trips
    first = legs[(legs["kind"] == "village_loop") & ((legs["depart"] % 1440) == 9 * 60)]
    assert (first["load"] == 0).all()
