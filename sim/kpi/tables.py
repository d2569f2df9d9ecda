"""KPI rows of one county and replication, and the compact parts its region aggregate needs.

Parcel KPIs are over the cohort (:mod:`sim.kpi.cohort`); costs, km, hours and resource use are
those of the measurement window; the centre backlog is the physical queue
(:mod:`sim.kpi.backlog`). :func:`county_block` computes the rows of one (county, replication)
and its :class:`Parts`; :func:`sim.kpi.region.region_rows` turns the parts of all counties
into the province and carrier rows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from sim.costs import Costs, county_costs, village_economics
from sim.engine import FINAL_STATES, sorting_shifts
from sim.kpi import survival
from sim.kpi.backlog import centre_queue
from sim.kpi.cohort import in_window, inbound_cohort, run_starts
from sim.kpi.coverage import COVERAGE_COLUMNS, Assessment, assess, coverage_rows
from sim.kpi.region import aggregate
from sim.measure import DAY_MIN, window
from sim.scenario import clock_minutes
from sim.world import POINT_KINDS, County

#: Scopes of the KPI table, in the order rows are listed.
SCOPES = ("province", "carrier", "county", "township", "village")
COLUMNS = ["scope", "code", "name", "kpi", "value"]

_VILLAGE_KPIS = (
    "village_express_covered",
    "visits_per_week",
    "visits_worst_week",
    "lead_time_p95_h",
    "parcels_created",
    "cost_per_parcel_yuan",
    "subsidy_yuan_per_day",
)
_TOWNSHIP_KPIS = (
    "township_point_covered",
    "shuttle_days_served",
    "township_lead_time_p95_h",
    "parcels_created",
)


@dataclass(frozen=True)
class Parts:
    """What the region aggregate needs from one county and replication (picklable, compact).

    Its lead times are tallies (:class:`~sim.kpi.survival.Tally`: the distinct float32
    values, sign bit set where censored, and their counts), exact and a few hundred kB for a
    county-year: ``lead`` for the inbound cohort, ``out_lead`` for outbound parcels that did
    not spoil. Everything else is a count, a sum or a per-unit array.

    Attributes
    ----------
    county_code
        The county.
    values
        The county's own KPI values (from full precision), which are the region's when the
        region is this one county.
    v_cov, t_cov, c_cov, population
        Coverage of each village, township and the county; villages' population.
    lead, lead_max_h
        Tally of the cohort's lead times; the longest lead time of a parcel that reached its
        point.
    n_same_day, n_next_day, n_later
        Cohort parcels that reached their point on the day they arrived, the day after, or
        later or not at all.
    n_on_time, n_determined
        Parcels that reached their point within ``limit_h``; parcels whose on-time status is
        known (reached, or waited longer than ``limit_h``).
    states
        Cohort rows (inbound and outbound) per final state of :data:`FINAL_STATES`.
    queue
        The centre backlog of :func:`~sim.kpi.backlog.centre_queue`, its grid as int32.
    out_lead
        Tally of the outbound lead times (packed to trunk), spoiled parcels left out.
    """

    county_code: str
    values: dict[str, float]
    v_cov: np.ndarray
    t_cov: np.ndarray
    c_cov: bool
    population: np.ndarray
    lead: survival.Tally
    lead_max_h: float
    n_same_day: int
    n_next_day: int
    n_later: int
    n_on_time: int
    n_determined: int
    states: np.ndarray
    queue: dict
    km: float
    hours: float
    costs: Costs
    uneconomic: int
    subsidy_per_day: float
    arrived: int
    overflows: int
    out_created: int
    out_shipped: int
    out_spoiled: int
    out_lead: survival.Tally
    locker_busy_min: float
    locker_capacity_min: float
    n_sorted: int
    capacity: float
    overtime_h: float
    loops_not_driven: int
    limit_h: float


def county_block(
    c: County,
    parcels: pd.DataFrame,
    trips: pd.DataFrame,
    skipped: pd.DataFrame,
    end: float,
    *,
    scopes: Collection[str] | None = None,
) -> tuple[pd.DataFrame, Parts]:
    """KPI rows of one county and replication, and the parts its region aggregate needs.

    Parameters
    ----------
    c
        The county.
    parcels, trips, skipped
        Its rows of one replication in the parcel, trip and skipped-loop tables.
    end
        Minute its run stopped (:meth:`~sim.engine.Results.end_of`).
    scopes
        Which of "county", "township" and "village" rows to return (others are ignored);
        None for all. The values of a scope do not depend on which others are asked for.

    Returns
    -------
    rows : pandas.DataFrame
        Columns scope, code, name, kpi, value: villages, then townships, then the county.
    parts : Parts
        For :func:`sim.kpi.region.region_rows`, also when no county row was asked for.
    """
    rows, parts, _ = county_block_coverage(c, parcels, trips, skipped, end, scopes=scopes)
    return rows, parts


def county_block_coverage(
    c: County,
    parcels: pd.DataFrame,
    trips: pd.DataFrame,
    skipped: pd.DataFrame,
    end: float,
    *,
    scopes: Collection[str] | None = None,
    coverage: bool = False,
) -> tuple[pd.DataFrame, Parts, pd.DataFrame | None]:
    """:func:`county_block`, and with ``coverage`` the county's coverage rows of this one
    replication from the same cohort and assessment: for a run of one replication they are
    :func:`sim.kpi.coverage.county_coverage`'s rows, without a second pass."""
    want = set(SCOPES if scopes is None else scopes)
    sc = c.scenario
    start, w_end = window(sc)
    inbound = parcels["direction"].cat.codes.to_numpy() == 0
    p, out = _rows(parcels, inbound), _rows(parcels, ~inbound)
    rep = int(parcels["replication"].to_numpy()[0]) if len(parcels) else 0
    cohort = inbound_cohort(c, p, {rep: end})
    a = assess(c, cohort, trips, 1)
    costs = county_costs(c, trips, p)
    econ = village_economics(c, costs)
    lead_day = np.where(cohort.reached, cohort.day_reached - cohort.day_created, 99)
    lead, reached, limit = cohort.lead_h, cohort.reached, sc.kpi.max_lead_time_h
    outbound = _outbound_parts(c, out, end)
    fields: dict[str, Any] = {
        "county_code": c.county_code,
        "v_cov": a.v_cov,
        "t_cov": a.t_cov,
        "c_cov": a.c_cov,
        "population": c.village_population,
        "lead": survival.Tally.of(survival.encode(lead, reached)),
        "lead_max_h": float(lead[reached].max()) if reached.any() else np.nan,
        "n_same_day": int(np.sum(lead_day == 0)),
        "n_next_day": int(np.sum(lead_day == 1)),
        "n_later": int(np.sum(lead_day >= 2)),
        "n_on_time": int(np.sum(reached & (lead <= limit))),
        "n_determined": int(np.sum(reached | (lead >= limit))),
        "states": _state_counts(parcels["final_state"], in_window(c, parcels)),
        "queue": _compact_queue(centre_queue(parcels, start, w_end, end)),
        "costs": costs,
        "uneconomic": int(econ["uneconomic"].sum()),
        "subsidy_per_day": float(econ["subsidy_yuan_per_day"].sum()),
        "arrived": _in_window(p["t_point"].to_numpy(), start, w_end),
        "overflows": int(p["locker_overflows"].to_numpy()[in_window(c, p)].sum()),
        **_trip_parts(c, trips, skipped),
        **_locker_use(c, p, start, w_end),
        **_sorter_parts(c, p),
        "limit_h": limit,
    }
    out_lead, out_reached = outbound.pop("lead_h"), outbound.pop("reached")
    fields.update(outbound, out_lead=survival.Tally.of(survival.encode(out_lead, out_reached)))
    (out_p50, out_p95), _ = survival.summary(out_lead, out_reached, (0.5, 0.95))
    staged = Parts(values={}, **fields)
    values = aggregate([staged], (a.c_p50_h, a.c_p95_h, a.c_mean_h), (out_p50, out_p95))
    parts = Parts(values=values, **fields)
    frames = _unit_rows(c, a, econ, want)
    if "county" in want:
        frames.append(_frame("county", c.county_code, c.county_name, values))
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    cov = pd.DataFrame(coverage_rows(c, a), columns=COVERAGE_COLUMNS) if coverage else None
    return rows, parts, cov


