"""Metamorphic properties across seeds: more resources never make service look worse.

Each test runs the same scenario with more of one resource (vans, sorting capacity, visits,
demand) under common random numbers, for several seeds (which also redraw the synthetic
geography), and checks the direction of the answer. A percentile that censoring leaves
unknown (NaN: too many parcels never arrived) counts as worse than any known one.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import sim
from tests.test_engine import _scenario

SCENARIOS = Path(__file__).parent.parent / "scenarios"
SEEDS = (1, 2, 3)


def _county(sc: sim.Scenario) -> dict[str, float]:
    """County KPIs of one run (mean over its replications)."""
    kpis = sim.compute_kpis(sim.run(sim.build(sc)))
    return kpis[kpis["scope"] == "county"].groupby("kpi")["value"].mean().to_dict()


def _worse_or_nan(x: float) -> float:
    return math.inf if math.isnan(x) else x


def _linxian(seed: int, **changes) -> sim.Scenario:
    """临县 (mountains), one week measured after a short warm-up, one replication."""
    base = sim.load_scenario(SCENARIOS / "linxian_mountain.yaml")
    return _scenario(
        base, seed=seed, replications=1, warmup_days=2, horizon_days=9, drain_days=5, **changes
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_more_vans_never_worsen_lead_time_or_on_time(seed):
    """临县 with 1, 2, 3 vans per township: p95 lead never rises, on-time never falls."""
    runs = [_county(_linxian(seed, fleet__township_default={"van": n})) for n in (1, 2, 3)]
    p95 = [_worse_or_nan(r["lead_time_p95_h"]) for r in runs]
    on_time = [r["on_time_rate"] for r in runs]
    assert p95[0] >= p95[1] >= p95[2]
    assert on_time[0] <= on_time[1] <= on_time[2]
    # One van per township cannot work its loops within a day: loops are left undriven.
    assert runs[0]["loops_not_driven"] > runs[2]["loops_not_driven"]
    # ... and the vans cost money even when they wait: three cost more than two.
    assert runs[2]["cost_yuan"] > runs[1]["cost_yuan"]


@pytest.mark.parametrize("seed", SEEDS)
def test_more_sorting_capacity_never_raises_the_centre_backlog(tiny_scenario, seed):
    backlog = []
    for rate in (200, 400, 800, 1600):
        sc = _scenario(
            tiny_scenario,
            seed=seed,
            replications=1,
            facilities__county_centre__sorting_capacity_per_hour=rate,
        )
        county = _county(sc)
        backlog.append(
            (
                county["backlog_county_centre"],
                county["backlog_county_centre_max"],
                county["backlog_county_centre_unsorted"],
            )
        )
    for (avg_a, max_a, _), (avg_b, max_b, _) in zip(backlog, backlog[1:]):
        assert avg_b <= avg_a + 1e-9
        assert max_b <= max_a
    # Not vacuous: the unsorted queue shrinks (the sorted one waits for the same shuttles).
    assert backlog[0][2] > 5 * backlog[-1][2]


@pytest.mark.parametrize("seed", SEEDS)
def test_more_visits_never_lower_village_coverage(tiny_scenario, seed):
    coverage = []
    for visits in (3, 5, 7):
        sc = _scenario(
            tiny_scenario,
            seed=seed,
            replications=1,
            horizon_days=8,
            schedules__visits_per_week=visits,
        )
        coverage.append(_county(sc)["village_express_coverage"])
    assert coverage[0] <= coverage[1] <= coverage[2]
    assert coverage[0] < coverage[2]


@pytest.mark.parametrize("seed", SEEDS)
def test_double_demand_doubles_parcels_created(tiny_scenario, seed):
    rate = tiny_scenario.demand.inbound.parcels_per_village_per_day
    created = []
    for factor in (1, 2):
        sc = _scenario(
            tiny_scenario,
            seed=seed,
            replications=1,
            horizon_days=8,
            demand__inbound__parcels_per_village_per_day=rate * factor,
        )
        created.append(_county(sc)["parcels_created"])
    assert created[1] / created[0] == pytest.approx(2.0, rel=0.03)
