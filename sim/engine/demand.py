"""Inbound demand: the parcels of one replication, their carriers and who takes them on."""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim.calendar import demand_factors
from sim.engine.constants import DAY_MIN
from sim.engine.state import _Parcels
from sim.measure import simulated_days
from sim.rng import stream
from sim.scenario import Scenario, clock_minutes
from sim.world import County


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
    slots = np.arange(days * len(waves))
    size = per.reshape(days * len(waves), -1).sum(1)
    slot = np.repeat(slots, size)
    t_created = np.repeat((slots // len(waves)) * DAY_MIN + wave_min[slots % len(waves)], size)
    # Shuffle within each wave: sort by (slot, random key), the key made in place.
    key = rng.random(len(village))
    key += slot
    order = _stable_argsort(key, size)
    del key, slot
    village = village[order]
    n = len(village)
    # The stage times, not reached yet: an array per stage. (One block of all seven would
    # pass numpy's 4 MB mark for huge pages, whose first touch can cost tens of ms.)
    t_sorted, t_shuttle, t_township, t_loop, t_point, t_pickup, t_returned = (
        np.full(n, np.nan) for _ in range(7)
    )
    carrier = draw_carriers(sc, f"carrier:{county.county_code}", replication, n)
    route_u = stream(sc.seed, f"route:{county.county_code}", replication).random(n)
    return _Parcels(
        village=village,
        township=county.village_township[village],
        t_created=t_created,  # slot is already sorted, so t_created is unchanged by order
        pickup_u=stream(sc.seed, f"pickup:{county.county_code}", replication).random(n),
        t_sorted=t_sorted,
        t_shuttle=t_shuttle,
        t_township=t_township,
        t_loop=t_loop,
        t_point=t_point,
        t_pickup=t_pickup,
        t_returned=t_returned,
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
    visited = np.asarray(county.village_visit_days.any(axis=2))  # (lane, village)
    by_loop = visited[lane, village]
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
    if len(sc.carriers) == 1:  # every draw picks the only carrier
        return np.zeros(n, dtype=np.int8)
    cum = np.cumsum([c.share for c in sc.carriers])
    u = stream(sc.seed, name, replication).random(n) * cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).astype(np.int8)


def _stable_argsort(key: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of float keys in runs of ``size`` keys, run by run.

    Each run's keys lie between those of the runs before and after it (a slot number plus
    a uniform draw), so sorting run by run gives the one sort's order. Without equal keys in
    a run every sort gives the same order, so the faster unstable sort is used; with equal
    keys (rare for random draws) the run is sorted stably.
    """
    order = np.empty(len(key), dtype=np.int64)
    bounds = [0, *np.add.accumulate(size).tolist()]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b > a:
            run = key[a:b]
            part = np.argsort(run)
            if (np.diff(run[part]) == 0).any():
                part = np.argsort(run, kind="stable")
            order[a:b] = part + a
    return order
