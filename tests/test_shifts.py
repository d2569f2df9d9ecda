"""Drivers' working days: loops planned within shifts, not driven past them, overtime counted."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.plan import van_day_excess
from tests.test_engine import _scenario

DAY = 1440.0


def test_van_day_excess():
    busy = np.array([[120.0] * 7, [0.0] * 7])  # two hours of loops per departure; an idle van
    deps = np.array([600.0, 960.0])  # 10:00 and 16:00
    # 10:00-12:00 and 16:00-18:00 fit 07:00-19:00 and 10 h of duty.
    assert van_day_excess(busy, deps, (420.0, 1140.0), 600.0).max() == 0
    # A shift ending at 17:00: one hour late.
    assert van_day_excess(busy, deps, (420.0, 1020.0), 600.0)[0, 0] == 60
    # Three hours of duty at most: one hour over.
    assert van_day_excess(busy, deps, (420.0, 1140.0), 180.0)[0, 0] == 60
    assert van_day_excess(busy, deps, (420.0, 1020.0), 180.0)[1].max() == 0


def test_one_tricycle_per_township_falls_short(tiny_scenario):
    sc = _scenario(tiny_scenario, fleet__township_default={"etricycle": 1}, replications=1)
    world = sim.build(sc)
    (shortfall,) = [w for w in world.warnings if "van-hours" in w]
    assert "loops that do not fit are not driven" in shortfall
    results = sim.run(world)
    assert len(results.skipped) > 0
    kpis = sim.compute_kpis(results).query("scope == 'county'").set_index("kpi")["value"]
    assert kpis["loops_not_driven"] > 0
    # No village loop is started that cannot be back by the shift's end (19:00).
    loops = results.trips[results.trips["kind"] == "village_loop"]
    end = loops.groupby("run")["arrive"].max()
    day = loops.groupby("run")["depart"].min() // DAY
    assert (end <= day * DAY + 19 * 60 + 1e-6).all()
    with pytest.raises(sim.BuildError, match="van-hours"):
        sim.build(_scenario(sc, strict=True))


def test_enough_vehicles_keep_their_shifts(tiny_world):
    assert not [w for w in tiny_world.warnings if "van-hours" in w]
    results = sim.run(tiny_world)
    assert results.skipped is not None and len(results.skipped) == 0


def test_vehicles_leave_no_earlier_than_their_shift(tiny_scenario):
    sc = _scenario(
        tiny_scenario,
        replications=1,
        fleet__vehicle_types__etricycle__shift={"start": "11:00", "end": "20:00"},
    )
    trips = sim.run(sim.build(sc)).trips
    loops = trips[trips["kind"] == "village_loop"]
    first = loops.groupby("run")["depart"].min() % DAY
    assert first.min() == 11 * 60  # the 10:30 departure waits for the shift


def test_vans_are_paid_whether_they_drive_or_not(tiny_scenario):
    def cost(n: int) -> float:
        sc = _scenario(tiny_scenario, fleet__township_default={"etricycle": n}, replications=1)
        kpis = sim.compute_kpis(sim.run(sim.build(sc)))
        return kpis.query("scope == 'county' and kpi == 'cost_yuan'")["value"].iat[0]

    two, four = cost(2), cost(4)
    # 2 more tricycles in each of 14 townships, 2 days of window, 190 + 40 yuan a day.
    assert four - two == pytest.approx(14 * 2 * 2 * (190 + 40), rel=0.05)


def test_departures_before_the_shift_are_reported(tiny_scenario):
    sc = _scenario(
        tiny_scenario, fleet__vehicle_types__van__shift={"start": "09:00", "end": "21:00"}
    )
    notes = [w for w in sim.build(sc).warnings if "shift start" in w]
    assert notes == [
        "schedules.shuttle_departures: 08:00 is before the 09:00 shift start of vehicle type "
        "'van' (fleet.vehicle_types.van.shift); it leaves at 09:00"
    ]