def _rows(df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``df[mask]``, without copying when the rows are all, none or one contiguous run."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0 or idx[-1] - idx[0] + 1 == len(idx):
        return df.iloc[idx[0] : idx[-1] + 1] if len(idx) else df.iloc[:0]
    return df[mask]


def _frame(scope: str, code: str, name: str, values: dict[str, float]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "scope": [scope] * n,
            "code": [code] * n,
            "name": [name] * n,
            "kpi": list(values),
            "value": np.array(list(values.values()), dtype=float),
        }
    )


def _in_window(t: np.ndarray, start: float, end: float) -> int:
    """How many times fall in [start, end)."""
    return int(np.sum((t >= start) & (t < end)))


def _state_counts(state: pd.Series, rows: np.ndarray) -> np.ndarray:
    """How many of the selected rows end in each state of :data:`FINAL_STATES`."""
    mapping = pd.Index(FINAL_STATES).get_indexer(state.cat.categories)
    codes = mapping[state.cat.codes.to_numpy()[rows]]
    return np.bincount(codes.astype(np.int64), minlength=len(FINAL_STATES))


def _compact_queue(queue: dict) -> dict:
    """The centre queue with its minute grid stored as int32."""
    return {**queue, "grid": np.asarray(queue["grid"]).astype(np.int32)}


