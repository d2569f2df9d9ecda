"""The cohort of a county: parcels created in the measurement window, followed to their outcome.

Lead time runs from a parcel's arrival at the county centre to its arrival at the point where
the villager collects it (the village point, or the township point for villages without a
point or a visit). A parcel that has not arrived when the run stops is censored at that time.
Each parcel's wait is split into stages (sorting, shuttle, township point, loop), so a unit
that falls short can name where its parcels waited longest.

Visits are counted from the vehicle runs: a visit is a day on which a run that reaches the
village leaves its base (village loops from the township point; rural buses from the county
station), counted in each 7-day week of the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calendar import demand_factors
from sim.costs import _to_local, local_mapping
from sim.measure import DAY_MIN, window
from sim.scenario import clock_minutes
from sim.world import County

#: Stages of the inbound lead time, in order; ``Cohort.village_stage_h`` has one column each.
STAGES = ("sorting", "shuttle", "township_point", "loop")


@dataclass(frozen=True)
class Cohort:
    """Inbound parcels of one county created in the window (one or more replications).

    Attributes
    ----------
    replication, village, township
        Per parcel: replication and local village and township index.
    lead_h, reached
        Lead time in hours (to the censoring time where not ``reached``).
    town_h, at_town
        Hours to the township point (bus parcels: to the village), and whether reached.
    sort_h, sorted
        Hours from arrival at the centre to sorted, and whether sorted.
    village_stage_h, township_stage_h, county_stage_h
        Parcel-hours spent in each of :data:`STAGES` (until the censoring time where
        unresolved), summed per village (villages x 4), per township (townships x the first
        2 stages) and over the county (the first 2 stages), each sum in row order.
    day_created, day_reached
        Simulated day of arrival at the centre and at the point (-1 if not reached).
    weight
        Post-stratification weight: the parcels of each (village, day, trunk wave) weigh,
        together, that cell's expected demand, so that the day-to-day noise of the counts
        does not move a unit's percentiles (see :func:`_weights`).
    """

    replication: np.ndarray
    village: np.ndarray
    township: np.ndarray
    lead_h: np.ndarray
    reached: np.ndarray
    town_h: np.ndarray
    at_town: np.ndarray
    sort_h: np.ndarray
    sorted: np.ndarray
    village_stage_h: np.ndarray
    township_stage_h: np.ndarray
    county_stage_h: np.ndarray
    day_created: np.ndarray
    day_reached: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.lead_h)


def in_window(c: County, parcels: pd.DataFrame) -> np.ndarray:
    """Rows of ``parcels`` created in the measurement window."""
    start, end = window(c.scenario)
    t = parcels["t_created"].to_numpy()
    return (t >= start) & (t < end)


#: Rows per block of the cohort's per-parcel arithmetic: its temporaries stay in cache.
CHUNK = 1 << 16

_MARKS = ("t_created", "t_sorted", "t_township", "t_loop_depart", "t_point")


def inbound_cohort(c: County, parcels: pd.DataFrame, ends: dict[int, float]) -> Cohort:
    """The cohort of a county's inbound parcels; ``ends`` maps replication -> run end.

    Outbound rows of ``parcels`` are left out. Only the columns it needs are read, and each
    output is filled a block of rows at a time (a county-year is millions of rows), so that
    no parcel-sized temporary is made.
    """
    mine = in_window(c, parcels) & (parcels["direction"].cat.codes.to_numpy() == 0)
    rows = np.flatnonzero(mine)
    n = len(rows)
    whole = n > 0 and rows[-1] - rows[0] + 1 == n  # one run of rows: read by slices
    first = int(rows[0]) if whole else 0

    def take(col: str) -> np.ndarray:
        x = parcels[col].to_numpy()
        return x[first : first + n] if whole else np.take(x, rows)

    def take_codes(codes: pd.Series) -> np.ndarray:
        x = codes.cat.codes.to_numpy()
        return x[first : first + n] if whole else np.take(x, rows)

    rep = take("replication").copy() if whole else take("replication")
    reps = np.array(sorted(ends), dtype=np.int64)
    end_of = np.array([ends[int(r)] for r in reps], dtype=float)
    unit = {
        k: local_mapping(parcels[f"{k}_code"], codes)[take_codes(parcels[f"{k}_code"])]
        for k, codes in (("village", c.village_codes), ("township", c.township_codes))
    }
    cols = {k: parcels[k].to_numpy() for k in (*_MARKS, "t_shuttle_depart")}
    out = _Filled(n, c.n_villages, c.n_townships)
    for a in range(0, n, CHUNK):
        b = min(a + CHUNK, n)
        part = slice(first + a, first + b) if whole else rows[a:b]
        end = end_of[np.searchsorted(reps, rep[a:b])] if len(reps) > 1 else end_of[0]
        t = {k: x[part] for k, x in cols.items()}
        out.fill(a, b, t, end, unit["village"][a:b], unit["township"][a:b])
    village = unit["village"]
    day, minute, whole = out.day_created, out.minute, out.whole
    weight = _chosen_weights(c, rep, village, day, minute, whole, lambda: take("t_created"))
    return Cohort(
        replication=rep,
        village=village,
        township=unit["township"],
        lead_h=out.lead_h,
        reached=out.reached,
        town_h=out.town_h,
        at_town=out.at_town,
        sort_h=out.sort_h,
        sorted=out.sorted,
        village_stage_h=out.village_stage_h.T,
        township_stage_h=out.township_stage_h.T,
        county_stage_h=out.county_stage_h[:, 0],
        day_created=out.day_created,
        day_reached=out.day_reached,
        weight=weight,
    )


class _Filled:
    """The cohort's per-parcel arrays, filled a block of rows at a time (:meth:`fill`)."""

    def __init__(self, n: int, n_villages: int, n_townships: int) -> None:
        self.minute, self.whole = np.empty(n, np.int16), True  # minute of day of arrival
        self.lead_h, self.town_h, self.sort_h = np.empty(n), np.empty(n), np.empty(n)
        self.reached, self.at_town = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
        self.sorted = np.empty(n, dtype=bool)
        self.day_created, self.day_reached = np.empty(n, np.int32), np.empty(n, np.int32)
        self.village_stage_h = np.zeros((len(STAGES), n_villages))
        self.township_stage_h = np.zeros((2, n_townships))
        self.county_stage_h = np.zeros((2, 1))

    def fill(
        self,
        a: int,
        b: int,
        t: dict[str, np.ndarray],
        end: float | np.ndarray,
        village: np.ndarray,
        township: np.ndarray,
    ) -> None:
        """Rows ``a:b`` from their times ``t`` (one block; ``end``: the run end of each),
        their stage hours added to their village's, township's and the county's sums."""
        marks = np.empty((len(_MARKS), b - a))
        for row, name in enumerate(_MARKS):
            marks[row] = t[name]
        created, sorted_at, town, loop, point = marks
        bus = np.isnan(town) & np.isnan(loop)
        bus &= ~np.isnan(t["t_shuttle_depart"])
        np.copyto(town, point, where=bus)  # bus parcels go straight to their village
        reached = ~np.isnan(point)
        self.reached[a:b] = reached
        np.logical_not(np.isnan(town), out=self.at_town[a:b])
        np.logical_not(np.isnan(sorted_at), out=self.sorted[a:b])
        self.day_reached[a:b] = np.where(reached, _days(point), -1)
        # A missing time takes the next one (a stage that was skipped), and an unresolved
        # parcel's last stage runs to the end of the run.
        np.copyto(point, end, where=~reached)
        for out, x in ((self.lead_h, point), (self.town_h, town), (self.sort_h, sorted_at)):
            out[a:b] = _hours_since(created, x, end)
        for j in range(marks.shape[0] - 2, 0, -1):
            np.copyto(marks[j], marks[j + 1], where=np.isnan(marks[j]))
        stage = np.subtract(marks[1:], marks[:-1])  # each stage's length
        stage /= 60.0
        # Added one row at a time, in row order: the sums np.bincount would give.
        for j in range(len(STAGES)):
            np.add.at(self.village_stage_h[j], village, stage[j])
        for j in range(2):
            np.add.at(self.township_stage_h[j], township, stage[j])
            # The county's: a running sum, the sum so far folded into the block's first row.
            run = stage[j].copy()
            run[0] += self.county_stage_h[j, 0]
            self.county_stage_h[j, 0] = np.cumsum(run)[-1]
        day = _days(created)
        self.day_created[a:b] = day
        minute = created - day * DAY_MIN
        whole = minute.astype(np.int16)
        self.minute[a:b] = whole
        self.whole = self.whole and _whole_minutes(whole, minute)


