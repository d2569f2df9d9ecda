"""Running a world: one SimPy environment per county and replication, then the tables."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from sim.budget import check_run_size
from sim.engine.bus import bus
from sim.engine.constants import _DOOR, _LOCKER, _STAGE, DAY_MIN
from sim.engine.demand import _bus_shares, generate_demand
from sim.engine.layout import chained, multi_visit
from sim.engine.outbound import queue_at_villages, trunk_out
from sim.engine.shuttle import shuttle
from sim.engine.sorter import sorter, sorting_shifts, trunk
from sim.engine.state import State, _Fifo, _LaneQueue, _Run, _Trips
from sim.engine.stops import flush_drops
from sim.engine.tables import (
    Categories,
    _outbound_table,
    _parcel_table,
    _skip_table,
    _stage,
    _trip_table,
)
from sim.engine.village import village_vehicle
from sim.measure import simulated_days, window
from sim.outbound import generate_outbound, spoil_times
from sim.scenario import Scenario, clock_minutes
from sim.world import POINT_KINDS, County, World, count_of


@dataclass(frozen=True)
class Results:
    """What a run produced: one row per parcel and one per vehicle leg, all replications.

    Attributes
    ----------
    world
        The world that was run.
    parcels
        One row per parcel; see :data:`PARCEL_COLUMNS` in the docs of :func:`run`.
    trips
        One row per vehicle leg.
    replications
        How many replications were run.
    ends
        (replication, county code) -> minute the run stopped (see :meth:`end_of`).
    skipped
        Village loops not driven because they could not finish within the driver's shift
        or duty hours: replication, county_code, vehicle, day, villages, planned_min.
    """

    world: World
    parcels: pd.DataFrame
    trips: pd.DataFrame
    replications: int = 1
    ends: dict[tuple[int, str], float] = field(default_factory=dict)
    skipped: pd.DataFrame | None = None

    def __repr__(self) -> str:
        """A one-line summary, e.g. ``Results(临县 141124: 5 replications, 694,197 parcels, ...)``.

        The tables themselves stay out of it (``results.parcels``, ``results.trips``).
        """
        skipped = 0 if self.skipped is None else len(self.skipped)
        return (
            f"Results({self.world.label}: {count_of(self.replications, 'replication')}, "
            f"{count_of(len(self.parcels), 'parcel')}, {count_of(len(self.trips), 'vehicle leg')}, "
            f"{count_of(skipped, 'loop')} not driven, scenario {self.world.scenario.name!r})"
        )

    def end_of(self, replication: int, county_code: str) -> float:
        """When the run of a county and replication stopped (minutes since day 0).

        Runs stop once the window's parcels have all resolved, at most after the longest
        drain; tables read back from a folder without this record use the longest drain.
        """
        default = simulated_days(self.world.scenario) * DAY_MIN
        return self.ends.get((replication, county_code), default)


def run(
    world: World,
    *,
    replications: int | None = None,
    only: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Results:
    """Run a world for all (or the first ``replications``) replications, or just one.

    Parameters
    ----------
    world
        The built world.
    replications
        How many replications to run; default the scenario's ``replications``.
    only
        Run only this replication (as numbered in a full run: same random numbers).
    progress
        Called with 1 after each simulated day (e.g. ``tqdm.update``).

    Returns
    -------
    Results
        ``parcels`` columns: replication, parcel_id, carrier, direction, county_code,
        township_code, village_code, t_created, t_sorted, t_shuttle_depart, t_township,
        t_loop_depart, t_point, t_picked_up, t_returned (minutes since 00:00 of day 0; NaN when
        not reached), held_at_township, point_kind (service_point | partner_outlet | locker |
        door | township), locker_overflows (times a full locker turned it away), final_state
        (delivered | in_system | spoiled | failed), place (facility code or vehicle id where
        it is at the end), reason.
        ``trips`` columns: replication, county_code, run (one vehicle run from its base and
        back, numbered per county and replication), vehicle, type, kind (shuttle |
        village_loop | collection | bus), from_code, to_code, depart, arrive, km, load,
        stop_min.
    """
    n = world.scenario.replications if replications is None else replications
    if only is None:
        check_run_size(
            world.scenario,
            [v for c in world.counties for v in c.village_codes],
            whole_region=True,
        )
    cats = Categories.of(world)
    blocks: list[Block] = []
    for r in [only] if only is not None else range(n):
        first_id = 0
        for i, county in enumerate(world.counties):
            block = simulate_block(county, r, cats, i, progress)
            for table in block.parcels:
                table["parcel_id"] += first_id
                first_id += len(table)
            blocks.append(block)
    return Results(
        world=world,
        parcels=_concat([t for b in blocks for t in b.parcels]),
        trips=_concat([b.trips for b in blocks]),
        replications=1 if only is not None else n,
        ends={(b.replication, b.county_code): b.end for b in blocks},
        skipped=_concat([b.skipped for b in blocks]),
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)``, without a copy when one frame has rows.

    The one frame is returned as it is when the others are empty with the same columns and
    dtypes and its index is already 0, 1, 2, ... (so the result is the same).
    """
    full = [f for f in frames if len(f)]
    if len(full) == 1:
        one = full[0]
        index = one.index
        plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
        if plain and all(
            f.columns.equals(one.columns) and f.dtypes.equals(one.dtypes) for f in frames
        ):
            return one
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class Block:
    """The tables of one county and replication.

    Attributes
    ----------
    replication, county_code
        Which run it is.
    parcels
        Its inbound and its outbound parcel rows (``parcel_id`` numbered from 0 in each;
        :func:`run` numbers them across the region).
    trips, skipped
        Its vehicle legs and the village loops not driven.
    end
        When the run stopped (minutes since day 0).
    """

    replication: int
    county_code: str
    parcels: tuple[pd.DataFrame, pd.DataFrame]
    trips: pd.DataFrame
    skipped: pd.DataFrame
    end: float