def _unit_rows(c: County, a: Assessment, econ: pd.DataFrame, want: set[str]) -> list[pd.DataFrame]:
    """Village and township rows, each unit's KPIs in a fixed order."""
    frames = []
    if "village" in want and c.n_villages:
        values = np.column_stack(
            [
                a.v_cov.astype(float),
                a.visits,
                a.min_visits,
                a.v_p95_h,
                a.v_created,
                econ["cost_per_parcel_yuan"].to_numpy(dtype=float),
                econ["subsidy_yuan_per_day"].to_numpy(dtype=float),
            ]
        )
        frames.append(_units("village", c.village_codes, c.village_names, _VILLAGE_KPIS, values))
    if "township" in want and c.n_townships:
        values = np.column_stack(
            [a.t_cov.astype(float), a.served_days, a.t_p95_h, a.t_created]
        )  # fmt: skip
        frames.append(
            _units("township", c.township_codes, c.township_names, _TOWNSHIP_KPIS, values)
        )
    return frames


def _units(
    scope: str, codes: np.ndarray, names: np.ndarray, kpis: tuple[str, ...], values: np.ndarray
) -> pd.DataFrame:
    """Long rows of a (unit x KPI) value matrix, unit by unit."""
    k = len(kpis)
    return pd.DataFrame(
        {
            "scope": [scope] * (len(codes) * k),
            "code": [str(x) for x in codes for _ in kpis],
            "name": [str(x) for x in names for _ in kpis],
            "kpi": list(kpis) * len(codes),
            "value": values.astype(float).ravel(),
        }
    )


def _trip_parts(c: County, trips: pd.DataFrame, skipped: pd.DataFrame) -> dict[str, Any]:
    """Km, hours and overtime of the window's legs (buses excluded), loops not driven."""
    start, end = window(c.scenario)
    dep = trips["depart"].to_numpy()
    legs = (dep >= start) & (dep < end) & (trips["kind"] != "bus").to_numpy()
    arrive, stop = trips["arrive"].to_numpy()[legs], trips["stop_min"].to_numpy()[legs]
    hours = (arrive - dep[legs] + stop) / 60.0
    return {
        "km": float(trips["km"].to_numpy()[legs].sum()),
        "hours": float(hours.sum()),
        "overtime_h": _overtime_h(c, trips),
        "loops_not_driven": _in_window(skipped["day"].to_numpy() * DAY_MIN, start, end),
    }