def _days(t: np.ndarray) -> np.ndarray:
    """``t // DAY_MIN``: a division and its floor, checked (the floor division is slow)."""
    q = t / DAY_MIN
    np.floor(q, out=q)
    lo = q * DAY_MIN
    ok = lo <= t
    lo += DAY_MIN
    ok &= t < lo
    ok |= np.isnan(t)
    if not ok.all():
        q[~ok] = t[~ok] // DAY_MIN
    return q


def _hours_since(created: np.ndarray, t: np.ndarray, end: float | np.ndarray) -> np.ndarray:
    """Hours from ``created`` to ``t``, or to ``end`` where ``t`` is missing."""
    out = np.where(np.isnan(t), end, t)
    out -= created
    out /= 60.0
    return out


def _weights(c: County, rep: np.ndarray, village: np.ndarray, created: np.ndarray) -> np.ndarray:
    """Weights that give each (replication, village, day, wave) cell its expected demand.

    A village's lead times depend mostly on the weekday and trunk wave its parcels arrive in
    (which visit they catch). Weighting each cell's parcels to the cell's expected count
    (village rate x day factor x wave share, divided by the parcels that came) estimates the
    village's lead-time distribution over its expected demand mix: the same answer as an
    unweighted estimate over a long window, without its noise over a short one.

    Worked out once per cell (:func:`_cell_weights`) when arrivals fall on whole minutes,
    else parcel by parcel (:func:`_parcel_weights`); the same weights either way.
    """
    day = _days(created)
    minute = created - day * DAY_MIN
    whole = minute.astype(np.int16)
    ok = _whole_minutes(whole, minute)  # (True when there are none: no weights)
    return _chosen_weights(c, rep, village, day.astype(np.int32), whole, ok, lambda: created)


