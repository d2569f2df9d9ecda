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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calendar import demand_factors
from sim.costs import _to_local, local_mapping
from sim.measure import DAY_MIN, window
from sim.scenario import clock_minutes
from sim.world import County

#: Stages of the inbound lead time, in order; ``Cohort.stage_h`` has one column each.
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
    stage_h
        Hours spent in each of :data:`STAGES` (until the censoring time where unresolved).
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
    stage_h: np.ndarray
    day_created: np.ndarray
    day_reached: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.lead_h)


def local_index(codes: pd.Series, local: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Index of each row's (categorical) code within a county's own code list (-1 if none);
    with ``rows`` (a boolean mask), of those rows only."""
    cat = codes.cat.codes.to_numpy()
    return local_mapping(codes, local)[cat if rows is None else cat[rows]]


def in_window(c: County, parcels: pd.DataFrame) -> np.ndarray:
    """Rows of ``parcels`` created in the measurement window."""
    start, end = window(c.scenario)
    t = parcels["t_created"].to_numpy()
    return (t >= start) & (t < end)


def inbound_cohort(c: County, parcels: pd.DataFrame, ends: dict[int, float]) -> Cohort:
    """The cohort of a county's inbound parcels; ``ends`` maps replication -> run end.

    Outbound rows of ``parcels`` are left out. Only the columns it needs are read, only the
    cohort's rows of them are copied, and the stage times are worked on in place (a
    county-year is millions of rows).
    """
    mine = in_window(c, parcels) & (parcels["direction"].cat.codes.to_numpy() == 0)
    n = int(mine.sum())
    rep = np.compress(mine, parcels["replication"].to_numpy())
    reps = np.array(sorted(ends), dtype=np.int64)
    end_of = np.array([ends[int(r)] for r in reps], dtype=float)
    end = end_of[np.searchsorted(reps, rep)] if n else np.empty(0)
    # Times each stage ends, one row per mark so that each step reads contiguous memory.
    marks = np.empty((5, n))
    for row, name in enumerate(("t_created", "t_sorted", "t_township", "t_loop_depart", "t_point")):
        np.compress(mine, parcels[name].to_numpy(), out=marks[row])
    created, sorted_at, town, loop, point = marks
    bus = np.isnan(town) & np.isnan(loop)
    bus &= ~np.isnan(np.compress(mine, parcels["t_shuttle_depart"].to_numpy()))
    np.copyto(town, point, where=bus)  # bus parcels go straight to their village
    del bus
    reached = ~np.isnan(point)
    at_town, is_sorted = ~np.isnan(town), ~np.isnan(sorted_at)
    day_reached = np.where(reached, point // DAY_MIN, -1).astype(np.int32)
    # A missing time takes the next one (a stage that was skipped), and an unresolved
    # parcel's last stage runs to the end of the run.
    np.copyto(point, end, where=~reached)
    lead_h, town_h, sort_h = (_hours_since(created, t, end) for t in (point, town, sorted_at))
    for j in range(marks.shape[0] - 2, 0, -1):
        np.copyto(marks[j], marks[j + 1], where=np.isnan(marks[j]))
    for j in range(marks.shape[0] - 1, 0, -1):  # each stage's length, in place
        marks[j] -= marks[j - 1]
    stage_h = marks[1:]
    stage_h /= 60.0
    village = local_index(parcels["village_code"], c.village_codes, mine)
    return Cohort(
        replication=rep,
        village=village,
        township=local_index(parcels["township_code"], c.township_codes, mine),
        lead_h=lead_h,
        reached=reached,
        town_h=town_h,
        at_town=at_town,
        sort_h=sort_h,
        sorted=is_sorted,
        stage_h=stage_h.T,
        day_created=(created // DAY_MIN).astype(np.int32),
        day_reached=day_reached,
        weight=_weights(c, rep, village, created),
    )


def _hours_since(created: np.ndarray, t: np.ndarray, end: np.ndarray) -> np.ndarray:
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
    """
    if len(created) == 0:
        return np.empty(0)
    sc = c.scenario
    day = (created // DAY_MIN).astype(np.int64)
    minute = created - day * DAY_MIN
    waves = sc.facilities.county_centre.trunk_arrivals
    share = {float(clock_minutes(w.time)): w.share for w in waves}
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
