"""The capacity estimate of ``validate`` (:mod:`sim._capacity`) against the planner's own models."""

from __future__ import annotations

import numpy as np
import pytest

from sim import _capacity
from sim._plan_loads import departure_shares
from sim.plan import _LOOP_FILL, visit_days


def test_fill_factor_is_the_planners() -> None:
    assert _capacity.LOOP_FILL == _LOOP_FILL


@pytest.mark.parametrize("n", range(8))
def test_visit_days_are_the_planners(n: int) -> None:
    planned = visit_days(np.full(9, n))
    for index in range(9):
        assert _capacity._visit_days(n, index) == set(np.flatnonzero(planned[index]))


@pytest.mark.parametrize(
    "sorting, daily, departures",
    [
        (2000, 1420.0, [480, 870]),  # tiny: the sorter keeps up
        (2500, 15120.0, [450, 900]),  # 临县: the 15:00 departure waits for the 13:30 wave
        (500, 15120.0, [450, 900]),  # a sorter that falls behind: shares sum below 1
        (2500, 15120.0, [300, 450, 1200]),  # a departure before the first wave
    ],
)
def test_ready_shares_are_the_planners_fluid_model(tiny_scenario, sorting, daily, departures):
    scenario = tiny_scenario.with_changes(
        {
            "facilities.county_centre.sorting_capacity_per_hour": sorting,
            "facilities.county_centre.shifts": [
                {"start": "04:00", "end": "12:00"},
                {"start": "13:00", "end": "19:00"},
            ],
        }
    )
    ours = _capacity.ready_shares(scenario, daily, departures)
    theirs = departure_shares(scenario, daily, [float(t) for t in departures])
    assert ours == pytest.approx(list(theirs), abs=1e-9)
    assert sum(ours) <= 1 + 1e-9
