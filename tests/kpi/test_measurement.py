"""The measurement design: the cohort of the window, the drain, visits, the centre queue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.kpi.backlog import centre_queue
from sim.kpi.cohort import weekly_visits
from sim.measure import DAY_MIN, drain_days, simulated_days
from tests.test_engine import _scenario


@pytest.fixture(scope="module")
def two_weeks(tiny_scenario) -> sim.Results:
    """The tiny county with villages visited 5 days a week, measured over two weeks."""
    sc = _scenario(
        tiny_scenario, horizon_days=15, warmup_days=1, replications=1, schedules__visits_per_week=5
    )
    return sim.run(sim.build(sc))


def test_drain_follows_the_window_until_its_parcels_arrive(two_weeks):
    sc = two_weeks.world.scenario
    end = two_weeks.end_of(0, "140821")
    assert sc.horizon_days * DAY_MIN < end <= simulated_days(sc) * DAY_MIN
    assert drain_days(sc) == 7  # max_hold_days by default
    p = two_weeks.parcels
    cohort = p[(p["t_created"] >= DAY_MIN) & (p["t_created"] < sc.horizon_days * DAY_MIN)]
    assert cohort["t_point"].notna().all()  # every parcel of the window arrived
    # Demand goes on in the drain, so the network stays loaded; those parcels do not count.
    assert (p["t_created"] >= sc.horizon_days * DAY_MIN).sum() > 0
    kpis = sim.compute_kpis(two_weeks)
    county = kpis[kpis["scope"] == "county"].set_index("kpi")["value"]
    assert county["parcels_created"] == len(cohort)
    assert county["lead_unresolved_share"] == 0
    shares = county[["lead_same_day_share", "lead_next_day_share", "lead_later_share"]]
    assert shares.sum() == pytest.approx(1.0)


def test_villages_visited_five_days_a_week_read_five(two_weeks):
    c = two_weeks.world.counties[0]
    mean, worst = weekly_visits(c, two_weeks.trips)
    served = c.village_served
    assert served.sum() > 200
    np.testing.assert_array_equal(mean[served], 5.0)
    np.testing.assert_array_equal(worst[served], 5.0)


def test_a_visit_counts_on_the_day_its_loop_leaves(tiny_county):
    """A loop leaving at 23:00 that reaches a village after midnight is one visit, that day."""
    village = tiny_county.village_codes[0]
    start = tiny_county.scenario.warmup_days * DAY_MIN
    trips = pd.DataFrame(
        {
            "replication": [0, 0, 0],
            "run": [7, 7, 7],
            "kind": ["village_loop"] * 3,
            "vehicle": ["v"] * 3,
            "to_code": [tiny_county.village_codes[1], village, tiny_county.township_codes[0]],
            "depart": [start + 23 * 60, start + 23.8 * 60, start + 25 * 60],
            "arrive": [start + 23.5 * 60, start + 24.5 * 60, start + 26 * 60],
        }
    )
    mean, _ = weekly_visits(tiny_county, trips)
    days = tiny_county.scenario.horizon_days - tiny_county.scenario.warmup_days
    assert mean[0] == pytest.approx(7.0 / days)  # one visit, scaled to a week


def test_centre_queue_is_every_parcel_there():
    """Against a brute-force count at many instants, whatever the parcels' creation time."""
    rng = np.random.default_rng(3)
    n = 2000
    created = rng.uniform(0, 5 * DAY_MIN, n)
    sorted_at = created + rng.exponential(300, n)
    shuttle = sorted_at + rng.exponential(600, n)
    shuttle[rng.random(n) < 0.1] = np.nan  # still waiting when the run stopped
    parcels = pd.DataFrame(
        {
            "direction": pd.Categorical(["inbound"] * n, categories=["inbound", "outbound"]),
            "t_created": created,
            "t_sorted": sorted_at,
            "t_shuttle_depart": shuttle,
            "t_centre": np.nan,
            "t_trunk": np.nan,
        }
    )
    start, end, run_end = 2 * DAY_MIN, 4 * DAY_MIN, 6 * DAY_MIN
    q = centre_queue(parcels, start, end, run_end)
    grid = np.arange(start, end, 1.0)
    left = np.where(np.isnan(shuttle), run_end, shuttle)
    unsorted = ((created[None, :] <= grid[:, None]) & (grid[:, None] < sorted_at)).sum(1)
    waiting = ((sorted_at[None, :] <= grid[:, None]) & (grid[:, None] < left)).sum(1)
    assert q["unsorted"] == pytest.approx(unsorted.mean(), rel=0.01)
    assert q["sorted"] == pytest.approx(waiting.mean(), rel=0.01)
    np.testing.assert_array_equal(q["grid"], unsorted + waiting)
    # Parcels created before the window (the warm-up) are counted while they are there.
    assert (created < start).sum() > 0 and q["unsorted"] > 0
