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
    per = split.transpose(0, 2, 1).reshape(days * len(waves), -1)  # (day and wave, village)
    slots = np.arange(days * len(waves))
    size = per.sum(1)
    t_created = np.repeat((slots // len(waves)) * DAY_MIN + wave_min[slots % len(waves)], size)
    # Shuffle within each wave: its parcels sorted by their slot number plus a random key.
    village = _shuffled_villages(rng.random(int(size.sum())), per)
    n = len(village)
    # The stage times, not reached yet: rows of one block. One allocation this large is
    # given back to the system when freed, and the C allocator then keeps freed memory of
    # that size for reuse: later runs fault in (almost) no fresh pages, where seven arrays
    # of 3.6 MB (at 30 days x 30 parcels x 504 villages) were faulted in afresh each run.
    times = np.full((7, n), np.nan)
    t_sorted, t_shuttle, t_township, t_loop, t_point, t_pickup, t_returned = times
    carrier = draw_carriers(sc, f"carrier:{county.county_code}", replication, n)
    # Route draws choose between a bus line and the shuttle: drawn only where there are buses.
    route_u = (
        stream(sc.seed, f"route:{county.county_code}", replication).random(n)
        if county.buses
        else np.empty(0)
    )
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
    visited = np.asarray(county.village_visit_days.any(axis=2))  # (lane, village)
    shared = county.township_shared
    if shared is None:  # every parcel in the shared lane
        by_loop = visited[n_c][village]
    else:
        # Per carrier and village: visited in the lane its parcels take there.
        lane = np.where(shared[county.village_township], n_c, np.arange(n_c)[:, None])
        seen = np.take_along_axis(visited, lane, axis=0)  # (carrier, village)
        by_loop = seen[0][village] if n_c == 1 else seen[carrier, village]
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


def _shuffled_villages(key: np.ndarray, per: np.ndarray) -> np.ndarray:
    """The villages of each slot's parcels (``per[slot, village]`` of them, in village order)
    shuffled within the slot: ordered by ``slot + key`` (the slot number added to the keys
    in place), stably, slot by slot.

    Each slot's keys lie between those of the slots before and after it, so sorting slot by
    slot gives the one stable sort's order.
    """
    n_v = per.shape[1]
    village = np.empty(len(key), dtype=np.int64)
    at = 0
    for slot, counts in enumerate(per):
        m = int(counts.sum())
        if m:
            run = key[at : at + m]
            run += slot
            village[at : at + m] = np.repeat(np.arange(n_v), counts)[_stable_argsort(run)]
            at += m
    return village


def _stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of non-negative float keys, by one integer sort.

    The bit patterns of non-negative floats order as the floats do. Each key's pattern, less
    the smallest, shifted left with its position in the low bits, makes distinct integers
    that sort by key and then by position: the stable order, found by numpy's fast integer
    sort. When that does not fit in 64 bits (keys spanning more than one power of two), the
    keys are sorted as floats: the faster unstable sort gives the same order unless two
    keys are equal (rare for random draws), which are then sorted stably.
    """
    n = len(key)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    bits = key.view(np.uint64)
    low = bits.min()
    shift = max(n - 1, 1).bit_length()
    if int(bits.max() - low).bit_length() + shift <= 64:
        packed = bits - low
        packed <<= np.uint64(shift)
        packed |= np.arange(n, dtype=np.uint64)
        packed.sort()
        packed &= np.uint64((1 << shift) - 1)
        return packed.view(np.int64)
    order = np.argsort(key)
    ordered = key[order]
    if (ordered[1:] == ordered[:-1]).any():
        order = np.argsort(key, kind="stable")
    return order
