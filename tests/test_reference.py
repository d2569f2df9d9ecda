"""The per-parcel reference model (sim/reference.py) reproduces the engine parcel for parcel.

Both draw the same random numbers and follow the same rules with the same float arithmetic, so
every timestamp must be equal to the bit, on the tiny scenario and on a stressed one in which
every inbound mechanism is under load (checked by ``test_stressed_world_is_stressed``, so the
comparison cannot quietly become a light one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.engine import DAY_MIN, shift_at, sorting_shifts
from sim.reference import run_reference
from tests.test_engine import TIMESTAMPS as FLOW
from tests.test_engine import _scenario

TIMESTAMPS = [*FLOW, "t_picked_up", "t_returned"]
DATA = Path(__file__).parent / "data"

LABELS = [
    "carrier",
    "township_code",
    "village_code",
    "held_at_township",
    "point_kind",
    "locker_overflows",
    "final_state",
    "place",
    "reason",
]


def engine_parcels(results: sim.Results, county: int = 0) -> pd.DataFrame:
    """The engine's inbound parcels of one county, numbered from 0 like the reference's."""
    p = results.parcels
    code = results.world.counties[county].county_code
    mine = p[(p["county_code"] == code) & (p["direction"] == "inbound")]
    return mine.reset_index(drop=True)


def assert_same_parcels(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    """Every parcel has the same history, place and outcome in both models."""
    assert len(fast) == len(slow) > 0
    for col in TIMESTAMPS:
        np.testing.assert_array_equal(fast[col].to_numpy(), slow[col].to_numpy(), err_msg=col)
    for col in LABELS:
        np.testing.assert_array_equal(
            fast[col].astype(str).to_numpy(), slow[col].astype(str).to_numpy(), err_msg=col
        )


@pytest.fixture(scope="module")
def stressed_scenario() -> sim.Scenario:
    return sim.load_scenario(DATA / "stressed.yaml")


@pytest.fixture(scope="module")
def stressed_world(stressed_scenario) -> sim.World:
    return sim.build(stressed_scenario)


def _pair(world: sim.World, r: int, **run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The engine's and the reference's parcel tables of replication ``r``, same end."""
    results = sim.run(world, only=r, **run)
    end = results.end_of(r, world.counties[0].county_code)
    return engine_parcels(results), run_reference(world, replication=r, until_min=end)


@pytest.mark.parametrize("r", [0, 1])
def test_reference_matches_engine_on_tiny(tiny_world, r):
    assert_same_parcels(*_pair(tiny_world, r))


def test_engine_agrees_with_per_parcel_reference(tiny_scenario):
    """The columnar engine and the per-parcel oracle give the same lead-time distribution.

    Both draw the same demand and pickup numbers. Distributions: a two-sample
    Kolmogorov-Smirnov test on the lead times to the collection point must not reject at the
    1% level (p > 0.01), and the means must agree within 1%. Beyond that, since the rules are
    the same, every parcel's history is the same.
    """
    sc = _scenario(
        tiny_scenario,
        horizon_days=4,
        facilities__county_centre__sorting_capacity_per_hour=400,
        demand__inbound__parcels_per_village_per_day=8,
    )
    world = sim.build(sc)
    fast, slow = _pair(world, 0)
    lead_fast = ((fast["t_point"] - fast["t_created"]) / 60).dropna().to_numpy()
    lead_slow = ((slow["t_point"] - slow["t_created"]) / 60).dropna().to_numpy()
    assert len(lead_fast) > 1000
    assert stats.ks_2samp(lead_fast, lead_slow).pvalue > 0.01
    assert lead_fast.mean() == pytest.approx(lead_slow.mean(), rel=0.01)
    assert_same_parcels(fast, slow)


@pytest.mark.parametrize("r", [0, 1, 2])
def test_reference_matches_engine_on_stressed(stressed_world, r):
    assert_same_parcels(*_pair(stressed_world, r))