def simulate_block(
    county: County,
    replication: int,
    cats: Categories,
    index: int,
    progress: Callable[[int], None] | None = None,
) -> Block:
    """Simulate one county for one replication and return its tables.

    ``cats`` are the category lists of the parcel table and ``index`` the county's position
    in them (:meth:`Categories.of`); ``progress`` is called with 1 after each simulated day.
    """
    r = replication
    with _no_cycle_collection():
        sim = _simulate(county, r, progress)
    return Block(
        replication=r,
        county_code=county.county_code,
        parcels=(
            _parcel_table(
                county, r, sim.parcels, sim.on_vehicle, cats, index, sim.end, stage=sim.stage
            ),
            _outbound_table(county, r, sim.outbound, sim.out_on_vehicle, cats, index, sim.end),
        ),
        trips=_trip_table(county, r, sim.trips),
        skipped=_skip_table(county, r, sim.skipped),
        end=sim.end,
    )


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The garbage collector paused while a county is simulated, and restored after.

    A run makes thousands of short-lived events, tuples and generators per county, which
    reference counting frees (a run of 临县 leaves some 20 objects in cycles behind); the
    collections they would set off find little to collect but walk every object alive,
    the world's tables too, and cost some 5% of the run.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _new_state(county: County, replication: int) -> State:
    """The queues, parcel arrays and counters of one county and replication."""
    sc = county.scenario
    env = simpy.Environment()
    p = generate_demand(county, replication)
    route_of_township = np.zeros(county.n_townships, dtype=np.int64)
    for i, veh in enumerate(county.shuttles):
        route_of_township[veh.routes[0] - 1] = i
    n_c = len(sc.carriers)
    pk = sc.pickup
    o = generate_outbound(county, replication)
    n_sh = len(county.shuttles)
    delay_by_kind = _delay_by_kind(sc)
    shared = (
        county.township_shared
        if county.township_shared is not None
        else np.ones(county.n_townships, dtype=bool)
    )
    st = State(
        county=county,
        sc=sc,
        env=env,
        p=p,
        n_days=simulated_days(sc),
        trips=[],
        drops=[],
        skipped=[],
        sorter_queue=_Fifo(),
        route_of_township=route_of_township,
        # One queue per shuttle, then one per bus line (parcels for the villages it serves).
        shuttle_queues=[_Fifo() for _ in county.shuttles + county.buses],
        n_sh=n_sh,
        bus_of=county.village_bus if county.village_bus is not None else None,
        bus_share=_bus_shares(county),
        n_c=n_c,
        # Per township point, one queue per lane: one per carrier, then a shared one.
        town_queues=[_LaneQueue() for _ in range(county.n_townships * (n_c + 1))],
        multi_visit=multi_visit(county),
        has_locker=bool((county.village_kind == _LOCKER).any()),
        chained=chained(county, outbound=len(o) > 0),
        delay_by_kind=delay_by_kind,
        shared=shared,
        all_shared=bool(shared.all()),
        has_door=bool((county.village_kind == _DOOR).any()),
        delay_by_village=delay_by_kind[county.village_kind],
        wake=env.event(),
        hold_min=sc.pickup.max_hold_days * DAY_MIN,
        town_delay_h=pk.township_mean_delay_h,
        per_km_h=pk.delay_h_per_km,
        locker_cap=sc.facilities.village_points.locker_capacity_parcels,
        lockers=[np.empty(0) for _ in range(county.n_villages)],
        rate_per_min=sc.facilities.county_centre.sorting_capacity_per_hour / 60.0,
        shifts=sorting_shifts(sc),
        o=o,
        has_out=len(o) > 0,
        out_board=np.full(len(o), np.nan),
        out_on_vehicle=np.full(len(o), -1, dtype=np.int32),
        out_village=[_Fifo() for _ in range(county.n_villages)],
        out_town=[_Fifo() for _ in range(county.n_townships)],
        out_centre=_Fifo(),
        shuttle_deps=sorted(clock_minutes(t) for t in sc.schedules.shuttle_departures),
        # Village departures, and dedicated outbound collection runs (no inbound loaded).
        loop_deps=sorted(
            [(clock_minutes(t), False) for t in sc.schedules.village_departures]
            + [(clock_minutes(t), True) for t in sc.demand.outbound.collection_departures]
        ),
        n_vv=n_sh + len(county.village_vehicles),  # index of the first bus among vehicles
        lines={f"bus:{ln.name}": ln for ln in sc.buses},
    )
    if st.has_out:
        queue_at_villages(st)
    return st


