"""Outbound parcels (农产品进城): generation and the columnar state the engine moves.

Each day, every village packs its outbound parcels by ``ready_time``: a baseline of
``parcels_per_village_per_day`` plus, in season, each specialty it grows, whose daily mean
rises linearly from 0 at the start of the season to ``peak_parcels_per_village_per_day`` in its
middle and falls back to 0 at its end. Village loops collect them on their visits (backhaul, in
the room the inbound parcels leave), township shuttles take them back to the county centre,
and the first trunk departure whose cut-off they meet takes them out. A perishable parcel spoils
once its shelf life is used up; time on a cold-chain vehicle uses shelf life more slowly.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sim.calendar import dates
from sim.measure import DAY_MIN
from sim.rng import stream
from sim.scenario import Specialty, clock_minutes
from sim.world import County


@dataclass
class Outbound:
    """Columnar state of one replication's outbound parcels (mutated only by the engine).

    Attributes
    ----------
    village, township
        Origin.
    specialty
        Index into the scenario's specialties, -1 for baseline parcels.
    t_created
        Ready at the village point (minutes).
    shelf_min
        Shelf life in minutes (inf when not perishable).
    t_collected, t_township, t_shuttle, t_centre, t_trunk
        Collected by a village loop, at the township point, collected by a shuttle, at the
        county centre, left on a trunk departure (NaN until reached).
    cold_min
        Minutes spent on cold-chain vehicles.
    """

    village: np.ndarray
    township: np.ndarray
    specialty: np.ndarray
    t_created: np.ndarray
    shelf_min: np.ndarray
    t_collected: np.ndarray
    t_township: np.ndarray
    t_shuttle: np.ndarray
    t_centre: np.ndarray
    t_trunk: np.ndarray
    cold_min: np.ndarray

    def __len__(self) -> int:
        return len(self.village)


def _on(month_day: str, year: int) -> _dt.date:
    """The date of an MM-DD day in a year (02-29 falls on 02-28 in other years)."""
    month, day = (int(x) for x in month_day.split("-"))
    if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    return _dt.date(year, month, day)


def season_curve(spec: Specialty, days: list[_dt.date]) -> np.ndarray:
    """Share of the peak on each day: a triangle over the season, 0 outside it."""
    out = np.zeros(len(days))
    for i, day in enumerate(days):
        start, end = _on(spec.start, day.year), _on(spec.end, day.year)
        if end < start:  # the season wraps the new year: take the one containing ``day``
            if day >= start:
                end = _on(spec.end, day.year + 1)
            else:
                start = _on(spec.start, day.year - 1)
        if not start <= day <= end:
            continue
        length = (end - start).days
        if length == 0:
            out[i] = 1.0
            continue
        x = (day - start).days / length
        out[i] = 1.0 - abs(2.0 * x - 1.0)
    return out


def generate_outbound(county: County, replication: int) -> Outbound:
    """Draw the outbound parcels of one county and replication, ordered by creation time."""
    sc = county.scenario
    ob = sc.demand.outbound
    rng = stream(sc.seed, f"outbound:{county.county_code}", replication)
    days = dates(sc)
    n_v = county.n_villages
    # Mean per (day, village, source): source 0 is the baseline, 1.. the specialties.
    sources = [np.full((len(days), n_v), ob.parcels_per_village_per_day)]
    shelves = [np.inf]
    for spec in ob.specialties:
        grows = (
            np.ones(n_v, dtype=bool)
            if spec.villages == "all"
            else np.isin(county.village_codes, np.array(spec.villages, dtype=object))
        )
        curve = season_curve(spec, days)
        sources.append(curve[:, None] * grows[None, :] * spec.peak_parcels_per_village_per_day)
        shelves.append(spec.shelf_life_h * 60.0 if spec.shelf_life_h else np.inf)
    mean = np.stack(sources, axis=2)  # (days, villages, sources)
    # Only villages with a point that some vehicle visits can send parcels out.
    mean = mean * (county.village_has_point & county.village_served)[None, :, None]
    counts = np.maximum(
        np.nan_to_num(stats.poisson.ppf(rng.random(mean.shape), mean), nan=0.0), 0
    ).astype(np.int64)
    flat = counts.reshape(-1)
    cell = np.repeat(np.arange(flat.size), flat)
    day, rest = np.divmod(cell, n_v * len(sources))
    village, source = np.divmod(rest, len(sources))
    n = len(cell)
    nan = np.full(n, np.nan)
    return Outbound(
        village=village,
        township=county.village_township[village],
        specialty=source - 1,
        t_created=day * DAY_MIN + clock_minutes(ob.ready_time),
        shelf_min=np.asarray(shelves, dtype=float)[source],
        t_collected=nan.copy(),
        t_township=nan.copy(),
        t_shuttle=nan.copy(),
        t_centre=nan.copy(),
        t_trunk=nan.copy(),
        cold_min=np.zeros(n),
    )


def spoil_times(o: Outbound, factor: float) -> np.ndarray:
    """When each parcel's shelf life runs out, given its cold-chain minutes so far.

    Shelf life is used at rate 1 off the cold chain and 1/``factor`` on it; the cold minutes
    are credited back at rate (1 - 1/factor). Parcels without a shelf life never spoil (inf).
    """
    return o.t_created + o.shelf_min + o.cold_min * (1.0 - 1.0 / factor)
