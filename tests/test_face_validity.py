"""Face validity: the shipped scenarios against published figures (project domain notes).

Each test states the published figure, what the model gives, and asserts only what the model
honestly reproduces; where it does not match, the docstring says so and why, and the test pins
down the direction of the effect instead. The README's "Face validity" section summarises them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from tests.test_engine import _scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios"


def _run(name: str, **changes) -> tuple[sim.Results, dict]:
    scenario = sim.load_scenario(SCENARIOS / f"{name}.yaml")
    scenario = _scenario(scenario, replications=1, **changes)
    results = sim.run(sim.build(scenario))
    kpis = sim.compute_kpis(results)
    county = kpis[kpis["scope"] == "county"].groupby("kpi")["value"].mean().to_dict()
    return results, county


def test_double11_peak_day_and_its_delay():
    """Double-11 2023: the peak day had 1.87x a regular day's parcels (SPB).

    Matches by construction (the calendar factor is an input). What the model adds: the peak
    day's parcels wait longer, because sorting and van capacity do not scale with the peak;
    the backlog takes days to clear.
    """
    results, _ = _run(
        "linyi_baseline",
        start_date="2026-11-05",
        demand__calendar={
            "events": [{"name": "double11", "start": "11-11", "end": "11-11", "factor": 1.87}]
        },
    )
    p = results.parcels[results.parcels["direction"] == "inbound"]
    day = (p["t_created"] // 1440).astype(int).to_numpy()
    per_day = np.bincount(day)
    assert per_day[6] / np.mean(per_day[[2, 3, 4, 5]]) == pytest.approx(1.87, rel=0.1)
    lead = ((p["t_point"] - p["t_created"]) / 60).to_numpy()
    before = np.nanpercentile(lead[(day >= 2) & (day <= 5)], 95)
    assert np.nanpercentile(lead[day == 6], 95) > before + 6


def test_on_time_rate_against_72_hours():
    """SPB 2023: 80.97% of parcels delivered within 72 h, full course (sender to recipient).

    The model covers only the last leg (county centre to the collection point), so it should
    be at least as punctual: 临猗 (plains, daily loops) is at 100%, 临县 (mountains, three
    visits a week) about 92%. It does not reproduce the national figure, which includes the
    long-haul legs the model leaves out.
    """
    _, plains = _run("linyi_baseline", kpi__max_lead_time_h=72)
    _, mountain = _run("linxian_mountain", kpi__max_lead_time_h=72)
    assert plains["on_time_rate"] >= 0.81
    assert 0.81 <= mountain["on_time_rate"] < plains["on_time_rate"]


def test_rural_buses_and_the_hunan_saving():
    """Hunan: 630 passenger-freight bus routes cut downward delivery cost by about 20%.

    The model does not reproduce the 20%: with a 0.5 yuan fee per parcel the 临县 bus lines
    leave the county's cost per parcel about where it was (the saving depends on the fee and
    on how remote the bus villages are). It does reproduce the service effect reported in
    Taojiang (over a day faster): villages on bus lines are served daily and their lead
    times drop.
    """
    base_r, base = _run("linxian_mountain")
    bus_r, bus = _run("linxian_bus_freight")
    assert bus["cost_per_parcel_yuan"] == pytest.approx(base["cost_per_parcel_yuan"], rel=0.1)
    c = bus_r.world.counties[0]
    on_line = set(c.village_codes[c.village_bus >= 0])

    def p95(results):
        p = results.parcels
        p = p[(p["direction"] == "inbound") & p["village_code"].isin(on_line)]
        return np.nanpercentile((p["t_point"] - p["t_created"]) / 60, 95)

    assert p95(bus_r) < p95(base_r) - 12
    assert bus["village_express_coverage"] > base["village_express_coverage"]


def test_co_delivery_lowers_cost():
    """Hunan: pooling downward deliveries (bus routes) cut their cost by about 20%; Tonglu
    (Zhejiang) and Shoushan (Fujian) report that pooling carriers' village deliveries lowers
    each firm's cost (qualitative).

    The model agrees in direction and gives a larger saving: in 临猗, with the post van daily
    and the three other brands' vans visiting 2-3 times a week on their own loops, sharing the
    stations and vans cuts cost per parcel by about 45% (seeds 1-6 and the shipped seed:
    0.44-0.46) and vehicle km by about the same. The band below (35-55%) holds across seeds
    and excludes the 60% the model gave when every brand copied the shared daily loops; it is
    not validated against the 20% figure, which is for a different pooling (buses) and the
    downward leg only. Separate brands also serve worse: their vans come 2-3 times a week, so
    p95 lead time exceeds 48 h and villages lose coverage.
    """
    _, shared = _run("linyi_co_delivery")
    _, separate = _run("linyi_separate_carriers")
    saving = 1 - shared["cost_per_parcel_yuan"] / separate["cost_per_parcel_yuan"]
    assert 0.35 <= saving <= 0.55
    assert 0.35 <= 1 - shared["vehicle_km"] / separate["vehicle_km"] <= 0.55
    assert shared["lead_time_p95_h"] < separate["lead_time_p95_h"] - 24
    assert shared["village_express_coverage"] > separate["village_express_coverage"]


def test_cost_per_parcel_against_the_piece_rate():
    """Courier piece rate 1.0-1.2 yuan per parcel (Global Times 2021, China Daily 2021);
    150-300 parcels per courier-day over 10-12 h (China Daily 2021).

    Every vehicle of the fleet costs a driver day (~190 yuan, derived from courier incomes)
    and a vehicle day (~40 yuan, assumed) on every day of the window, plus its km. 临猗 with
    daily loops then costs about 1.15 yuan per parcel, inside the published band (the piece
    rate leaves out vehicle costs that many outlets bear, the model's figure includes the
    shuttles), and each village van carries about 300 parcels a day, the top of the published
    range for a courier-day. Driver days are most of the cost, so more vans cost more.
    """
    results, county = _run("linyi_baseline")
    assert 1.0 <= county["cost_per_parcel_yuan"] <= 1.3
    assert county["cost_driver_yuan"] > 0.5 * county["cost_yuan"]
    vans = len(results.world.counties[0].village_vehicles)
    days = 14  # the window
    per_van_day = county["parcels_created"] / days / vans
    assert 150 <= per_van_day <= 350
