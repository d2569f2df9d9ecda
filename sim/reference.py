"""A per-parcel reference model: every parcel is its own SimPy process.

This is the oracle the columnar engine (:mod:`sim.engine`) is checked against, parcel for
parcel, and the baseline the benchmark compares its speed with. It follows the engine's rules
with the plainest code it can: parcels wait in ``simpy.Store`` queues, a sorter serves them one
at a time, and vehicles take them, carry them and hand them over one by one. It draws the same
demand, carrier, route and pickup numbers as the engine and uses its time arithmetic (the same
float expressions in the same order), so the two runs must agree to the last bit. Vehicles take
and hand over parcels within their own step, as the engine's do, so events at the same instant
see the same queues. One known exception: a trunk wave arriving at the very minute a shift
starts, while parcels from the day before wait and the previous wave came after the previous
shift's end, joins the engine's second batch of that shift (its sorter wakes first) but the
reference's first; sorting times then differ in the last bit (~1e-13 min).

Covered (the whole inbound flow, 工业品下乡):

- trunk waves; sorting at ``sorting_capacity_per_hour`` within the shifts: a batch is what
  waits when the sorter starts, cut at the shift end (``int((end - now) * rate + 1e-9)``
  parcels), the ``j``-th done at ``start + j / rate``;
- township shuttles with capacity; parcels held at the township point (villages without a
  point, without visits or without a vehicle), picked up after ``township_mean_delay_h`` plus
  ``delay_h_per_km`` per km from the village;
- carriers and lanes: one village queue per (lane, village), a carrier's own village
  vehicles carry only its parcels, co-delivery townships share one lane;
- village vehicles driving one or more loops per departure, each on its route's weekdays
  (every weekday, or those it was planned for with ``planning.routes: daily``), calling only
  at the villages due that weekday and loading, up to capacity, the earliest-ready parcels
  across the loop;
- village points by kind: service point, partner outlet and locker (each with its mean pickup
  delay), door delivery (picked up at once, ``door_min_per_parcel`` extra stop minutes);
  lockers with ``locker_capacity_parcels`` compartments refuse parcels when full (counted in
  ``locker_overflows``); refused parcels ride back and go to the head of their queue;
- rural bus lines from the county station: ``share_of_parcels`` of their villages' parcels (by
  the parcel's route draw), capacity per run, parcels a locker refused back to the head of the
  bus queue;
- returns of unclaimed parcels after ``max_hold_days``; the collection-only departures of the
  village vehicles when the county has outbound parcels (they keep the vehicles busy);
- the drivers' working day: vehicles leave no earlier than their shift start, and a village
  loop that would end after the shift or past ``max_duty_h`` is not driven;
- the measurement design's drain: the run goes on past the window (``until_min``).

Left out: the outbound flow (农产品进城) itself, whose parcels never share a queue with the
inbound ones; the outbound rows of the parcel table and the trips table are not produced.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pandas as pd
import simpy

from sim._reference_parts import (
    DOOR,
    LOCKER,
    TOWNSHIP,
    Ref,
    bus,
    shuttle,
    take,
    village_vehicle,
)
from sim.engine import (
    DAY_MIN,
    Categories,
    _parcel_table,
    generate_demand,
    shift_at,
    sorting_shifts,
)
from sim.measure import simulated_days
from sim.outbound import generate_outbound
from sim.world import POINT_KINDS, World


def run_reference(
    world: World, *, replication: int = 0, county: int = 0, until_min: float | None = None
) -> pd.DataFrame:
    """Run one replication of one county with one SimPy process per parcel.

    Parameters
    ----------
    world
        The built world.
    replication
        Replication number.
    county
        Index of the county in ``world.counties``.
    until_min
        When to stop (minutes since day 0); default the end of the longest drain. Pass the
        engine's :meth:`~sim.engine.Results.end_of` to compare with a run that stopped early.

    Returns
    -------
    pandas.DataFrame
        The county's inbound parcel table, with the columns of
        :attr:`sim.engine.Results.parcels`.
    """
    c = world.counties[county]
    sc = c.scenario
    env = simpy.Environment()
    p = generate_demand(c, replication)
    n = len(p.village)
    lanes = len(sc.carriers) + 1
    s = Ref(
        env=env,
        county=c,
        p=p,
        on_vehicle=np.full(n, -1, dtype=np.int32),
        wait=[env.event() for _ in range(n)],
        sort_queue=simpy.Store(env),
        sorter_wake=env.event(),
        stations=[simpy.Store(env) for _ in c.shuttles + c.buses],
        villages={(k, v): simpy.Store(env) for k in range(lanes) for v in range(c.n_villages)},
        lockers=[
            simpy.Resource(env, capacity=sc.facilities.village_points.locker_capacity_parcels)
            for _ in range(c.n_villages)
        ],
        lines={f"bus:{ln.name}": ln for ln in sc.buses},
        has_out=len(generate_outbound(c, replication)) > 0,
        days=simulated_days(sc),
    )
    station = _stations(s)
    for i in range(n):
        env.process(_parcel(s, i, int(station[i])))
    env.process(_sorter(s))
    for i, veh in enumerate(c.shuttles):
        env.process(shuttle(s, i, veh))
    for i, veh in enumerate(c.village_vehicles):
        env.process(village_vehicle(s, i, veh))
    for i, veh in enumerate(c.buses):
        env.process(bus(s, i, veh))
    end = simulated_days(sc) * DAY_MIN if until_min is None else until_min
    env.run(until=end)
    return _parcel_table(c, replication, p, s.on_vehicle, Categories.of(world), county, end)


def _stations(s: Ref) -> np.ndarray:
    """Per parcel, the station it leaves the centre from: its township's shuttle or a bus.

    A parcel for a village on a bus line takes the bus when its route draw is below the
    line's ``share_of_parcels``.
    """
    c, p = s.county, s.p
    shuttle_of = np.zeros(c.n_townships, dtype=np.int64)
    for k, veh in enumerate(c.shuttles):
        shuttle_of[veh.routes[0] - 1] = k
    station = shuttle_of[p.township]
    if c.buses and c.village_bus is not None:
        share = [s.lines[veh.vtype].share_of_parcels for veh in c.buses]
        for i in range(len(station)):
            line = c.village_bus[p.village[i]]
            if line >= 0 and p.route_u[i] < share[line]:
                station[i] = len(c.shuttles) + line
    return station


def _parcel(s: Ref, i: int, station: int) -> Generator[simpy.Event, Any, None]:
    """One parcel: trunk arrival, sorting, its station, then pickup where it is handed over.

    Vehicles and points move it in between (see :mod:`sim._reference_parts`); it wakes up
    again at the point its villager collects it from.
    """
    env, p = s.env, s.p
    yield env.timeout(p.t_created[i])
    s.sort_queue.put(i)
    if not s.sorter_wake.triggered:
        s.sorter_wake.succeed()
    yield s.wait[i]  # the sorter took it and set its t_sorted
    s.wait[i] = env.event()
    s.stations[station].put((p.t_sorted[i], i))  # loadable once sorted
    kind, compartment = yield s.wait[i]
    if kind == DOOR:
        p.t_pickup[i] = env.now
        return
    delay = -np.log1p(-p.pickup_u[i]) * _mean_delay_h(s, i, kind) * 60.0
    hold = s.county.scenario.pickup.max_hold_days * DAY_MIN
    if delay > hold:
        p.t_returned[i] = env.now + hold
        yield env.timeout(hold)
    else:
        p.t_pickup[i] = env.now + delay
        yield env.timeout(delay)
    if compartment is not None:
        s.lockers[p.village[i]].release(compartment)


def _mean_delay_h(s: Ref, i: int, kind: int) -> float:
    """Mean hours until the villager collects parcel ``i`` from a point of this kind."""
    pk = s.county.scenario.pickup
    if kind == TOWNSHIP:
        km = s.county.village_township_km[s.p.village[i]]
        return pk.township_mean_delay_h + pk.delay_h_per_km * km
    return {
        POINT_KINDS.index("service_point"): pk.mean_delay_h,
        POINT_KINDS.index("partner_outlet"): pk.outlet_mean_delay_h,
        LOCKER: pk.locker_mean_delay_h,
    }[kind]


def _sorter(s: Ref) -> Generator[simpy.Event, Any, None]:
    """The county centre's sorter: it serves the waiting parcels in batches within its shifts.

    A batch is every parcel waiting when it starts, cut to those that fit before the shift
    ends; the ``j``-th of a batch started at ``start`` is done at ``start + j / rate`` (the
    same expression as the engine's, so both give the same floats).
    """
    env, p, sc = s.env, s.p, s.county.scenario
    rate_per_min = sc.facilities.county_centre.sorting_capacity_per_hour / 60.0
    shifts = sorting_shifts(sc)
    queue = s.sort_queue
    while True:
        if not queue.items:
            s.sorter_wake = env.event()
            yield s.sorter_wake
        start, end = shift_at(shifts, env.now)
        if env.now < start:
            yield env.timeout(start - env.now)
        k = min(len(queue.items), int((end - env.now) * rate_per_min + 1e-9))
        if k == 0:
            yield env.timeout(end - env.now)
            continue
        begin = env.now
        for j in range(1, k + 1):
            i = take(queue)
            p.t_sorted[i] = begin + j / rate_per_min
            s.wait[i].succeed()
        yield env.timeout(k / rate_per_min)