def _chosen_weights(
    c: County,
    rep: np.ndarray,
    village: np.ndarray,
    day: np.ndarray,
    minute: np.ndarray,
    whole: bool,
    created: Callable[[], np.ndarray],
) -> np.ndarray:
    """Cell weights when the arrivals are on ``whole`` minutes and the cells can be counted,
    else parcel weights from the arrival times ``created()``."""
    weight = _cell_weights(c, rep, village, day, minute) if whole else None
    return _parcel_weights(c, rep, village, created()) if weight is None else weight


def _whole_minutes(whole: np.ndarray, minute: np.ndarray) -> bool:
    """Whether the minutes of day ``minute`` are whole, as ``whole`` has them."""
    if len(minute) == 0:
        return True
    return bool(np.array_equal(whole, minute) and whole.min() >= 0 and whole.max() < DAY_MIN)


def _cell_weights(
    c: County, rep: np.ndarray, village: np.ndarray, day: np.ndarray, minute: np.ndarray
) -> np.ndarray | None:
    """:func:`_weights` from each parcel's day and whole minute of day of arrival, looked up
    per (replication, village, day, minute) cell; None where the cells cannot be counted
    by :func:`numpy.bincount` (a village not the county's, a day before 0, too many)."""
    if len(day) == 0:
        return np.empty(0)
    if village.min() < 0 or day.min() < 0:
        return None
    reps = np.unique(rep) if rep.min() < rep.max() else rep[:1]
    n_r, n_v, n_d = len(reps), c.n_villages, int(day.max()) + 1
    seen = np.zeros(int(DAY_MIN), dtype=bool)
    seen[minute] = True
    minutes = np.flatnonzero(seen)
    n_w = len(minutes)
    if n_r * n_v * n_d * n_w >= 50_000_000:
        return None
    wave = np.cumsum(seen) - 1  # minute of day -> its index among those that occur
    cell = np.empty(len(day), dtype=np.int64)
    for a in range(0, len(day), CHUNK):
        out = cell[a : a + CHUNK]
        np.multiply(np.searchsorted(reps, rep[a : a + CHUNK]) if n_r > 1 else 0, n_v, out=out)
        out += village[a : a + CHUNK]
        out *= n_d
        out += day[a : a + CHUNK]
        out *= n_w
        out += wave[minute[a : a + CHUNK]]
    counts = np.bincount(cell, minlength=n_r * n_v * n_d * n_w)
    share = _wave_shares(c)
    wave_share = np.array([share.get(float(m), 1.0) for m in minutes.astype(float)])
    v, d, w = np.unravel_index(np.arange(len(counts)), (n_r, n_v, n_d, n_w))[1:]
    expected = c.village_rate[v] * demand_factors(c.scenario)[d] * wave_share[w]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cell = expected / counts
    return per_cell[cell]


