"""Calendar: weekday pattern and peak events scale inbound demand on the right days."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest

import sim
from sim.calendar import dates, demand_factors
from tests.test_engine import _scenario


def _with_calendar(base, **calendar):
    return _scenario(
        base, start_date="2026-11-08", horizon_days=8, drain_days=0, demand__calendar=calendar
    )


def test_factors_follow_weekdays_and_events(tiny_scenario):
    sc = _with_calendar(
        tiny_scenario,
        weekday_factors=[1, 1, 1, 1, 1, 0.5, 0.8],
        events=[
            {"name": "double11", "start": "11-11", "end": "11-11", "factor": 1.87},
            {"name": "run-up", "start": "2026-11-10", "end": "2026-11-11", "factor": 1.4},
        ],
    )
    assert dates(sc)[0] == _dt.date(2026, 11, 8)  # a Sunday
    np.testing.assert_allclose(demand_factors(sc), [0.8, 1, 1.4, 1.87 * 1.4, 1, 1, 0.5, 0.8])


def test_yearly_event_wraps_past_new_year(tiny_scenario):
    sc = _scenario(
        tiny_scenario,
        start_date="2026-12-30",
        horizon_days=5,
        drain_days=0,
        demand__calendar={
            "events": [{"name": "spring", "start": "12-31", "end": "01-02", "factor": 1.33}]
        },
    )
    np.testing.assert_allclose(demand_factors(sc), [1, 1.33, 1.33, 1.33, 1])


def test_peak_day_multiplies_parcels(tiny_scenario):
    base = _scenario(
        tiny_scenario,
        horizon_days=4,
        replications=1,
        start_date="2026-11-09",
        demand__inbound__parcels_per_village_per_day=20,
    )
    peak = _scenario(
        base,
        demand__calendar={
            "events": [{"name": "double11", "start": "11-11", "end": "11-11", "factor": 1.87}]
        },
    )
    per_day = []
    for sc in (base, peak):
        p = sim.run(sim.build(sc)).parcels
        per_day.append(np.bincount((p["t_created"] // 1440).astype(int), minlength=4))
    ratio = per_day[1] / per_day[0]
    assert ratio[2] == pytest.approx(1.87, rel=0.05)
    np.testing.assert_array_equal(per_day[0][[0, 1, 3]], per_day[1][[0, 1, 3]])


@pytest.mark.parametrize(
    "event, words",
    [
        ({"name": "x", "start": "11-31x", "end": "11-31", "factor": 2}, "MM-DD"),
        ({"name": "x", "start": "2026-11-11", "end": "11-12", "factor": 2}, "both be dates"),
        ({"name": "x", "start": "2026-11-11", "end": "2026-11-01", "factor": 2}, "before"),
        ({"name": "x", "start": "11-11", "end": "11-11", "factor": 0}, "greater than 0"),
    ],
)
def test_bad_events_are_rejected(tiny_scenario, event, words):
    data = tiny_scenario.model_dump(mode="json")
    data["demand"]["calendar"] = {"events": [event]}
    with pytest.raises(sim.ScenarioError, match=words):
        sim.scenario_from_dict(data)