def _sorter_parts(c: County, p: pd.DataFrame) -> dict[str, Any]:
    """Parcels sorted in the window and the sorter's capacity over the window."""
    sc = c.scenario
    start, end = window(sc)
    shift_h = sum(b - a for a, b in sorting_shifts(sc)) / 60.0
    per_hour = sc.facilities.county_centre.sorting_capacity_per_hour
    return {
        "n_sorted": _in_window(p["t_sorted"].to_numpy(), start, end),
        "capacity": per_hour * shift_h * (end - start) / DAY_MIN,
    }


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a (categorical or text) column, and the values they stand for."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64), pd.Index(uniques)


def _overtime_h(c: County, trips: pd.DataFrame) -> float:
    """Hours vehicles were still out after their shift end, over the window's vehicle-days.

    A vehicle-day is the runs leaving on that day; it ends with the last arrival of its legs
    and is compared with the shift end of the vehicle's type.
    """
    start, end = window(c.scenario)
    legs = (trips["kind"] != "bus").to_numpy()
    if not legs.any():
        return 0.0
    run_dep = run_starts(trips, legs)
    keep = (run_dep >= start) & (run_dep < end)
    types = c.scenario.fleet.vehicle_types
    vehicle, _ = _codes(trips["vehicle"])
    vtype, type_names = _codes(trips["type"])
    # (bus types have no shift here: their legs are left out)
    shift_end = np.array(
        [clock_minutes(types[x].shift.end) if x in types else np.nan for x in map(str, type_names)]
    )
    day = (run_dep[keep] // DAY_MIN).astype(np.int64)
    arrive = trips["arrive"].to_numpy()[legs][keep]
    if len(day) == 0:
        return 0.0
    key = vehicle[legs][keep] * (int(day.max()) + 1) + day
    order = np.argsort(key, kind="stable")
    k = key[order]
    first = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    last_arrive = np.maximum.reduceat(arrive[order], first)
    limit = day[order][first] * DAY_MIN + shift_end[vtype[legs][keep][order][first]]
    return float(np.clip(last_arrive - limit, 0.0, None).sum() / 60.0)


def _outbound_parts(c: County, out: pd.DataFrame, end: float) -> dict[str, Any]:
    """Outbound cohort: counts and lead times from packed at the village to the trunk."""
    mine = in_window(c, out)
    trunk = out["t_trunk"].to_numpy()[mine]
    state = _state_counts(out["final_state"], mine)
    codes = pd.Index(FINAL_STATES).get_indexer(out["final_state"].cat.categories)
    spoiled = codes[out["final_state"].cat.codes.to_numpy()[mine]] == FINAL_STATES.index("spoiled")
    created = out["t_created"].to_numpy()[mine]
    shipped = ~np.isnan(trunk)
    # Spoiled parcels never reach the trunk: they leave the lead-time sample.
    return {
        "out_created": int(np.sum(mine)),
        "out_shipped": int(state[FINAL_STATES.index("delivered")]),
        "out_spoiled": int(np.sum(spoiled)),
        "lead_h": (np.where(shipped, trunk, end) - created)[~spoiled] / 60.0,
        "reached": shipped[~spoiled],
    }


def _locker_use(c: County, p: pd.DataFrame, start: float, end: float) -> dict[str, float]:
    """Parcel-minutes spent in lockers during the window, and the lockers' capacity-minutes."""
    locker = POINT_KINDS.index("locker")
    n_lockers = int(np.sum(c.village_has_point & (c.village_kind == locker)))
    cap = n_lockers * c.scenario.facilities.village_points.locker_capacity_parcels * (end - start)
    if n_lockers == 0 or len(p) == 0:
        return {"locker_busy_min": 0.0, "locker_capacity_min": float(cap)}
    at = cast("np.ndarray", (p["point_kind"] == "locker").to_numpy())
    t_in = p["t_point"].to_numpy()[at]
    t_out = np.fmin(p["t_picked_up"].to_numpy()[at], p["t_returned"].to_numpy()[at])
    t_out = np.where(np.isnan(t_out), end, t_out)
    busy = np.clip(np.minimum(t_out, end) - np.maximum(t_in, start), 0, None)
    return {"locker_busy_min": float(np.nansum(busy)), "locker_capacity_min": float(cap)}
