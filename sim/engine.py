"""The SimPy engine: vehicles, the sorter and trunk waves move columnar parcel arrays.

Parcels are rows of numpy arrays (:class:`_Parcels`); a queue is a FIFO of array chunks
(:class:`_Fifo`), and loading a vehicle takes the first ``k`` ready parcels of a queue in one
operation. SimPy processes exist only for the trunk waves, the sorter, each vehicle and a daily
clock tick, so the number of events grows with vehicles and stops, never with parcels.

Flow (inbound): trunk wave -> county centre sorting (finite capacity, shifts) -> township shuttle
-> township point -> village loop -> village point -> picked up by the villager after a random
delay, or returned as unclaimed after ``max_hold_days``. Parcels for villages without a point or
without a visiting vehicle wait at the township point for the villager.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
import simpy
from scipy import stats

from sim.calendar import demand_factors
from sim.measure import simulated_days, window
from sim.outbound import Outbound, generate_outbound, spoil_times
from sim.rng import stream
from sim.scenario import Scenario, clock_minutes
from sim.world import POINT_KINDS, County, Vehicle, World

DAY_MIN = 1440.0

#: Stages a parcel passes, in order; the index is the parcel's stage code.
STAGES = (
    "awaiting_sort",  # at the county centre, not sorted yet
    "awaiting_shuttle",  # sorted, waiting at the county centre
    "on_shuttle",
    "awaiting_loop",  # at the township point, waiting for a village loop
    "on_loop",
    "awaiting_pickup",  # at the village (or township) point
    "picked_up",
    "returned",  # unclaimed, returned after max_hold_days
)
_STAGE = {name: i for i, name in enumerate(STAGES)}

_LOCKER = POINT_KINDS.index("locker")
_DOOR = POINT_KINDS.index("door")
_NONE = np.empty(0, dtype=np.int64)

#: Parcel directions: 工业品下乡 (into villages) and 农产品进城 (out of them).
DIRECTIONS = ("inbound", "outbound")

#: Reasons in the parcel table: the inbound stages in order (see ``STAGES``; picked up is
#: "", returned is "unclaimed_returned"), then the outbound ones.
REASONS = (
    *STAGES[:6],
    "",
    "unclaimed_returned",
    "awaiting_collection",
    "awaiting_shuttle_backhaul",
    "awaiting_trunk",
    "shelf_life_exceeded",
)

#: Final states of a parcel at the end of a run.
FINAL_STATES = ("delivered", "in_system", "spoiled", "failed")

# pandas-stubs accepts only an Index (or None) as ``categories``; pandas takes any list-like.
_from_codes = cast("Callable[..., pd.Categorical]", pd.Categorical.from_codes)


class _Fifo:
    """A FIFO of parcel ids with the time each becomes available, kept as array chunks."""

    __slots__ = ("_chunks", "_n")

    def __init__(self) -> None:
        self._chunks: deque[tuple[np.ndarray, np.ndarray | float]] = deque()
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def push(self, ids: np.ndarray, ready: np.ndarray | float) -> None:
        """Append parcels available from ``ready`` (one time, or one per parcel).

        Ready times must not decrease along the queue.
        """
        if len(ids):
            self._chunks.append((ids, ready))
            self._n += len(ids)

    def push_front(self, ids: np.ndarray, ready: np.ndarray | float) -> None:
        """Put parcels back at the head (their ready times must not exceed the head's)."""
        if len(ids):
            self._chunks.appendleft((ids, ready))
            self._n += len(ids)

    def n_ready(self, now: float) -> int:
        """Number of parcels at the head of the queue that are available at ``now``."""
        n = 0
        for ids, ready in self._chunks:
            if isinstance(ready, float):
                if ready > now:
                    return n
                n += len(ids)
            elif ready[-1] <= now:
                n += len(ids)
            else:
                return n + int(np.searchsorted(ready, now, side="right"))
        return n

    def take(self, k: int) -> np.ndarray:
        """Remove and return the first ``k`` parcels."""
        out = []
        while k > 0 and self._chunks:
            ids, ready = self._chunks[0]
            if len(ids) <= k:
                self._chunks.popleft()
                out.append(ids)
                k -= len(ids)
                self._n -= len(ids)
            else:
                out.append(ids[:k])
                self._chunks[0] = (ids[k:], ready if isinstance(ready, float) else ready[k:])
                self._n -= k
                k = 0
        if not out:
            return np.empty(0, dtype=np.int64)
        return out[0] if len(out) == 1 else np.concatenate(out)

    def head_ready_times(self, k: int) -> np.ndarray:
        """Ready times of the first ``k`` parcels (without removing them)."""
        out = []
        for ids, ready in self._chunks:
            if k <= 0:
                break
            m = min(k, len(ids))
            out.append(np.full(m, ready) if isinstance(ready, float) else ready[:m])
            k -= m
        return np.concatenate(out) if out else np.empty(0)


@dataclass
class _Parcels:
    """Columnar parcel state of one replication (mutated only by the engine)."""

    village: np.ndarray
    township: np.ndarray
    t_created: np.ndarray
    pickup_u: np.ndarray
    t_sorted: np.ndarray
    t_shuttle: np.ndarray
    t_township: np.ndarray
    t_loop: np.ndarray
    t_point: np.ndarray
    t_pickup: np.ndarray
    t_returned: np.ndarray
    held: np.ndarray
    overflows: np.ndarray
    carrier: np.ndarray
    route_u: np.ndarray


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
    cats = Categories.of(world)
    parcel_tables, trip_tables, skip_tables = [], [], []
    ends: dict[tuple[int, str], float] = {}
    for r in [only] if only is not None else range(n):
        first_id = 0
        for i, county in enumerate(world.counties):
            sim = _simulate(county, r, progress)
            ends[(r, county.county_code)] = sim.end
            for table in (
                _parcel_table(county, r, sim.parcels, sim.on_vehicle, cats, i, sim.end),
                _outbound_table(county, r, sim.outbound, sim.out_on_vehicle, cats, i, sim.end),
            ):
                table["parcel_id"] += first_id
                first_id += len(table)
                parcel_tables.append(table)
            trip_tables.append(_trip_table(county, r, sim.trips))
            skip_tables.append(_skip_table(county, r, sim.skipped))
    return Results(
        world=world,
        parcels=pd.concat(parcel_tables, ignore_index=True),
        trips=pd.concat(trip_tables, ignore_index=True),
        replications=1 if only is not None else n,
        ends=ends,
        skipped=pd.concat(skip_tables, ignore_index=True),
    )


@dataclass
class _Run:
    """What one county and replication produced (see :func:`_simulate`)."""

    parcels: _Parcels
    trips: list[tuple]
    on_vehicle: np.ndarray
    outbound: Outbound
    out_on_vehicle: np.ndarray
    skipped: list[tuple]
    end: float


@dataclass(frozen=True)
class Categories:
    """Category lists shared by every county's parcel table, so tables concatenate cheaply.

    Attributes
    ----------
    counties, townships, villages, places
        Codes (and, for places, vehicle ids and ``""``) of the whole region.
    town_offset, village_offset, place_offset
        Per county: index of its first township, village and place in those lists. A
        county's places are its centre, townships, villages and vehicles, in that order.
    """

    counties: list[str]
    carriers: list[str]
    townships: list[str]
    villages: list[str]
    places: list[str]
    town_offset: list[int]
    village_offset: list[int]
    place_offset: list[int]

    @classmethod
    def of(cls, world: World) -> Categories:
        """The categories of a world."""
        towns: list[str] = []
        vills: list[str] = []
        places: list[str] = []
        t_off, v_off, p_off = [], [], []
        for c in world.counties:
            t_off.append(len(towns))
            v_off.append(len(vills))
            p_off.append(len(places))
            towns += list(c.township_codes)
            vills += list(c.village_codes)
            places += [c.county_code, *c.township_codes, *c.village_codes]
            places += [v.id for v in c.vehicles]
        return cls(
            counties=[c.county_code for c in world.counties],
            carriers=[c.name for c in world.scenario.carriers],
            townships=towns,
            villages=vills,
            places=[*places, ""],
            town_offset=t_off,
            village_offset=v_off,
            place_offset=p_off,
        )


def generate_demand(county: County, replication: int) -> _Parcels:
    """Draw the inbound parcels of one replication, ordered by arrival at the county centre."""
    sc = county.scenario
    rng = stream(sc.seed, f"demand:{county.county_code}", replication)
    days = simulated_days(sc)
    mean = demand_factors(sc)[:, None] * county.village_rate[None, :]
    dem = sc.demand.inbound
    # Inverse CDF of one uniform per (day, village): a variant that changes the mean of some
    # days or villages keeps the counts of all others (common random numbers).
    u = rng.random(mean.shape)
    if dem.distribution == "poisson":
        counts = stats.poisson.ppf(u, mean)
    else:
        k = dem.dispersion
        counts = stats.nbinom.ppf(u, k, k / (k + mean))
    counts = np.maximum(np.nan_to_num(counts, nan=0.0, posinf=0.0), 0).astype(np.int64)
    waves = sorted(sc.facilities.county_centre.trunk_arrivals, key=lambda w: clock_minutes(w.time))
    shares = np.array([w.share for w in waves])
    wave_min = np.array([clock_minutes(w.time) for w in waves], dtype=float)
    split = rng.multinomial(counts, shares / shares.sum())  # (days, V, W)
    # Order: day, wave, then parcels in random order within the wave.
    per = split.transpose(0, 2, 1).reshape(-1)  # (day, wave, village)
    village = np.repeat(np.tile(np.arange(county.n_villages), days * len(waves)), per)
    slot = np.repeat(np.arange(days * len(waves)), per.reshape(days * len(waves), -1).sum(1))
    t_created = (slot // len(waves)) * DAY_MIN + wave_min[slot % len(waves)]
    # Shuffle within each wave: sort by (slot, random key).
    order = np.argsort(slot + rng.random(len(village)), kind="stable")
    village = village[order]
    n = len(village)
    nan = np.full(n, np.nan)
    carrier = draw_carriers(sc, f"carrier:{county.county_code}", replication, n)
    route_u = stream(sc.seed, f"route:{county.county_code}", replication).random(n)
    return _Parcels(
        village=village,
        township=county.village_township[village],
        t_created=t_created,  # slot is already sorted, so t_created is unchanged by order
        pickup_u=stream(sc.seed, f"pickup:{county.county_code}", replication).random(n),
        t_sorted=nan.copy(),
        t_shuttle=nan.copy(),
        t_township=nan.copy(),
        t_loop=nan.copy(),
        t_point=nan.copy(),
        t_pickup=nan.copy(),
        t_returned=nan.copy(),
        held=held_at_township(county, village, carrier, route_u),
        overflows=np.zeros(n, dtype=np.int16),
        carrier=carrier,
        route_u=route_u,
    )


def held_at_township(
    county: County, village: np.ndarray, carrier: np.ndarray, route_u: np.ndarray
) -> np.ndarray:
    """Whether each parcel waits at its township point because no loop takes it on.

    A parcel rides a bus when its village is on a line and its route draw falls within the
    line's share; otherwise it waits at the township point for the village vehicles of its
    lane (its carrier's, or the shared ones in a co-delivery township). It is held there for
    the villagers when no vehicle of that lane visits its village on any weekday.
    """
    n_c = county.village_visit_days.shape[0] - 1
    town = county.village_township[village]
    shared = county.township_shared
    lane = np.where(shared[town], n_c, carrier) if shared is not None else np.full_like(town, n_c)
    by_loop = county.village_visit_days[lane, village].any(axis=1)
    by_bus = np.zeros(len(village), dtype=bool)
    if county.buses:
        assert county.village_bus is not None  # build_county always sets village_bus
        line = county.village_bus[village]
        by_bus = (line >= 0) & (route_u < _bus_shares(county)[np.maximum(line, 0)])
    return ~(by_loop | by_bus)


def _bus_shares(county: County) -> np.ndarray:
    """Share of its villages' parcels each bus line of the county carries, by line index."""
    present = {b.vtype for b in county.buses}
    sc = county.scenario
    return np.array([ln.share_of_parcels for ln in sc.buses if f"bus:{ln.name}" in present])


def draw_carriers(sc: Scenario, name: str, replication: int, n: int) -> np.ndarray:
    """Carrier index of ``n`` parcels, by market share, from the named stream."""
    cum = np.cumsum([c.share for c in sc.carriers])
    u = stream(sc.seed, name, replication).random(n) * cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).astype(np.int8)


def _simulate(county: County, replication: int, progress: Callable[[int], None] | None) -> _Run:
    """Run one replication; return the parcel arrays, the vehicle legs and who holds what."""
    sc = county.scenario
    env = simpy.Environment()
    p = generate_demand(county, replication)
    n_days = simulated_days(sc)
    trips: list[tuple] = []
    skipped: list[tuple] = []  # (vehicle index, day, villages, planned minutes)
    # Where each parcel is while on a vehicle (vehicle index), for the final table.
    on_vehicle = np.full(len(p.village), -1, dtype=np.int32)
    sorter_queue = _Fifo()
    route_of_township = np.zeros(county.n_townships, dtype=np.int64)
    for i, veh in enumerate(county.shuttles):
        route_of_township[veh.routes[0] - 1] = i
    # One queue per shuttle, then one per bus line (parcels for the villages it serves).
    shuttle_queues = [_Fifo() for _ in county.shuttles + county.buses]
    n_sh = len(county.shuttles)
    bus_of = county.village_bus if county.village_bus is not None else None
    bus_share = _bus_shares(county)
    # Village queues per lane: one per carrier, then a shared one (co-delivery townships).
    n_v = county.n_villages
    n_c = len(sc.carriers)
    village_queues = [_Fifo() for _ in range(n_v * (n_c + 1))]
    shared = (
        county.township_shared
        if county.township_shared is not None
        else np.ones(county.n_townships, dtype=bool)
    )
    wake_sorter = [env.event()]
    runs = [0]  # number of vehicle runs (base -> stops -> base) so far
    hold_min = sc.pickup.max_hold_days * DAY_MIN
    pk = sc.pickup
    point_delay_h = {
        POINT_KINDS.index("service_point"): pk.mean_delay_h,
        POINT_KINDS.index("partner_outlet"): pk.outlet_mean_delay_h,
        _LOCKER: pk.locker_mean_delay_h,
    }
    town_delay_h, per_km_h = pk.township_mean_delay_h, pk.delay_h_per_km
    locker_cap = sc.facilities.village_points.locker_capacity_parcels
    # Release times (pickup or return) of the parcels in each village's locker.
    lockers = [np.empty(0) for _ in range(county.n_villages)]

    def pickup(ids: np.ndarray, at: float, mean_h: float | np.ndarray) -> None:
        delay = -np.log1p(-p.pickup_u[ids]) * mean_h * 60.0
        late = delay > hold_min
        p.t_pickup[ids[~late]] = at + delay[~late]
        p.t_returned[ids[late]] = at + hold_min

    def trunk() -> Generator[simpy.Event, Any, None]:
        if len(p.t_created) == 0:
            return
        bounds = np.flatnonzero(np.diff(p.t_created)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(p.t_created)]])
        for s, e in zip(starts, ends):
            t = p.t_created[s]
            if t > env.now:
                yield env.timeout(t - env.now)
            sorter_queue.push(np.arange(s, e), p.t_created[s:e])
            if not wake_sorter[0].triggered:
                wake_sorter[0].succeed()

    rate_per_min = sc.facilities.county_centre.sorting_capacity_per_hour / 60.0
    shifts = sorting_shifts(sc)

    def sorter() -> Generator[simpy.Event, Any, None]:
        while True:
            if len(sorter_queue) == 0:
                wake_sorter[0] = env.event()
                yield wake_sorter[0]
            start, end = shift_at(shifts, env.now)
            if env.now < start:
                yield env.timeout(start - env.now)
            k = min(len(sorter_queue), int((end - env.now) * rate_per_min + 1e-9))
            if k == 0:
                yield env.timeout(end - env.now)
                continue
            ids = sorter_queue.take(k)
            done = env.now + np.arange(1, k + 1) / rate_per_min
            p.t_sorted[ids] = done
            # Hand each parcel to its shuttle's queue; it is loadable once sorted.
            route = route_of_township[p.township[ids]]
            if county.buses:
                assert bus_of is not None  # build_county always sets village_bus
                line = bus_of[p.village[ids]]
                by_bus = (line >= 0) & (p.route_u[ids] < bus_share[np.maximum(line, 0)])
                route = np.where(by_bus, n_sh + line, route)
            order = np.argsort(route, kind="stable")
            ids, done, route = ids[order], done[order], route[order]
            cut = np.flatnonzero(np.diff(route)) + 1
            for part_ids, part_t, rt in zip(
                np.split(ids, cut), np.split(done, cut), route[np.r_[0, cut]]
            ):
                shuttle_queues[rt].push(part_ids, part_t)
            yield env.timeout(k / rate_per_min)

    def drive(
        veh: Vehicle,
        vi: int,
        kind: str,
        stops: np.ndarray,
        ids: np.ndarray,
        stop_of: np.ndarray,
        stop_min: float,
        arrive: Callable,
        out_queues: list[_Fifo] | None = None,
        out_home: Callable | None = None,
    ) -> Generator[simpy.Event, Any, None]:
        """Drive base -> stops -> base, unloading at each stop the parcels for it.

        ``arrive(drop, now, facility)`` takes the parcels for a stop and returns those it
        refused (a full locker) and the extra stop minutes; refused parcels ride back to the
        base and wait there for the next visit. With ``out_queues`` (indexed by the stop's
        queue index, see ``_out_index``), the vehicle also collects the outbound parcels ready
        at each stop, in the room left on board, and ``out_home(ids, now)`` receives them at
        the base (backhaul).
        """
        tm, kmm = county.time_min[veh.vtype], county.km[veh.vtype]
        if veh.vtype in lines:
            capacity, cold = lines[veh.vtype].capacity_parcels, False
        else:
            capacity = sc.fleet.vehicle_types[veh.vtype].capacity_parcels
            cold = sc.fleet.vehicle_types[veh.vtype].cold_chain
        run = runs[0]
        runs[0] += 1
        outbound: list[np.ndarray] = []
        n_out = 0
        order = np.argsort(stop_of, kind="stable")
        ids, stop_of = ids[order], stop_of[order]
        bounds = np.searchsorted(stop_of, np.arange(len(stops) + 1))
        on_vehicle[ids] = vi
        load = len(ids)
        here = veh.base
        refused: list[np.ndarray] = []
        for j, f in enumerate(stops):
            dep = env.now
            yield env.timeout(tm[here, f])
            drop = ids[bounds[j] : bounds[j + 1]]
            back, extra = arrive(drop, env.now, f)
            trips.append(
                (run, vi, kind, here, f, dep, env.now, kmm[here, f], load + n_out, stop_min + extra)
            )
            on_vehicle[drop] = -1
            if len(back):
                on_vehicle[back] = vi
                refused.append(back)
            load -= len(drop) - len(back)
            if out_queues is not None:
                q = out_queues[_out_index(f)]
                room = max(capacity - load - n_out, 0)
                got = q.take(min(q.n_ready(env.now), room))
                if len(got):
                    out_board[got] = env.now
                    out_on_vehicle[got] = vi
                    out_stamp(got, env.now)
                    outbound.append(got)
                    n_out += len(got)
            here = f
            yield env.timeout(stop_min + extra)
        dep = env.now
        yield env.timeout(tm[here, veh.base])
        trips.append(
            (run, vi, kind, here, veh.base, dep, env.now, kmm[here, veh.base], load + n_out, 0.0)
        )
        if outbound and out_home is not None:
            got = np.concatenate(outbound)
            if cold:
                o.cold_min[got] += env.now - out_board[got]
            out_on_vehicle[got] = -1
            out_home(got, env.now)
        if refused:
            back = np.concatenate(refused)
            on_vehicle[back] = -1
            if kind == "bus":
                # They go back to the head of the bus queue at the station, in order.
                p.t_shuttle[back] = np.nan
                shuttle_queues[n_sh + vi - n_vv].push_front(back, p.t_sorted[back])
                return
            p.t_loop[back] = np.nan
            for v in np.unique(p.village[back]):
                mine = back[p.village[back] == v]
                # They left the head of the queue; they go back to the head, in order.
                village_queues[veh.lane * n_v + v].push_front(mine, p.t_township[mine])

    def at_township(ids: np.ndarray, now: float, f: int) -> tuple[np.ndarray, float]:
        p.t_township[ids] = now
        held = p.held[ids]
        if held.any():
            h = ids[held]
            mean = town_delay_h + per_km_h * county.village_township_km[p.village[h]]
            pickup(h, now, mean)
            ids = ids[~held]
        if len(ids):
            lane = np.where(shared[p.township[ids]], n_c, p.carrier[ids]).astype(np.int64)
            key = lane * n_v + p.village[ids]
            order = np.argsort(key, kind="stable")
            ids, key = ids[order], key[order]
            cut = np.flatnonzero(np.diff(key)) + 1
            for part, k in zip(np.split(ids, cut), key[np.r_[0, cut]]):
                village_queues[k].push(part, float(now))
        return _NONE, 0.0

    def at_village(ids: np.ndarray, now: float, f: int) -> tuple[np.ndarray, float]:
        v = f - 1 - county.n_townships
        kind = county.village_kind[v]
        back = _NONE
        if kind == _LOCKER:
            held_now = lockers[v][lockers[v] > now]
            free = max(locker_cap - len(held_now), 0)
            ids, back = ids[:free], ids[free:]
            p.overflows[back] += 1
        p.t_point[ids] = now
        if kind == _DOOR:
            p.t_pickup[ids] = now
            return back, sc.facilities.village_points.door_min_per_parcel * len(ids)
        pickup(ids, now, point_delay_h[kind])
        if kind == _LOCKER:
            release = np.where(np.isnan(p.t_pickup[ids]), p.t_returned[ids], p.t_pickup[ids])
            lockers[v] = np.concatenate([held_now, release])
        return back, 0.0

    # Outbound parcels (农产品进城): queues at villages, townships and the centre.
    o = generate_outbound(county, replication)
    has_out = len(o) > 0
    out_board = np.full(len(o), np.nan)  # when the vehicle carrying it took it on
    out_on_vehicle = np.full(len(o), -1, dtype=np.int32)
    out_village = [_Fifo() for _ in range(county.n_villages)]
    out_town = [_Fifo() for _ in range(county.n_townships)]
    out_centre = _Fifo()
    if has_out:
        order = np.lexsort((o.t_created, o.village))
        cut = np.flatnonzero(np.diff(o.village[order])) + 1
        for part in np.split(order, cut):
            out_village[o.village[part[0]]].push(part, o.t_created[part])

    def _out_index(f: int) -> int:
        """Queue index of a stop: its village for villages, its township for townships."""
        n_t = county.n_townships
        return f - 1 - n_t if f > n_t else f - 1

    def out_stamp(ids: np.ndarray, now: float) -> None:
        # Collected at a village (by a loop) or at a township point (by a shuttle).
        first = np.isnan(o.t_collected[ids])
        o.t_collected[ids[first]] = now
        o.t_shuttle[ids[~first]] = now

    def out_at_township(ids: np.ndarray, now: float) -> None:
        o.t_township[ids] = now
        for t in np.unique(o.township[ids]):
            out_town[t].push(ids[o.township[ids] == t], float(now))

    def out_at_centre(ids: np.ndarray, now: float) -> None:
        o.t_centre[ids] = now
        out_centre.push(ids, float(now))

    def trunk_out() -> Generator[simpy.Event, Any, None]:
        trunks = sc.facilities.county_centre.trunk_departures
        departures = sorted((clock_minutes(d.time), d.cutoff_min) for d in trunks)
        for day in range(n_days):
            for dep, cutoff in departures:
                t = day * DAY_MIN + dep
                if env.now < t:
                    yield env.timeout(t - env.now)
                ids = out_centre.take(out_centre.n_ready(t - cutoff))
                o.t_trunk[ids] = env.now

    shuttle_deps = sorted(clock_minutes(t) for t in sc.schedules.shuttle_departures)
    # Village departures, and dedicated outbound collection runs (no inbound loaded).
    loop_deps = sorted(
        [(clock_minutes(t), False) for t in sc.schedules.village_departures]
        + [(clock_minutes(t), True) for t in sc.demand.outbound.collection_departures]
    )
    n_vv = n_sh + len(county.village_vehicles)  # index of the first bus among vehicles
    lines = {f"bus:{ln.name}": ln for ln in sc.buses}

    def bus(i: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
        line = lines[veh.vtype]
        stops = veh.routes[0]
        pos = np.zeros(county.n_villages, dtype=np.int64)
        pos[stops - 1 - county.n_townships] = np.arange(len(stops))
        q = shuttle_queues[n_sh + i]
        deps = sorted(clock_minutes(t) for t in line.departures)
        for day in range(n_days):
            for dep in deps:
                t = day * DAY_MIN + dep
                if env.now < t:
                    yield env.timeout(t - env.now)
                ids = q.take(min(line.capacity_parcels, q.n_ready(env.now)))
                p.t_shuttle[ids] = env.now
                yield from drive(
                    veh,
                    n_vv + i,
                    "bus",
                    stops,
                    ids,
                    pos[p.village[ids]],
                    line.stop_min,
                    at_village,
                    out_village if has_out else None,
                    out_at_centre,
                )

    def shuttle(vi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
        stops = veh.routes[0]
        cap = sc.fleet.vehicle_types[veh.vtype].capacity_parcels
        pos = np.zeros(county.n_townships, dtype=np.int64)
        pos[stops - 1] = np.arange(len(stops))
        q = shuttle_queues[vi]
        stop_min = sc.facilities.townships.service_time_min
        # Shuttles leave no earlier than their driver's shift; a late return is overtime.
        shift_start = clock_minutes(sc.fleet.vehicle_types[veh.vtype].shift.start)
        for day in range(n_days):
            for dep in shuttle_deps:
                t = day * DAY_MIN + max(dep, shift_start)
                if env.now < t:
                    yield env.timeout(t - env.now)
                ids = q.take(min(cap, q.n_ready(env.now)))
                p.t_shuttle[ids] = env.now
                yield from drive(
                    veh,
                    vi,
                    "shuttle",
                    stops,
                    ids,
                    pos[p.township[ids]],
                    stop_min,
                    at_township,
                    out_town if has_out else None,
                    out_at_centre,
                )

    def village_vehicle(vi: int, veh: Vehicle) -> Generator[simpy.Event, Any, None]:
        vt = sc.fleet.vehicle_types[veh.vtype]
        cap = vt.capacity_parcels
        stop_min = sc.facilities.village_points.service_time_min
        shift_start, shift_end = clock_minutes(vt.shift.start), clock_minutes(vt.shift.end)
        max_duty = vt.max_duty_h * 60.0
        tm = county.time_min[veh.vtype]
        n_t = county.n_townships
        start_wd = sc.start_date.weekday()
        lookup = np.zeros(county.n_villages, dtype=np.int64)
        for day in range(n_days):
            weekday = (start_wd + day) % 7
            duty = 0.0  # planned minutes of the loops driven today
            for dep, collect_only in loop_deps:
                t = day * DAY_MIN + max(dep, shift_start)
                if env.now < t:
                    yield env.timeout(t - env.now)
                if collect_only and not has_out:
                    continue
                for loop in veh.routes:
                    vills = loop - 1 - n_t
                    today = county.village_visit_days[veh.lane, vills, weekday]
                    if not today.any():
                        continue
                    stops, vills = loop[today], vills[today]
                    planned = _tour_min(tm, veh.base, stops, stop_min)
                    late = env.now + planned > day * DAY_MIN + shift_end + 1e-9
                    if late or duty + planned > max_duty + 1e-9:
                        # Not driven past the driver's day: its parcels wait for the next one.
                        skipped.append((n_sh + vi, day, len(stops), planned))
                        continue
                    duty += planned
                    ids = (
                        _NONE
                        if collect_only
                        else _load_fifo(
                            [village_queues[veh.lane * n_v + v] for v in vills], cap, env.now
                        )
                    )
                    p.t_loop[ids] = env.now
                    lookup[vills] = np.arange(len(vills))
                    yield from drive(
                        veh,
                        n_sh + vi,
                        "collection" if collect_only else "village_loop",
                        stops,
                        ids,
                        lookup[p.village[ids]],
                        stop_min,
                        at_village,
                        out_village if has_out else None,
                        out_at_township,
                    )

    start, w_end = window(sc)
    cohort = (p.t_created >= start) & (p.t_created < w_end)
    out_cohort = (o.t_created >= start) & (o.t_created < w_end)
    shelf = sc.demand.outbound.cold_chain_shelf_factor

    def resolved() -> bool:
        """Whether every parcel of the window has reached its point (or trunk, or its end)."""
        arrived = np.where(p.held, p.t_township, p.t_point)
        if np.isnan(arrived[cohort]).any():
            return False
        if not has_out:
            return True
        done = ~np.isnan(o.t_trunk) | (spoil_times(o, shelf) <= env.now)
        return bool(done[out_cohort].all())

    env.process(trunk())
    env.process(sorter())
    if has_out:
        env.process(trunk_out())
    for i, veh in enumerate(county.shuttles):
        env.process(shuttle(i, veh))
    for i, veh in enumerate(county.village_vehicles):
        env.process(village_vehicle(i, veh))
    for i, veh in enumerate(county.buses):
        env.process(bus(i, veh))
    # Day by day; after the window, the run stops at the first midnight when the window's
    # parcels have all resolved (the drain), at most after ``n_days``.
    for day in range(1, n_days + 1):
        env.run(until=day * DAY_MIN)
        if progress is not None:
            progress(1)
        if day >= sc.horizon_days and day < n_days and resolved():
            if progress is not None:
                progress(n_days - day)
            break
    return _Run(p, trips, on_vehicle, o, out_on_vehicle, skipped, float(env.now))


def _tour_min(tm: np.ndarray, base: int, stops: np.ndarray, stop_min: float) -> float:
    """Planned minutes of a loop: driving base -> stops -> base plus a stop at each."""
    path = np.concatenate([[base], stops, [base]])
    return float(tm[path[:-1], path[1:]].sum() + stop_min * len(stops))


def sorting_shifts(scenario: Scenario) -> list[tuple[int, int]]:
    """The county centre's shifts as sorted (start, end) minutes after midnight."""
    shifts = scenario.facilities.county_centre.shifts
    return sorted((clock_minutes(s.start), clock_minutes(s.end)) for s in shifts)


def shift_at(shifts: list[tuple[int, int]], t: float) -> tuple[float, float]:
    """The shift (start, end), in minutes since day 0, running at ``t`` or the next one."""
    day = np.floor(t / DAY_MIN)
    for d in (day, day + 1):
        for a, b in shifts:
            if d * DAY_MIN + b > t:
                return d * DAY_MIN + a, d * DAY_MIN + b
    raise AssertionError("shifts must not be empty")


def _load_fifo(queues: list[_Fifo], cap: int, now: float) -> np.ndarray:
    """Take up to ``cap`` ready parcels from several queues, earliest-ready first."""
    ready = np.array([q.n_ready(now) for q in queues])
    if ready.sum() > cap:
        times = np.concatenate([q.head_ready_times(k) for q, k in zip(queues, ready)])
        owner = np.repeat(np.arange(len(queues)), ready)
        order = np.lexsort((owner, times))[:cap]
        ready = np.bincount(owner[order], minlength=len(queues))
    parts = [q.take(int(k)) for q, k in zip(queues, ready) if k]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _stage(p: _Parcels, end: float) -> np.ndarray:
    """Stage code of every parcel at time ``end``."""
    stage = np.zeros(len(p.village), dtype=np.int8)
    for col, name in (
        (p.t_sorted, "awaiting_shuttle"),
        (p.t_shuttle, "on_shuttle"),
        (p.t_township, "awaiting_loop"),
        (p.t_loop, "on_loop"),
        (p.t_point, "awaiting_pickup"),
        (p.t_pickup, "picked_up"),
        (p.t_returned, "returned"),
    ):
        stage[col <= end] = _STAGE[name]
    # Parcels held at the township point await pickup there, not a loop.
    stage[(stage == _STAGE["awaiting_loop"]) & p.held] = _STAGE["awaiting_pickup"]
    return stage


def _parcel_table(
    county: County,
    r: int,
    p: _Parcels,
    on_vehicle: np.ndarray,
    cats: Categories,
    index: int,
    end: float,
) -> pd.DataFrame:
    stage = _stage(p, end)
    state = np.ones(len(stage), dtype=np.int8)  # in_system
    state[stage == _STAGE["picked_up"]] = 0
    state[stage == _STAGE["returned"]] = 3
    reason = stage.astype(np.int16)  # REASONS starts with the inbound stages in order
    # Place: the facility or vehicle holding the parcel at the end ("" once it left).
    n_t, n_v = county.n_townships, county.n_villages
    place = np.full(len(stage), len(cats.places) - 1, dtype=np.int64)
    place[stage <= _STAGE["awaiting_shuttle"]] = 0
    moving = (stage == _STAGE["on_shuttle"]) | (stage == _STAGE["on_loop"])
    place[moving] = 1 + n_t + n_v + on_vehicle[moving]
    at_town = (stage == _STAGE["awaiting_loop"]) | ((stage == _STAGE["awaiting_pickup"]) & p.held)
    place[at_town] = 1 + p.township[at_town]
    at_vill = (stage == _STAGE["awaiting_pickup"]) & ~p.held
    place[at_vill] = 1 + n_t + p.village[at_vill]
    placed = place < len(cats.places) - 1
    place[placed] += cats.place_offset[index]
    return pd.DataFrame(
        {
            "replication": np.full(len(stage), r, dtype=np.int32),
            "parcel_id": np.arange(len(stage), dtype=np.int64),
            "carrier": _from_codes(p.carrier, cats.carriers),
            "direction": _from_codes(np.zeros(len(stage), dtype=np.int8), DIRECTIONS),
            "county_code": _from_codes(np.full(len(stage), index, dtype=np.int32), cats.counties),
            "township_code": _from_codes(p.township + cats.town_offset[index], cats.townships),
            "village_code": _from_codes(p.village + cats.village_offset[index], cats.villages),
            "t_created": p.t_created,
            "t_sorted": _upto(p.t_sorted, end),
            "t_shuttle_depart": _upto(p.t_shuttle, end),
            "t_township": _upto(p.t_township, end),
            "t_loop_depart": _upto(p.t_loop, end),
            "t_point": np.where(p.held, _upto(p.t_township, end), _upto(p.t_point, end)),
            "t_picked_up": _upto(p.t_pickup, end),
            "t_returned": _upto(p.t_returned, end),
            "t_collected": np.full(len(stage), np.nan),
            "t_centre": np.full(len(stage), np.nan),
            "t_trunk": np.full(len(stage), np.nan),
            "held_at_township": p.held,
            "point_kind": _from_codes(
                np.where(p.held, len(POINT_KINDS), county.village_kind[p.village]),
                [*POINT_KINDS, "township"],
            ),
            "locker_overflows": p.overflows,
            "final_state": _from_codes(state, FINAL_STATES),
            "place": _from_codes(place, cats.places),
            "reason": _from_codes(reason, REASONS),
        }
    )


def _outbound_table(
    county: County,
    r: int,
    o: Outbound,
    on_vehicle: np.ndarray,
    cats: Categories,
    index: int,
    end: float,
) -> pd.DataFrame:
    """Rows of the parcel table for outbound parcels (same columns as the inbound rows)."""
    sc = county.scenario
    n = len(o)
    n_t, n_v = county.n_townships, county.n_villages
    spoil = spoil_times(o, sc.demand.outbound.cold_chain_shelf_factor)
    shipped = o.t_trunk <= end
    spoiled = spoil < np.where(shipped, o.t_trunk, end)
    # Stage at the end, latest first: on a trunk, at the centre, on a shuttle, at the
    # township, on a loop, at the village.
    on_shuttle = ~np.isnan(o.t_shuttle) & np.isnan(o.t_centre)
    at_town = ~np.isnan(o.t_township) & np.isnan(o.t_shuttle)
    on_loop = ~np.isnan(o.t_collected) & np.isnan(o.t_township)
    at_centre = ~np.isnan(o.t_centre) & ~shipped
    reason = np.full(n, REASONS.index("awaiting_collection"), dtype=np.int16)
    reason[on_loop] = REASONS.index("on_loop")
    reason[at_town] = REASONS.index("awaiting_shuttle_backhaul")
    reason[on_shuttle] = REASONS.index("on_shuttle")
    reason[at_centre] = REASONS.index("awaiting_trunk")
    reason[shipped] = REASONS.index("")
    reason[spoiled] = REASONS.index("shelf_life_exceeded")
    state = np.ones(n, dtype=np.int8)  # in_system
    state[shipped] = 0
    state[spoiled] = 2
    place = np.full(n, len(cats.places) - 1, dtype=np.int64)
    place[~shipped] = 1 + n_t + o.village[~shipped]  # still at the village
    moving = (on_loop | on_shuttle) & ~shipped
    place[moving] = 1 + n_t + n_v + on_vehicle[moving]
    place[at_town] = 1 + o.township[at_town]
    place[at_centre] = 0
    placed = place < len(cats.places) - 1
    place[placed] += cats.place_offset[index]
    nan = np.full(n, np.nan)
    return pd.DataFrame(
        {
            "replication": np.full(n, r, dtype=np.int32),
            "parcel_id": np.arange(n, dtype=np.int64),
            "carrier": _from_codes(
                draw_carriers(sc, f"carrier-out:{county.county_code}", r, n), cats.carriers
            ),
            "direction": _from_codes(np.ones(n, dtype=np.int8), DIRECTIONS),
            "county_code": _from_codes(np.full(n, index, dtype=np.int32), cats.counties),
            "township_code": _from_codes(o.township + cats.town_offset[index], cats.townships),
            "village_code": _from_codes(o.village + cats.village_offset[index], cats.villages),
            "t_created": o.t_created,
            "t_sorted": nan,
            "t_shuttle_depart": _upto(o.t_shuttle, end),
            "t_township": _upto(o.t_township, end),
            "t_loop_depart": nan,
            "t_point": nan,
            "t_picked_up": nan,
            "t_returned": nan,
            "t_collected": _upto(o.t_collected, end),
            "t_centre": _upto(o.t_centre, end),
            "t_trunk": _upto(o.t_trunk, end),
            "held_at_township": np.zeros(n, dtype=bool),
            "point_kind": _from_codes(county.village_kind[o.village], [*POINT_KINDS, "township"]),
            "locker_overflows": np.zeros(n, dtype=np.int16),
            "final_state": _from_codes(state, FINAL_STATES),
            "place": _from_codes(place, cats.places),
            "reason": _from_codes(reason, REASONS),
        }
    )


def _upto(t: np.ndarray, end: float) -> np.ndarray:
    return np.where(t <= end, t, np.nan)


def _trip_table(county: County, r: int, trips: list[tuple]) -> pd.DataFrame:
    cols = ["run", "vehicle", "kind", "from", "to", "depart", "arrive", "km", "load", "stop_min"]
    df = pd.DataFrame(trips, columns=cols)
    vehicles = county.vehicles
    ids = np.array([v.id for v in vehicles], dtype=object)
    types = np.array([v.vtype for v in vehicles], dtype=object)
    vi = df["vehicle"].to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "replication": np.full(len(df), r, dtype=np.int32),
            "county_code": np.full(len(df), county.county_code, dtype=object),
            "run": df["run"].to_numpy(dtype=np.int64),
            "vehicle": ids[vi] if len(df) else np.empty(0, dtype=object),
            "type": types[vi] if len(df) else np.empty(0, dtype=object),
            "kind": df["kind"].to_numpy(dtype=object),
            "from_code": county.codes[df["from"].to_numpy(dtype=np.int64)],
            "to_code": county.codes[df["to"].to_numpy(dtype=np.int64)],
            "depart": df["depart"].to_numpy(dtype=float),
            "arrive": df["arrive"].to_numpy(dtype=float),
            "km": df["km"].to_numpy(dtype=float),
            "load": df["load"].to_numpy(dtype=np.int64),
            "stop_min": df["stop_min"].to_numpy(dtype=float),
        }
    )


def _skip_table(county: County, r: int, skipped: list[tuple]) -> pd.DataFrame:
    ids = np.array([v.id for v in county.vehicles], dtype=object)
    rows = np.array(skipped, dtype=float).reshape(-1, 4)
    vi = rows[:, 0].astype(np.int64)
    return pd.DataFrame(
        {
            "replication": np.full(len(rows), r, dtype=np.int32),
            "county_code": np.full(len(rows), county.county_code, dtype=object),
            "vehicle": ids[vi] if len(rows) else np.empty(0, dtype=object),
            "day": rows[:, 1].astype(np.int64),
            "villages": rows[:, 2].astype(np.int64),
            "planned_min": rows[:, 3],
        }
    )