def _wave_shares(c: County) -> dict[float, float]:
    """Share of a day's parcels in each trunk wave, by its minute of day."""
    waves = c.scenario.facilities.county_centre.trunk_arrivals
    return {float(clock_minutes(w.time)): w.share for w in waves}


def _parcel_weights(
    c: County, rep: np.ndarray, village: np.ndarray, created: np.ndarray
) -> np.ndarray:
    """:func:`_weights` parcel by parcel (any arrival times)."""
    sc = c.scenario
    day = (created // DAY_MIN).astype(np.int64)
    minute = created - day * DAY_MIN
    share = _wave_shares(c)
    wave_share = np.array([share.get(float(m), 1.0) for m in np.unique(minute)])
    wave_index = np.searchsorted(np.unique(minute), minute)
    n_w, n_d = len(wave_share), int(day.max()) + 1
    cell = ((rep.astype(np.int64) * c.n_villages + village) * n_d + day) * n_w + wave_index
    if cell.max() < 50_000_000:  # a count per possible cell: no sort needed
        per_parcel = np.bincount(cell)[cell]
    else:
        _, inverse, counts = np.unique(cell, return_inverse=True, return_counts=True)
        per_parcel = counts[inverse]
    expected = c.village_rate[village] * demand_factors(sc)[day] * wave_share[wave_index]
    return expected / per_parcel


def run_starts(trips: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
    """Departure time of each leg's run from its base (the run's first leg).

    With ``rows`` (a boolean mask), only those legs, as ``run_starts(trips[rows])``.
    """
    rep, run, dep = (trips[k].to_numpy() for k in ("replication", "run", "depart"))
    if rows is not None:
        rep, run, dep = rep[rows], run[rows], dep[rows]
    if len(dep) == 0:
        return np.empty(0)
    key = rep.astype(np.int64) * (1 << 32) + run.astype(np.int64)
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    first = np.minimum.reduceat(dep[order], starts)
    out = np.empty(len(key))
    out[order] = np.repeat(first, np.diff(np.concatenate([starts, [len(k)]])))
    return out


def weekly_visits(c: County, trips: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Visits per week of each village: (mean over weeks and replications, worst week).

    The window is cut into whole 7-day weeks (a window shorter than a week counts as one,
    scaled to 7 days); a village's visits in a week are the days a run reaching it left its
    base (several runs on one day are one visit).
    """
    start, end = window(c.scenario)
    days = round((end - start) / DAY_MIN)
    n_weeks = max(days // 7, 1)
    scale = 7.0 / days if days < 7 else 1.0
    n_cols = n_weeks * 7 if days >= 7 else days
    legs = trips["kind"].isin(["village_loop", "bus"]).to_numpy()
    dep = run_starts(trips, legs)
    vidx = _to_local(trips["to_code"], c.village_codes)[legs]
    day = np.floor((dep - start) / DAY_MIN).astype(np.int64)
    keep = (vidx >= 0) & (day >= 0) & (day < n_cols)
    reps = np.unique(trips["replication"].to_numpy())
    r_index = np.searchsorted(reps, trips["replication"].to_numpy()[legs][keep])
    n_rep = max(len(reps), 1)
    visited = np.zeros((n_rep, c.n_villages, n_cols), dtype=bool)
    visited[r_index, vidx[keep], day[keep]] = True
    per_week = visited.reshape(n_rep, c.n_villages, n_weeks, -1).sum(axis=3) * scale
    return per_week.mean(axis=(0, 2)), per_week.min(axis=(0, 2))


def shuttle_days(c: County, trips: pd.DataFrame) -> np.ndarray:
    """Per township, the mean number of window days with a shuttle run reaching it."""
    start, end = window(c.scenario)
    legs = (trips["kind"] == "shuttle").to_numpy()
    dep = run_starts(trips, legs)
    tidx = _to_local(trips["to_code"], c.township_codes)[legs]
    keep = (tidx >= 0) & (dep >= start) & (dep < end)
    rep = trips["replication"].to_numpy()[legs][keep]
    day = (dep[keep] // DAY_MIN).astype(np.int64)
    uniq = np.unique(np.column_stack([rep, tidx[keep], day]), axis=0) if keep.any() else None
    n_rep = max(trips["replication"].nunique(), 1)
    counted = uniq[:, 1].astype(np.int64) if uniq is not None else np.empty(0, dtype=np.int64)
    return np.bincount(counted, minlength=c.n_townships) / n_rep