#: Parcels dropped at village points after which they are stamped before the next week.
_FLUSH_PARCELS = 1 << 20


def _simulate(county: County, replication: int, progress: Callable[[int], None] | None) -> _Run:
    """Run one replication; return the parcel arrays, the vehicle legs and who holds what."""
    st = _new_state(county, replication)
    sc, env, n_days = st.sc, st.env, st.n_days
    env.process(trunk(st))
    env.process(sorter(st))
    if st.has_out:
        env.process(trunk_out(st))
    for i, veh in enumerate(county.shuttles):
        env.process(shuttle(st, i, veh))
    for i, veh in enumerate(county.village_vehicles):
        env.process(village_vehicle(st, i, veh))
    for i, veh in enumerate(county.buses):
        env.process(bus(st, i, veh))
    resolved = _resolved(st)
    # Day by day; after the window, the run stops at the first midnight when the window's
    # parcels have all resolved (the drain), at most after ``n_days``.
    for day in range(1, n_days + 1):
        env.run(until=day * DAY_MIN)
        # Drops touch only their parcels' own times, which nothing reads before the drain
        # test: stamped in a few large scatters (a week's, or some 2^20 parcels, at most).
        draining = day >= sc.horizon_days and day < n_days
        if draining or day % 7 == 0 or sum(len(d[0]) for d in st.drops) > _FLUSH_PARCELS:
            flush_drops(st)
        if progress is not None:
            progress(1)
        if draining and resolved():
            if progress is not None:
                progress(n_days - day)
            break
    flush_drops(st)
    end = float(env.now)
    # Inbound parcels still on a shuttle, bus or loop at the end: on the runs under way.
    on_vehicle = np.full(len(st.p.village), -1, dtype=np.int32)
    under_way = []
    for legs in st.trips:
        if legs.clock.item(-1) >= end:
            on_vehicle[legs.ids] = legs.vehicle
            under_way.append(legs.ids)
    stage = _stage(st.p, end)
    if under_way:  # only their parcels can be on a vehicle (the others stay -1)
        ids = np.concatenate(under_way)
        here = stage[ids]
        on_vehicle[ids[(here != _STAGE["on_shuttle"]) & (here != _STAGE["on_loop"])]] = -1
    trips = _Trips.join(st.trips, end)
    return _Run(st.p, trips, on_vehicle, st.o, st.out_on_vehicle, st.skipped, end, stage)


def _delay_by_kind(sc: Scenario) -> np.ndarray:
    """Mean pickup delay (hours) at each kind of village point; NaN for door delivery."""
    pk = sc.pickup
    delay = {
        "service_point": pk.mean_delay_h,
        "partner_outlet": pk.outlet_mean_delay_h,
        "locker": pk.locker_mean_delay_h,
    }
    return np.array([delay.get(kind, np.nan) for kind in POINT_KINDS])


def _resolved(st: State) -> Callable[[], bool]:
    """A test whether every parcel of the window has reached its point (or trunk, or end)."""
    p, o = st.p, st.o
    start, w_end = window(st.sc)
    shelf = st.sc.demand.outbound.cold_chain_shelf_factor
    cohorts: list[np.ndarray] = []  # found at the first test (none in a run without drain)

    def resolved() -> bool:
        if not cohorts:
            cohorts.append((p.t_created >= start) & (p.t_created < w_end))
            cohorts.append((o.t_created >= start) & (o.t_created < w_end))
        cohort, out_cohort = cohorts
        arrived = np.where(p.held, p.t_township, p.t_point)
        if np.isnan(arrived[cohort]).any():
            return False
        if not st.has_out:
            return True
        done = ~np.isnan(o.t_trunk) | (spoil_times(o, shelf) <= st.env.now)
        return bool(done[out_cohort].all())

    return resolved
