"""Engine invariants: conservation, capacities, determinism, and agreement with the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import sim
from sim.engine import DAY_MIN
from sim.measure import simulated_days

TIMESTAMPS = [
    "t_created",
    "t_sorted",
    "t_shuttle_depart",
    "t_township",
    "t_loop_depart",
    "t_point",
]


def _scenario(base: sim.Scenario, **changes) -> sim.Scenario:
    data = base.model_dump(mode="json")
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return sim.scenario_from_dict(data)


OUTBOUND_TIMESTAMPS = [
    "t_created",
    "t_collected",
    "t_township",
    "t_shuttle_depart",
    "t_centre",
    "t_trunk",
]


def assert_conserved(results: sim.Results) -> None:
    """Every parcel is in exactly one final state, with a consistent history."""
    p_all = results.parcels
    end = max(results.ends.values())
    counts = p_all["final_state"].value_counts()
    assert counts.sum() == len(p_all)
    assert set(p_all["final_state"].dropna().unique()) <= {
        "delivered",
        "in_system",
        "spoiled",
        "failed",
    }
    assert p_all["final_state"].notna().all()
    # Parcel ids are unique per replication.
    assert not p_all.duplicated(["replication", "parcel_id"]).any()
    outbound = p_all["direction"] == "outbound"
    _assert_inbound(p_all[~outbound], end)
    _assert_outbound(p_all[outbound], end)


def _assert_inbound(p, end: float) -> None:
    delivered = p["final_state"] == "delivered"
    assert p.loc[delivered, "t_picked_up"].le(end).all()
    assert p.loc[delivered, "reason"].eq("").all()
    assert not (p["final_state"] == "spoiled").any()
    failed = p["final_state"] == "failed"
    assert p.loc[failed, "reason"].eq("unclaimed_returned").all()
    assert p.loc[failed, "t_returned"].notna().all()
    in_sys = p["final_state"] == "in_system"
    assert p.loc[in_sys, "t_picked_up"].isna().all()
    assert (p.loc[in_sys, "place"] != "").all()
    # Timestamps never go backwards along the flow.
    for a, b in zip(TIMESTAMPS, TIMESTAMPS[1:]):
        both = p[a].notna() & p[b].notna()
        assert (p.loc[both, b] >= p.loc[both, a] - 1e-9).all(), (a, b)
    # A stage reached implies every earlier stage (held parcels skip the village loop).
    not_held = ~p["held_at_township"]
    for a, b in zip(TIMESTAMPS[:4], TIMESTAMPS[1:5]):
        if b == "t_loop_depart":
            assert p.loc[p[b].notna(), a].notna().all()
        else:
            assert p.loc[p[b].notna() & not_held, a].notna().all()
    assert p.loc[p["held_at_township"], "t_loop_depart"].isna().all()


def _assert_outbound(p, end: float) -> None:
    if p.empty:
        return
    shipped = p["final_state"] == "delivered"
    assert p.loc[shipped, "t_trunk"].le(end).all()
    assert p.loc[p["t_trunk"].notna(), "final_state"].isin(["delivered", "spoiled"]).all()
    spoiled = p["final_state"] == "spoiled"
    assert p.loc[spoiled, "reason"].eq("shelf_life_exceeded").all()
    assert not (p["final_state"] == "failed").any()
    in_sys = p["final_state"] == "in_system"
    assert p.loc[in_sys, "t_trunk"].isna().all()
    assert (p.loc[in_sys, "place"] != "").all()
    for a, b in zip(OUTBOUND_TIMESTAMPS, OUTBOUND_TIMESTAMPS[1:]):
        both = p[a].notna() & p[b].notna()
        assert (p.loc[both, b] >= p.loc[both, a] - 1e-9).all(), (a, b)
    # Each stage needs the one before it; bus villages go straight from collection to the
    # centre (no township point, no shuttle).
    for later, earlier in (
        ("t_collected", "t_created"),
        ("t_township", "t_collected"),
        ("t_shuttle_depart", "t_township"),
        ("t_centre", "t_collected"),
        ("t_trunk", "t_centre"),
    ):
        assert p.loc[p[later].notna(), earlier].notna().all(), (later, earlier)


def assert_capacities(results: sim.Results) -> None:
    """No vehicle ever carries more than its capacity; sorting never exceeds its rate."""
    sc = results.world.scenario
    t = results.trips
    caps = {k: v.capacity_parcels for k, v in sc.fleet.vehicle_types.items()}
    caps |= {f"bus:{ln.name}": ln.capacity_parcels for ln in sc.buses}
    cap = t["type"].map(caps)
    assert cap.notna().all()
    assert (t["load"] <= cap).all()
    assert (t["load"] >= 0).all()
    p = results.parcels
    rate = sc.facilities.county_centre.sorting_capacity_per_hour
    for _, g in p.groupby("replication"):
        hour = np.floor(g["t_sorted"].dropna().to_numpy() / 60.0 - 1e-9)
        if len(hour):
            assert np.bincount(hour.astype(np.int64)).max() <= rate + 1


def test_tiny_run_conserves_parcels(tiny_world):
    results = sim.run(tiny_world)
    assert len(results.parcels) > 0
    assert results.parcels["replication"].nunique() == tiny_world.scenario.replications
    assert_conserved(results)
    assert_capacities(results)
    # Most parcels of the first day are delivered by the end of day 3.
    first = results.parcels[results.parcels["t_created"] < DAY_MIN]
    assert (first["final_state"] == "delivered").mean() > 0.5


def test_same_seed_same_tables_different_seed_differs(tiny_scenario):
    a = sim.run(sim.build(tiny_scenario))
    b = sim.run(sim.build(tiny_scenario))
    pd.testing.assert_frame_equal(a.parcels, b.parcels)
    pd.testing.assert_frame_equal(a.trips, b.trips)
    c = sim.run(sim.build(_scenario(tiny_scenario, seed=tiny_scenario.seed + 1)))
    assert len(c.parcels) != len(a.parcels) or not c.parcels["t_created"].equals(
        a.parcels["t_created"]
    )


def test_progress_ticks_once_per_simulated_day(tiny_world):
    ticks = []
    sim.run(tiny_world, progress=ticks.append)
    sc = tiny_world.scenario
    # One tick a day, warm-up, window and the drain; a drain that ends early ticks the rest.
    assert sum(ticks) == simulated_days(sc) * sc.replications
    assert len(ticks) >= sc.horizon_days * sc.replications


def test_replications_differ(tiny_world):
    p = sim.run(tiny_world).parcels
    r0, r1 = (g for _, g in p.groupby("replication"))
    assert len(r0) != len(r1) or not np.array_equal(r0["village_code"], r1["village_code"])


def test_sorting_bottleneck_leaves_backlog_at_centre(tiny_scenario):
    slow = _scenario(tiny_scenario, facilities__county_centre__sorting_capacity_per_hour=50)
    results = sim.run(sim.build(slow), replications=1)
    assert_conserved(results)
    assert_capacities(results)
    p = results.parcels
    at_centre = (p["final_state"] == "in_system") & (p["place"] == "140821")
    assert at_centre.sum() > 0.4 * len(p)
    # The county is not covered, for its sorting; the queue is there, unsorted.
    county = sim.coverage_table(results).query("level == 'county'").iloc[0]
    assert (county["covered"], county["reason"], county["stage"]) == (
        False,
        "sorting_too_slow",
        "sorting",
    )
    kpis = sim.compute_kpis(results).query("scope == 'county'").set_index("kpi")["value"]
    assert kpis["backlog_county_centre_unsorted"] > 3 * kpis["backlog_county_centre_sorted"]
    assert kpis["backlog_county_centre_max"] >= kpis["backlog_county_centre"]


def test_villages_without_points_wait_at_township(tiny_county, tiny_scenario):
    some = list(tiny_county.village_codes[:10])
    sc = _scenario(tiny_scenario, facilities__village_points__villages=some)
    results = sim.run(sim.build(sc), replications=1)
    assert_conserved(results)
    p = results.parcels
    held = ~p["village_code"].isin(some)
    assert p.loc[held, "held_at_township"].all()
    assert p.loc[held, "t_loop_depart"].isna().all()
    assert not p.loc[~held, "held_at_township"].any()


@st.composite
def _variants(draw):
    return {
        "seed": draw(st.integers(0, 2**32)),
        "horizon_days": draw(st.integers(2, 5)),
        "facilities__county_centre__sorting_capacity_per_hour": draw(st.integers(30, 5000)),
        "schedules__visits_per_week": draw(st.integers(1, 7)),
        "schedules__shuttle_departures": draw(
            st.lists(
                st.sampled_from(["06:00", "08:00", "12:15", "15:00", "22:30"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        ),
        "schedules__village_departures": draw(
            st.lists(
                st.sampled_from(["09:00", "10:30", "16:00"]), min_size=1, max_size=2, unique=True
            )
        ),
        "demand__inbound__parcels_per_village_per_day": draw(st.floats(0, 40)),
        "demand__inbound__distribution": draw(st.sampled_from(["poisson", "negative_binomial"])),
        "fleet__county_centre": {"van": draw(st.integers(1, 5))},
        "fleet__township_default": {"etricycle": draw(st.integers(0, 2))},
        "fleet__vehicle_types__etricycle__capacity_parcels": draw(st.integers(5, 120)),
        "pickup__mean_delay_h": draw(st.floats(0.5, 72)),
        "pickup__max_hold_days": draw(st.floats(0.5, 7)),
        "region__terrain": draw(st.sampled_from(["plains", "hills", "mountain"])),
        "village_points": draw(st.integers(0, 284)),
        "bus_capacity": draw(st.one_of(st.none(), st.integers(1, 300))),
        "carriers": draw(
            st.sampled_from(
                [
                    [{"name": "all", "share": 1.0}],
                    [{"name": "zto", "share": 0.6}, {"name": "post", "share": 0.4}],
                ]
            )
        ),
        "co_delivery": {"townships": draw(st.sampled_from(["all", "none"]))},
        "facilities__village_points__kind": draw(
            st.sampled_from(["service_point", "partner_outlet", "locker", "door"])
        ),
        "facilities__village_points__locker_capacity_parcels": draw(st.integers(1, 30)),
        "pickup__delay_h_per_km": draw(st.floats(0, 3)),
        "demand__calendar": draw(
            st.sampled_from(
                [
                    {},
                    {"weekday_factors": [1, 1, 1, 1, 1, 0.5, 0.2]},
                    {"events": [{"name": "peak", "start": "03-03", "end": "03-04", "factor": 1.9}]},
                ]
            )
        ),
        "fleet__vehicle_types__etricycle__range_km": draw(st.sampled_from([None, 400.0])),
        "fleet__vehicle_types__van__cost_per_day_yuan": draw(st.floats(0, 100)),
        "fleet__vehicle_types__van__cold_chain": draw(st.booleans()),
        "demand__outbound": draw(
            st.sampled_from(
                [
                    {},
                    {"parcels_per_village_per_day": 3},
                    {
                        "parcels_per_village_per_day": 1,
                        "specialties": [
                            {
                                "name": "cherries",
                                "start": "02-20",
                                "end": "03-20",
                                "peak_parcels_per_village_per_day": 20,
                                "shelf_life_h": 30,
                            }
                        ],
                    },
                ]
            )
        ),
        "facilities__county_centre__trunk_departures": draw(
            st.sampled_from(
                [
                    [{"time": "20:00", "cutoff_min": 60}],
                    [{"time": "12:00", "cutoff_min": 30}, {"time": "21:00", "cutoff_min": 0}],
                ]
            )
        ),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=_variants())
def test_conservation_over_random_scenarios(tiny_scenario, tiny_county, changes):
    bus = changes.pop("bus_capacity")
    if bus is not None:
        stops = list(tiny_county.village_codes[::40][:5])
        changes["buses"] = [
            {"name": "k1", "stops": stops, "departures": ["09:30"], "capacity_parcels": bus}
        ]
    k = changes.pop("village_points")
    points = "all" if k == 284 else list(tiny_county.village_codes[::3][:k])
    sc = _scenario(
        tiny_scenario,
        warmup_days=1,
        replications=1,
        facilities__village_points__villages=points,
        **changes,
    )
    try:
        world = sim.build(sc)
    except sim.BuildError:
        reject()  # a legitimate refusal (a village out of EV range), not a failure
    results = sim.run(world)
    assert_conserved(results)
    assert_capacities(results)


def test_all_options_are_deterministic(tiny_scenario):
    from benchmarks.options import all_options

    data = all_options(tiny_scenario.model_dump(mode="json"))
    data.update(horizon_days=3, replications=1)
    data["carriers"] = [{"name": "zto", "share": 0.7}, {"name": "post", "share": 0.3}]
    data["co_delivery"] = {"townships": "none"}
    sc = sim.scenario_from_dict(data)
    a, b = sim.run(sim.build(sc)), sim.run(sim.build(sc))
    pd.testing.assert_frame_equal(a.parcels, b.parcels)
    pd.testing.assert_frame_equal(a.trips, b.trips)
    pd.testing.assert_frame_equal(sim.compute_kpis(a), sim.compute_kpis(b))
    assert (a.parcels["direction"] == "outbound").any()
    c = sim.run(sim.build(_scenario(sc, seed=sc.seed + 1))).parcels
    assert not c["t_created"].equals(a.parcels["t_created"]) or len(c) != len(a.parcels)
