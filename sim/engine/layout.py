"""What the engine derives from a county alone: village loops by weekday, shared stops and legs.

A village vehicle drives, on each weekday, the stops of its routes whose villages are due
that day; a loop with the same stops on several weekdays is one loop. :func:`lay_out_loops`
builds every such loop of the county's village vehicles at once (legs, clock and kinds of
stop as a few arrays, each loop's :class:`~sim.engine.drive.Route` a set of views into
them). The results depend on the county alone and are kept in ``county.engine_cache``
(:func:`~sim.engine.state.county_cached`); nothing in them is changed by a run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine.constants import _DOOR, _LOCKER
from sim.engine.drive import Route
from sim.engine.state import county_cached
from sim.world import County

#: A loop as planned: route, villages, planned minutes, indices of its township queues in
#: ``State.town_queues``, each village's place in the loop (-1 for the county's villages not
#: on it, and a last -1 for taken queue entries) and whether it visits each village.
Planned = tuple[Route, np.ndarray, float, list[int], np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Layout:
    """The village loops of a county: ``weeks[vi][weekday]`` lists the loops of village
    vehicle ``vi`` with a stop that weekday (0 = Monday), in route order; ``leg_frm``,
    ``leg_to`` and ``leg_vehicle`` are the legs of every loop, with the index of the village
    vehicle that drives it."""

    weeks: list[list[list[Planned]]]
    leg_frm: np.ndarray
    leg_to: np.ndarray
    leg_vehicle: np.ndarray


def visitors(county: County) -> np.ndarray:
    """Number of vehicles (village vehicles and buses) that stop at each village."""
    n_t = county.n_townships
    count = np.zeros(county.n_villages, dtype=np.int64)
    for veh in (*county.village_vehicles, *county.buses):
        mine = np.unique(np.concatenate([*veh.routes, np.empty(0, dtype=np.int64)]))
        count[mine.astype(np.int64) - 1 - n_t] += 1
    return count


def _distinct_loops(county: County) -> tuple[list[np.ndarray], list[int], list[list[list[int]]]]:
    """The stops of each distinct loop, its vehicle, and each vehicle's loops by weekday.

    A loop runs on the weekdays of its route (:meth:`sim.world.Vehicle.days_of`) where one
    of its villages is due, through those villages.
    """
    parts: list[np.ndarray] = []
    owner: list[int] = []
    weeks: list[list[list[int]]] = []
    for vi, veh in enumerate(county.village_vehicles):
        visits = county.village_visit_days[veh.lane]
        week: list[list[int]] = [[] for _ in range(7)]
        made: dict[tuple[int, bytes], int] = {}
        for i, loop in enumerate(veh.routes):
            days = visits[loop - 1 - county.n_townships]  # (stop, weekday)
            if veh.route_days is not None:  # a route planned for some weekdays only
                days = days & veh.route_days[i]
            for weekday in np.flatnonzero(days.any(axis=0)).tolist():
                today = days[:, weekday]
                # A loop with the same stops on another weekday is the same loop.
                key = (i, today.tobytes())
                if key not in made:
                    made[key] = len(parts)
                    parts.append(loop[today])
                    owner.append(vi)
                week[weekday].append(made[key])
        weeks.append(week)
    return parts, owner, weeks


@dataclass(frozen=True)
class _Stops:
    """The stops of every loop, one loop after another: ``n`` per loop, ``stops`` (facility
    indices) and ``vills`` (village indices), ``of_stop`` (the loop of each), ``stop0`` and
    ``leg0`` (each loop's first stop and first leg; a loop of n stops has n + 1 legs)."""

    n: np.ndarray
    stops: np.ndarray
    vills: np.ndarray
    of_stop: np.ndarray
    stop0: np.ndarray
    leg0: np.ndarray

    @classmethod
    def of(cls, county: County, parts: list[np.ndarray]) -> _Stops:
        """The stops of the loops ``parts``, laid end to end."""
        n = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        stops = np.concatenate(parts)
        stop0 = np.cumsum(n) - n
        return cls(
            n=n,
            stops=stops,
            vills=stops - 1 - county.n_townships,
            of_stop=np.repeat(np.arange(len(parts)), n),
            stop0=stop0,
            leg0=stop0 + np.arange(len(parts)),
        )


def _legs(
    county: County, laid: _Stops, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every loop's legs base -> stops -> base, one after another: from, to, minutes, km,
    and the loop of each leg."""
    vehicles = county.village_vehicles
    n, of_stop, leg0 = laid.n, laid.of_stop, laid.leg0
    leg_loop = np.repeat(np.arange(len(n)), n + 1)
    base = np.array([v.base for v in vehicles], dtype=np.int64)[owner]
    frm = np.empty(len(leg_loop), dtype=np.int64)
    to = np.empty(len(leg_loop), dtype=np.int64)
    at = np.arange(len(of_stop)) + of_stop  # the leg into each stop
    frm[leg0], frm[at + 1] = base, laid.stops
    to[at], to[leg0 + n] = laid.stops, base
    minutes, km = np.empty(len(frm)), np.empty(len(frm))
    vtype = np.array([v.vtype for v in vehicles], dtype=object)[owner][leg_loop]
    for name in sorted(set(v.vtype for v in vehicles)):
        mine = vtype == name
        minutes[mine] = county.time_min[name][frm[mine], to[mine]]
        km[mine] = county.km[name][frm[mine], to[mine]]
    return frm, to, minutes, km, leg_loop


def _any_per_loop(flags: np.ndarray, stop0: np.ndarray) -> list[bool]:
    """Whether some stop of each loop (every loop has one) has the flag."""
    return np.logical_or.reduceat(flags, stop0).tolist()


def _routes(
    county: County,
    laid: _Stops,
    owner: np.ndarray,
    multi_visit: np.ndarray,
    stop_min: float,
) -> tuple[list[Route], list[float], np.ndarray, np.ndarray, np.ndarray]:
    """The route of each loop (as :func:`~sim.engine.drive.route` makes it) and its planned
    minutes (as ``sim.plan.tour_minutes``: the legs' minutes summed, plus the stops'), and
    the legs (from, to, loop)."""
    n, stops, vills, stop0 = laid.n, laid.stops, laid.vills, laid.stop0
    frm, to, minutes, km, leg_loop = _legs(county, laid, owner)
    # The clock of each loop: 0 (its departure), then a leg's minutes and a stop's in turn.
    clock = np.empty(2 * len(frm))
    clock[0::2], clock[1::2] = stop_min + 0.0, minutes
    clock[2 * laid.leg0] = 0.0
    dwell = np.full(len(stops), stop_min + 0.0)
    kind = county.village_kind[vills]
    door, locker, multi = kind == _DOOR, kind == _LOCKER, multi_visit[vills]
    # A loop whose stops repeat: two equal (loop, stop) keys side by side once sorted.
    width = len(county.codes) + 1
    keys = np.sort(laid.of_stop * width + stops)
    repeats = np.zeros(len(n), dtype=bool)
    repeats[keys[1:][keys[1:] == keys[:-1]] // width] = True
    any_locker, any_multi = _any_per_loop(locker, stop0), _any_per_loop(multi, stop0)
    shared_locker = _any_per_loop(locker & multi, stop0)
    any_door = _any_per_loop(door, stop0)
    routes, planned = [], []
    for k, (s0, m, rep) in enumerate(zip(stop0.tolist(), n.tolist(), repeats.tolist())):
        s1, l0 = s0 + m, s0 + k
        l1 = l0 + m + 1
        routes.append(
            Route(
                stops=stops[s0:s1],
                clock=clock[2 * l0 : 2 * l1],
                frm=frm[l0:l1],
                to=to[l0:l1],
                km=km[l0:l1],
                vills=vills[s0:s1],
                dwell=dwell[s0:s1],
                door=door[s0:s1],
                multi=multi[s0:s1],
                stop_min=stop_min,
                town=False,
                distinct=not rep,
                locker=locker[s0:s1],
                any_locker=any_locker[k],
                shared_locker=shared_locker[k],
                any_multi=any_multi[k],
                any_door=any_door[k],
            )
        )
        planned.append(float(minutes[l0:l1].sum() + stop_min * m))
    return routes, planned, frm, to, leg_loop


def lay_out_loops(county: County, multi_visit: np.ndarray) -> Layout:
    """Every village loop of the county by vehicle and weekday (see :class:`Layout`).

    ``multi_visit`` marks the villages more than one vehicle stops at (:func:`visitors`).
    """
    sc = county.scenario
    parts, owners, ids = _distinct_loops(county)
    no_legs = np.empty(0, dtype=np.int64)
    if not parts:
        return Layout([[[] for _ in range(7)] for _ in ids], no_legs, no_legs, no_legs)
    owner = np.array(owners, dtype=np.int64)
    stop_min = sc.facilities.village_points.service_time_min
    laid = _Stops.of(county, parts)
    routes, planned, frm, to, leg_loop = _routes(county, laid, owner, multi_visit, stop_min)
    n_t, n_v = county.n_townships, county.n_villages
    # Each village's place in each loop; one more place than villages: -1 at index -1,
    # for the taken entries of a queue.
    of_stop, vills = laid.of_stop, laid.vills
    pos = np.full((len(parts), n_v + 1), -1, dtype=np.int64)
    pos[of_stop, vills] = np.arange(len(vills)) - laid.stop0[of_stop]
    visit = pos >= 0
    # The township queues of each loop, by township: (township, lane) of its vehicle.
    pairs = np.unique(of_stop * n_t + county.village_township[vills])
    lanes = np.array([v.lane for v in county.village_vehicles], dtype=np.int64)[owner]
    loop_of, town = pairs // n_t, pairs % n_t
    queue = (town * (len(sc.carriers) + 1) + lanes[loop_of]).tolist()
    cut = np.concatenate([[0], np.cumsum(np.bincount(loop_of, minlength=len(parts)))]).tolist()
    loops: list[Planned] = [
        (rt, rt.vills, planned[k], queue[cut[k] : cut[k + 1]], pos[k], visit[k])
        for k, rt in enumerate(routes)
    ]
    weeks = [[[loops[k] for k in day] for day in week] for week in ids]
    return Layout(weeks, frm, to, owner[leg_loop])


def shares_a_leg(county: County, layout: Layout, *, outbound: bool = False) -> np.ndarray:
    """Per vehicle (shuttles, village vehicles, buses): it drives a leg that another vehicle
    it can meet drives too.

    Two vehicles on the same leg can reach its end at the same moment, and then the order
    of their events decides which acts first (see :func:`~sim.engine.drive.go_on`). The
    order matters where both act on the same thing: a shuttle or a bus meets every vehicle;
    village vehicles of one lane load from the same township queues; a locker at the leg's
    end has room for one or the other; with ``outbound`` parcels, every stop has queues
    they share. Village vehicles of different lanes on a leg to a village without a locker
    act on none of these. The village vehicles' legs are those of their loops by weekday
    (``layout``).
    """
    n_f, n_t = len(county.codes), county.n_townships
    n_sh, n_vv = len(county.shuttles), len(county.village_vehicles)
    frm, to, owner = [layout.leg_frm], [layout.leg_to], [layout.leg_vehicle + n_sh]
    others = [(i, v) for i, v in enumerate(county.shuttles)]
    others += [(n_sh + n_vv + i, v) for i, v in enumerate(county.buses)]
    for i, veh in others:
        for loop in veh.routes:
            path = np.concatenate([[veh.base], loop, [veh.base]]).astype(np.int64)
            frm.append(path[:-1])
            to.append(path[1:])
            owner.append(np.full(len(path) - 1, i, dtype=np.int64))
    width = n_f * n_f
    # Each (vehicle, leg) once; a leg two vehicles drive comes up twice.
    pairs = np.unique(
        np.concatenate(owner) * width + np.concatenate(frm) * n_f + np.concatenate(to)
    )
    vehicle, leg = pairs // width, pairs % width
    # Who meets whom: the lane of a village vehicle; shuttles and buses (n_lanes) meet all.
    n_lanes = county.village_visit_days.shape[0]
    lane = np.full(n_sh + n_vv + len(county.buses), n_lanes, dtype=np.int64)
    lane[n_sh : n_sh + n_vv] = [v.lane for v in county.village_vehicles]
    mine = lane[vehicle]
    at_leg, on_leg = np.unique(leg, return_inverse=True, return_counts=True)[1:]
    of_lane = np.unique(at_leg * (n_lanes + 1) + mine, return_inverse=True, return_counts=True)
    meet_all = np.bincount(at_leg, weights=mine == n_lanes, minlength=len(on_leg))[at_leg]
    same_lane = of_lane[2][of_lane[1]] - 1 + meet_all  # the others of its lane, and all-meeters
    end = leg % n_f - 1 - n_t  # the village at the leg's end (negative: a township or centre)
    locker = county.village_kind[np.maximum(end, 0)] == _LOCKER
    everyone = (mine == n_lanes) | outbound | ((end >= 0) & locker)
    met = np.where(everyone, on_leg[at_leg] - 1, same_lane) > 0
    chained = np.zeros(len(lane), dtype=bool)
    chained[vehicle[met]] = True
    return chained


def village_layout(county: County) -> Layout:
    """:func:`lay_out_loops` of the county, made once (kept in ``county.engine_cache``)."""
    return county_cached(
        county, "village_loops", lambda: lay_out_loops(county, multi_visit(county))
    )


def multi_visit(county: County) -> np.ndarray:
    """Per village: more than one vehicle stops there (kept in ``county.engine_cache``)."""
    return county_cached(county, "multi_visit", lambda: visitors(county) > 1)


def chained(county: County, *, outbound: bool) -> list[bool]:
    """Per vehicle: :func:`shares_a_leg` (kept in ``county.engine_cache``)."""
    return county_cached(
        county,
        ("chained", outbound),
        lambda: shares_a_leg(county, village_layout(county), outbound=outbound).tolist(),
    )
