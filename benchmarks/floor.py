"""The vectorised floor: what ``sim.run`` would cost if its event loop cost nothing.

:func:`floor_run` moves the same parcels as the engine through the same world, every stage
computed by whole-array operations, with no Python work per vehicle run, stop or parcel:

- demand: the engine's own :func:`~sim.engine.demand.generate_demand` (the same draws);
- sorting: first in, first out at the centre's rate within its shifts, as one running
  maximum over the parcels (a queue with a constant service time);
- shuttles and village loops: every run over the horizon is laid out at once from the
  plan (a vehicle's loops of one departure one after the other), and each parcel leaves on
  the first run that serves it after it is ready: a table of each (township, day) and each
  (lane, village, day)'s first run, then a few vector steps past the runs of that day that
  left before it was ready;
- pickup: the engine's delay from the parcel's own draw (held parcels: at the township);
- the tables: the engine's own parcel and trip tables, each leg's load by one ``bincount``.

It leaves out what needs events: vehicle capacity, the driver's shift and duty hours, full
lockers, door-delivery minutes, buses and outbound parcels. So it is a lower bound on the
work, not a model (its lead times are close to the engine's where no capacity binds). As
the engine keeps what depends on the county alone (routes, loops by weekday) from one run to
the next, :func:`prepare` lays out the plan's tours once. The county benchmark times
``floor_run(prepare(world))`` beside ``sim.run`` on a world just built, interleaved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.engine import DAY_MIN, Categories, _parcel_table, _stage, _trip_table
from sim.engine.constants import _DOOR, _RUN_KIND
from sim.engine.demand import generate_demand
from sim.engine.simulate import _delay_by_kind
from sim.engine.sorter import sorting_shifts
from sim.engine.state import _Parcels, _Trips
from sim.measure import simulated_days
from sim.scenario import clock_minutes
from sim.world import County, Vehicle, World


@dataclass(frozen=True)
class _Tours:
    """The tours of one kind of run, each with the weekdays it runs and its stops and legs.

    Per tour: ``vehicle`` (index among the county's vehicles), ``days`` (7 bools), ``start``
    (minutes after its departure time that it leaves: the vehicle's earlier tours of that
    departure), ``stop0``/``n_stops`` and ``leg0``/``n_legs`` (its rows below). Per stop:
    ``key`` (whom it serves) and ``at`` (minutes from the tour's start to its arrival). Per
    leg: ``frm``, ``to``, ``leave`` and ``arrive`` (minutes from the start), ``km``,
    ``stop_min``.
    """

    kind: int
    times: np.ndarray  # departure minutes after midnight
    vehicle: np.ndarray
    shift: np.ndarray  # start of its driver's shift, minutes after midnight
    days: np.ndarray
    start: np.ndarray
    stop0: np.ndarray
    n_stops: np.ndarray
    leg0: np.ndarray
    n_legs: np.ndarray
    key: np.ndarray
    at: np.ndarray
    frm: np.ndarray
    to: np.ndarray
    leave: np.ndarray
    arrive: np.ndarray
    km: np.ndarray
    stop_min: np.ndarray


#: A tour to lay out: vehicle index, vehicle, stops, weekdays it runs (7 bools), the key of
#: each stop (whom the stop serves: the township point, or the lane and village).
_Tour = tuple[int, Vehicle, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Prepared:
    """What the floor keeps of a one-county world between runs."""

    world: World
    county: County
    cats: Categories
    shuttles: _Tours
    loops: _Tours


def prepare(world: World) -> Prepared:
    """The plan's tours of a one-county world (computed once, as the engine's per-county
    cache is)."""
    if len(world.counties) != 1:
        raise ValueError("the vectorised floor takes a world of one county")
    county = world.counties[0]
    sc = county.scenario
    shuttle_deps = [clock_minutes(t) for t in sc.schedules.shuttle_departures]
    loop_deps = [clock_minutes(t) for t in sc.schedules.village_departures]
    every = np.ones(7, dtype=bool)
    sh: list[_Tour] = [
        (i, v, v.routes[0], every, v.routes[0] - 1) for i, v in enumerate(county.shuttles)
    ]
    n_t, n_v, n_sh = county.n_townships, county.n_villages, len(county.shuttles)
    lp: list[_Tour] = []
    for i, veh in enumerate(county.village_vehicles):
        visits = county.village_visit_days[veh.lane]
        for r, loop in enumerate(veh.routes):
            days = visits[loop - 1 - n_t] & veh.days_of(r)
            for wd in np.flatnonzero(days.any(axis=0)).tolist():
                stops = loop[days[:, wd]]
                keys = veh.lane * n_v + stops - 1 - n_t
                lp.append((n_sh + i, veh, stops, np.arange(7) == wd, keys))
    return Prepared(
        world,
        county,
        Categories.of(world),
        _tours(county, sh, shuttle_deps, sc.facilities.townships.service_time_min, "shuttle"),
        _tours(
            county, lp, loop_deps, sc.facilities.village_points.service_time_min, "village_loop"
        ),
    )


def _tours(
    county: County,
    tours: list[_Tour],
    deps: list[int],
    stop_min: float,
    kind: str,
) -> _Tours:
    """:class:`_Tours` of (vehicle index, vehicle, stops, weekdays, stop keys)."""
    cols: dict[str, list] = {
        n: [] for n in _Tours.__dataclass_fields__ if n not in ("kind", "times")
    }
    used: dict[tuple[int, int], float] = {}  # (vehicle, weekday) -> minutes of earlier tours
    n_stops = n_legs = 0
    for vi, veh, stops, days, keys in tours:
        frm = np.concatenate([[veh.base], stops])
        to = np.concatenate([stops, [veh.base]])
        minutes = county.time_min[veh.vtype][frm, to]
        dwell = np.full(len(to), stop_min)
        dwell[-1] = 0.0
        arrive = np.cumsum(minutes + np.concatenate([[0.0], dwell[:-1]]))
        wd = int(np.argmax(days)) if not days.all() else -1
        start = used.get((vi, wd), 0.0)
        used[(vi, wd)] = start + float(arrive[-1])
        for name, value in (
            ("vehicle", vi),
            ("days", days),
            ("start", start),
            ("stop0", n_stops),
            ("shift", clock_minutes(county.scenario.fleet.vehicle_types[veh.vtype].shift.start)),
            ("n_stops", len(stops)),
            ("leg0", n_legs),
            ("n_legs", len(to)),
        ):
            cols[name].append(value)
        cols["key"].append(keys)
        cols["at"].append(arrive[:-1])
        cols["frm"].append(frm)
        cols["to"].append(to)
        cols["leave"].append(arrive - minutes)
        cols["arrive"].append(arrive)
        cols["km"].append(county.km[veh.vtype][frm, to])
        cols["stop_min"].append(dwell)
        n_stops += len(stops)
        n_legs += len(to)
    flat = {n: (np.concatenate(v) if n in _ROWS else np.array(v)) for n, v in cols.items()}
    return _Tours(kind=_RUN_KIND[kind], times=np.array(sorted(deps), dtype=float), **flat)


_ROWS = ("key", "at", "frm", "to", "leave", "arrive", "km", "stop_min")


def floor_run(prep: Prepared, replication: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The parcel and trip tables of one replication, by whole-array operations."""
    county = prep.county
    sc = county.scenario
    n_days = simulated_days(sc)
    end = float(n_days * DAY_MIN)
    p = generate_demand(county, replication)
    p.t_sorted[:] = sorted_times(county, p.t_created, end)
    sh = _Laid(prep.shuttles, n_days, sc.start_date.weekday(), county.n_townships)
    sh_row = sh.take(p.township, p.t_sorted, p.t_shuttle, p.t_township)
    n_lanes = county.village_visit_days.shape[0]
    lp = _Laid(prep.loops, n_days, sc.start_date.weekday(), n_lanes * county.n_villages)
    key = _lane(county, p) * county.n_villages + p.village
    ready = np.where(p.held, np.nan, p.t_township)
    lp_row = lp.take(key, ready, p.t_loop, p.t_point)
    _pickups(county, p)
    parcels = _parcel_table(
        county,
        replication,
        p,
        np.full(len(p.village), -1, dtype=np.int32),
        prep.cats,
        0,
        end,
        stage=_stage(p, end),
    )
    legs = [sh.legs(sh_row, 0), lp.legs(lp_row, sh.n_runs)]
    trips = _trip_table(county, replication, _join(legs, end))
    return parcels, trips


class _Laid:
    """The runs of :class:`_Tours` over the horizon, with one row per stop visited."""

    def __init__(self, tours: _Tours, n_days: int, start_wd: int, n_keys: int) -> None:
        weekday = (start_wd + np.arange(n_days)) % 7
        tour, day = np.nonzero(tours.days[:, weekday])
        n_dep = len(tours.times)
        tour, day = np.repeat(tour, n_dep), np.repeat(day, n_dep)
        dep = np.tile(tours.times, len(tour) // max(n_dep, 1))
        self.tours, self.tour, self.n_runs = tours, tour, len(tour)
        self.depart = day * DAY_MIN + np.maximum(dep, tours.shift[tour]) + tours.start[tour]
        self.run_of, stop = _ragged(tours.stop0[tour], tours.n_stops[tour])
        self.row0 = np.cumsum(tours.n_stops[tour]) - tours.n_stops[tour]
        self.key = tours.key[stop]
        self.arrive = self.depart[self.run_of] + tours.at[stop]
        # Stop rows by (key, departure); per (key, day) the first row of that day or later.
        self.n_slots = n_days + 2
        comb = self.key * (self.n_slots * DAY_MIN) + self.depart[self.run_of]
        self.order = np.argsort(comb, kind="stable")
        marks = (np.arange(n_keys)[:, None] * self.n_slots + np.arange(self.n_slots)) * DAY_MIN
        self.first = np.searchsorted(comb[self.order], marks.ravel(), side="left")
        # Sorted copies, and a sentinel row past the end that serves no key.
        self.s_key = np.append(self.key[self.order], -1)
        self.s_dep = np.append(self.depart[self.run_of[self.order]], np.inf)

    def take(
        self, key: np.ndarray, ready: np.ndarray, t_depart: np.ndarray, t_arrive: np.ndarray
    ) -> np.ndarray:
        """Stamp each parcel (of ``key``, ready at ``ready``) with the departure of the first
        run serving its key from then on and its arrival; return its stop row (-1: none).

        The first row of the parcel's key on its ready day, then forward past the runs of
        that day that left before it was ready (at most a few steps: runs per key and day).
        """
        day = np.floor_divide(ready, DAY_MIN)
        day[np.isnan(day)] = self.n_slots - 1  # not ready: no run serves it
        at = self.first[key * self.n_slots + day.astype(np.int64)]
        early = np.flatnonzero((self.s_key[at] == key) & (self.s_dep[at] < ready))
        while len(early):
            at[early] += 1
            sub = at[early]
            early = early[(self.s_key[sub] == key[early]) & (self.s_dep[sub] < ready[early])]
        ok = self.s_key[at] == key
        ok &= ~np.isnan(ready)
        row = np.full(len(key), -1, dtype=np.int64)
        row[ok] = self.order[at[ok]]
        t_depart[ok] = self.s_dep[at[ok]]
        t_arrive[ok] = self.arrive[row[ok]]
        return row

    def legs(self, row: np.ndarray, first_run: int) -> _Trips:
        """The legs of every run, each with the parcels on board."""
        t = self.tours
        drops = np.bincount(row[row >= 0], minlength=len(self.key))
        taken = np.concatenate([[0], np.cumsum(drops)])
        run, leg = _ragged(t.leg0[self.tour], t.n_legs[self.tour])
        j = leg - t.leg0[self.tour][run]  # 0 = the leg from the base
        r0 = self.row0[run]
        on_board = taken[r0 + t.n_stops[self.tour][run]] - taken[r0]
        i = np.zeros(len(run), dtype=np.int64)
        return _Trips(
            run=run + first_run,
            vehicle=t.vehicle[self.tour][run],
            kind=i + t.kind,
            frm=t.frm[leg],
            to=t.to[leg],
            depart=self.depart[run] + t.leave[leg],
            arrive=self.depart[run] + t.arrive[leg],
            km=t.km[leg],
            load=on_board - (taken[r0 + j] - taken[r0]),
            stop_min=t.stop_min[leg],
        )


def _ragged(first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of ``count`` rows from ``first``: each row's run and its index."""
    run = np.repeat(np.arange(len(count)), count)
    offset = np.cumsum(count) - count
    return run, first[run] + np.arange(len(run)) - offset[run]


def _join(parts: list[_Trips], end: float) -> _Trips:
    """The legs of several kinds of run, those ended before ``end``, by arrival."""
    cols = {n: np.concatenate([getattr(t, n) for t in parts]) for n in _Trips.__dataclass_fields__}
    order = np.lexsort((cols["run"], cols["depart"], cols["arrive"]))
    order = order[cols["arrive"][order] < end]
    return _Trips(**{n: c[order] for n, c in cols.items()})


def sorted_times(county: County, arrive: np.ndarray, end: float) -> np.ndarray:
    """When each parcel (in arrival order) leaves the sorter: first in, first out at the
    centre's rate, within its shifts.

    On a clock of open minutes (shift minutes since day 0), a queue whose service time is
    ``1/r`` finishes parcel ``k`` at ``(k + 1)/r + max over j <= k of (a_j - j/r)``.
    """
    rate = county.scenario.facilities.county_centre.sorting_capacity_per_hour / 60.0
    days = np.arange(int(end // DAY_MIN) + 2)[:, None] * DAY_MIN
    shifts = np.array(sorting_shifts(county.scenario), dtype=float)
    start = (days + shifts[:, 0]).ravel()
    stop = (days + shifts[:, 1]).ravel()
    before = np.concatenate([[0.0], np.cumsum(stop - start)])  # open minutes before each
    i = np.searchsorted(stop, arrive, side="right")
    open_at = before[i] + np.clip(arrive - start[i], 0.0, stop[i] - start[i])
    k = np.arange(len(arrive), dtype=float) / rate
    open_at -= k
    done = np.maximum.accumulate(open_at)
    done += k + 1.0 / rate
    j = np.minimum(np.searchsorted(before, done, side="left") - 1, len(start) - 1)
    t = start[j] + (done - before[j])
    t[t > end] = np.nan
    return t


def _lane(county: County, p: _Parcels) -> np.ndarray:
    """Each parcel's lane: its carrier's, or the shared one in a co-delivery township."""
    n_c = county.village_visit_days.shape[0] - 1
    if county.township_shared is None:
        return np.full(len(p.village), n_c, dtype=np.int64)
    return np.where(county.township_shared[p.township], n_c, p.carrier.astype(np.int64))


def _pickups(county: County, p: _Parcels) -> None:
    """Pickup or return of each parcel at its point (or its township point if held)."""
    sc = county.scenario
    pk = sc.pickup
    hold = pk.max_hold_days * DAY_MIN
    delay_by_kind = _delay_by_kind(sc)
    mean = delay_by_kind[county.village_kind[p.village]]
    town = pk.township_mean_delay_h + pk.delay_h_per_km * county.village_township_km[p.village]
    np.copyto(mean, town, where=p.held)
    at = np.where(p.held, p.t_township, p.t_point)
    delay = -np.log1p(-p.pickup_u) * mean * 60.0
    door = ~p.held & (county.village_kind[p.village] == _DOOR)
    delay[door] = 0.0
    late = delay > hold
    p.t_pickup[:] = np.where(late, np.nan, at + delay)
    p.t_returned[:] = np.where(late, at + hold, np.nan)