def _first_legs(results: sim.Results) -> pd.DataFrame:
    """The first leg of every vehicle run, with the capacity of its vehicle."""
    sc = results.world.scenario
    caps = {name: vt.capacity_parcels for name, vt in sc.fleet.vehicle_types.items()}
    caps.update({f"bus:{ln.name}": ln.capacity_parcels for ln in sc.buses})
    first = results.trips.groupby("run", sort=False).head(1)
    return first.assign(cap=first["type"].map(caps), day=first["depart"] // DAY_MIN)


@pytest.mark.parametrize("r", [0, 1, 2])
def test_stressed_world_is_stressed(stressed_world, r):
    """Every mechanism the stressed comparison is meant to check is really exercised."""
    c = stressed_world.counties[0]
    sc = c.scenario
    results = sim.run(stressed_world, only=r)
    p = engine_parcels(results)
    legs = _first_legs(results)
    full = legs[legs["load"] == legs["cap"]]
    # Sorting spills over shift ends (with the shift-end rounding rule biting at 14:00).
    shifts = sorting_shifts(sc)
    ends = np.array([shift_at(shifts, t)[1] for t in p["t_created"]])
    assert (p["t_sorted"] > ends).sum() > 0
    # Shuttles, village loops and the bus leave full; vans drive several loops a departure.
    assert set(full["kind"]) == {"shuttle", "village_loop", "bus"}
    loops = legs[legs["kind"] == "village_loop"]
    assert loops.groupby(["vehicle", "day"]).size().max() >= 3
    # A van's loops run past its driver's day: some are not driven.
    assert len(results.skipped) > 0
    # The run goes on past the window (the drain) for parcels still on their way.
    assert results.end_of(r, c.county_code) > sc.horizon_days * DAY_MIN
    # Held at the township: villages without a point and villages with no visits.
    held = p[p["held_at_township"]]
    assert sc.pickup.delay_h_per_km > 0
    has_point = pd.Series(c.village_has_point, index=c.village_codes)
    visits = pd.Series(c.village_visit_days.sum(axis=(0, 2)), index=c.village_codes)
    held_villages = held["village_code"].astype(str)
    assert (~has_point[held_villages].to_numpy()).sum() > 100
    assert (has_point[held_villages].to_numpy() & (visits[held_villages] == 0).to_numpy()).sum()
    assert held["t_picked_up"].notna().sum() > 100
    assert p["t_returned"].notna().sum() > 100
    # Small lockers overflow; outlets and doors hand parcels over.
    assert p["locker_overflows"].sum() > 0
    kind = p["point_kind"].astype(str)
    door = p[kind == "door"].dropna(subset=["t_point"])
    assert len(door) and (door["t_picked_up"] == door["t_point"]).all()
    assert p.loc[kind == "partner_outlet", "t_picked_up"].notna().sum() > 0
    # Two carriers with their own vans, and one co-delivery township with a shared one.
    assert {v.lane for v in c.village_vehicles} == {0, 1, 2}
    assert set(p.loc[p["t_loop_depart"].notna(), "carrier"].astype(str)) == {"zto", "yto"}
    # The bus carries part of its villages' parcels; vans carry the rest.
    on_line = np.isin(p["village_code"].astype(str), c.village_codes[c.village_bus >= 0])
    by_bus = on_line & p["t_shuttle_depart"].notna() & p["t_township"].isna()
    by_van = on_line & p["t_loop_depart"].notna()
    assert by_bus.sum() > 0 and by_van.sum() > 0


@pytest.fixture(scope="module")
def bus_locker_world(stressed_scenario) -> sim.World:
    """The stressed world with a locker at a bus stop, so that lockers refuse bus parcels."""
    kinds = {**stressed_scenario.facilities.village_points.kinds, "140821103204": "locker"}
    return sim.build(_scenario(stressed_scenario, facilities__village_points__kinds=kinds))


def test_reference_returns_refused_bus_parcels_to_the_bus(bus_locker_world):
    slow = run_reference(bus_locker_world, replication=0)
    refused = slow[(slow["village_code"] == "140821103204") & (slow["locker_overflows"] > 0)]
    # Back at the head of the bus queue: delivered by a later bus, never via the township.
    by_bus = refused["t_shuttle_depart"].notna() & refused["t_township"].isna()
    assert (by_bus & refused["t_point"].notna()).sum() > 0


def test_reference_matches_engine_with_lockers_on_a_bus_line(bus_locker_world):
    """Parcels a locker refuses from a bus go back to the head of that bus's queue."""
    assert_same_parcels(*_pair(bus_locker_world, 0))


@pytest.fixture(scope="module")
def daily_world(stressed_scenario) -> sim.World:
    """The stressed world with loops planned per weekday and most villages visited 3 times a
    week, so that a van's routes run on some weekdays only."""
    sc = _scenario(stressed_scenario, planning={"routes": "daily"}, schedules__visits_per_week=3)
    return sim.build(sc)


@pytest.mark.parametrize("r", [0, 1])
def test_reference_matches_engine_with_daily_routes(daily_world, r):
    """Routes that run on some weekdays only: the engine and the oracle drive the same ones."""
    c = daily_world.counties[0]
    days = [d for v in c.village_vehicles for d in v.route_days or ()]
    assert days and any(not d.all() for d in days)
    results = sim.run(daily_world, only=r)
    # Still stressed: full loops, loops past the driver's day, parcels held at the township.
    legs = _first_legs(results)
    loops = legs[legs["kind"] == "village_loop"]
    assert (loops["load"] == loops["cap"]).any()
    assert len(results.skipped) > 0
    assert engine_parcels(results)["held_at_township"].sum() > 100
    end = results.end_of(r, c.county_code)
    assert_same_parcels(
        engine_parcels(results), run_reference(daily_world, replication=r, until_min=end)
    )


def test_daily_routes_run_on_their_weekdays_only(daily_world):
    """Each village loop the engine drives calls at villages of a route that runs that weekday."""
    c = daily_world.counties[0]
    sc = c.scenario
    results = sim.run(daily_world, only=0)
    trips = results.trips[results.trips["kind"] == "village_loop"]
    code_of = dict(enumerate(c.codes))
    allowed: dict[tuple[str, int], set[str]] = {}
    for v in c.village_vehicles:
        for i, lp in enumerate(v.routes):
            for d in np.flatnonzero(v.days_of(i)):
                allowed.setdefault((v.id, int(d)), set()).update(code_of[int(f)] for f in lp)
    weekday = (sc.start_date.weekday() + trips["depart"] // DAY_MIN).astype(int) % 7
    stops = trips[trips["to_code"].isin(set(c.village_codes))]
    for (vid, wd), to in zip(zip(stops["vehicle"], weekday[stops.index]), stops["to_code"]):
        assert to in allowed.get((vid, int(wd)), set())
    assert len(stops) > 100
