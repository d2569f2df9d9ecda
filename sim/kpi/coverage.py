"""Policy coverage of every unit, with a machine-readable reason when it is not covered.

- 村村通快递, a village: it has a point, a loop (or bus) leaving on at least
  ``kpi.min_visits_per_week`` days of every week of the window reaches it, and its cohort's
  95th-percentile lead time is within ``kpi.max_lead_time_h``.
- 乡乡有网点, a township: its point gets a shuttle on every day of the window, and its
  cohort's 95th-percentile time from the county centre to the point is within
  ``kpi.max_township_lead_h``.
- 县县有分拨, a county: its centre sorts each day's arrivals within the day (95th-percentile
  sort wait within ``kpi.max_sort_wait_h``) and every township is covered.

Reasons: ``no_point``, ``no_visits`` (a point no vehicle serves: parcels wait at the township
point), ``too_few_visits``, ``lead_time_too_long`` (with the stage where the unit's parcels
waited longest: sorting, shuttle, township_point or loop), ``shuttle_not_daily``,
``sorting_too_slow``, ``townships_not_covered``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.kpi import survival
from sim.kpi.cohort import STAGES, Cohort, inbound_cohort, shuttle_days, weekly_visits
from sim.measure import window_days
from sim.world import County


@dataclass(frozen=True)
class Assessment:
    """Coverage of a county's units over one or more replications (pooled).

    Per village: ``v_cov``, ``v_reason``, ``v_stage``, ``visits`` (mean per week),
    ``min_visits`` (worst week), ``v_p95_h``, ``v_created`` (cohort parcels per
    replication). Per township: ``t_cov``, ``t_reason``, ``t_stage``, ``served_days``,
    ``t_p95_h``, ``t_created``. The county: ``c_cov``, ``c_reason``, ``c_stage``,
    ``sort_p95_h``, and the Kaplan–Meier ``c_p50_h``, ``c_p95_h`` and restricted mean
    ``c_mean_h`` of the lead time of the whole cohort.
    """

    v_cov: np.ndarray
    v_reason: np.ndarray
    v_stage: np.ndarray
    visits: np.ndarray
    min_visits: np.ndarray
    v_p95_h: np.ndarray
    v_created: np.ndarray
    t_cov: np.ndarray
    t_reason: np.ndarray
    t_stage: np.ndarray
    served_days: np.ndarray
    t_p95_h: np.ndarray
    t_created: np.ndarray
    c_cov: bool
    c_reason: str
    c_stage: str
    sort_p95_h: float
    c_p50_h: float
    c_p95_h: float
    c_mean_h: float


def _worst_stage(totals: np.ndarray) -> np.ndarray:
    """Per unit (row of its parcel-hours per stage), the stage with the most parcel-hours."""
    return np.array(STAGES[: totals.shape[1]], dtype=object)[np.argmax(totals, axis=1)]


def assess(c: County, cohort: Cohort, trips: pd.DataFrame, n_rep: int) -> Assessment:
    """Decide the coverage of every village, township and the county (see the module notes)."""
    k = c.scenario.kpi
    n_v, n_t = c.n_villages, c.n_townships
    visits, min_visits = weekly_visits(c, trips)
    # One sort of the lead times serves the villages' p95 and the county's summary.
    by_lead = survival.time_order(cohort.lead_h, cohort.reached)
    v_order = survival.group_order(cohort.village, by_lead)
    lead, reached = cohort.lead_h, cohort.reached
    v_p95 = survival.group_quantile(
        cohort.village, lead, reached, n_v, 0.95, cohort.weight, order=v_order
    )
    v_created = np.bincount(cohort.village, minlength=n_v) / n_rep
    slow = (v_created > 0) & ~(v_p95 <= k.max_lead_time_h)
    v_reason = np.full(n_v, "covered", dtype=object)
    v_reason[slow] = "lead_time_too_long"
    v_reason[min_visits < k.min_visits_per_week] = "too_few_visits"
    v_reason[~c.village_served] = "no_visits"
    v_reason[~c.village_has_point] = "no_point"
    v_stage = np.where(v_reason == "lead_time_too_long", _worst_stage(cohort.village_stage_h), "")

    served = shuttle_days(c, trips)
    t_p95 = survival.group_quantile(
        cohort.township, cohort.town_h, cohort.at_town, n_t, 0.95, cohort.weight
    )
    t_created = np.bincount(cohort.township, minlength=n_t) / n_rep
    t_reason = np.full(n_t, "covered", dtype=object)
    t_reason[(t_created > 0) & ~(t_p95 <= k.max_township_lead_h)] = "lead_time_too_long"
    t_reason[served < window_days(c.scenario)] = "shuttle_not_daily"
    t_stage = np.where(t_reason == "covered", "", _worst_stage(cohort.township_stage_h))

    sort_p95 = survival.quantile(cohort.sort_h, cohort.sorted, 0.95) if len(cohort) else np.nan
    c_reason, c_stage = "covered", ""
    if (t_reason != "covered").any():
        c_reason = "townships_not_covered"
        c_stage = str(_worst_stage(cohort.county_stage_h[None, :])[0])
    if len(cohort) and not sort_p95 <= k.max_sort_wait_h:
        c_reason, c_stage = "sorting_too_slow", "sorting"
    (c_p50, c_p95), c_mean = survival.summary(lead, reached, (0.5, 0.95), order=by_lead)
    return Assessment(
        v_cov=v_reason == "covered",
        v_reason=v_reason,
        v_stage=v_stage,
        visits=visits,
        min_visits=min_visits,
        v_p95_h=v_p95,
        v_created=v_created,
        t_cov=t_reason == "covered",
        t_reason=t_reason,
        t_stage=t_stage,
        served_days=served,
        t_p95_h=t_p95,
        t_created=t_created,
        c_cov=c_reason == "covered",
        c_reason=c_reason,
        c_stage=c_stage,
        sort_p95_h=sort_p95,
        c_p50_h=c_p50,
        c_p95_h=c_p95,
        c_mean_h=c_mean,
    )


def _village_why(c: County, a: Assessment, i: int) -> str:
    k = c.scenario.kpi
    reason = a.v_reason[i]
    if reason == "no_point":
        km = c.village_township_km[i]
        tag = "reachable" if km <= k.reachable_km else "not reachable"
        return f"no service point; township point {km:.1f} km away ({tag})"
    if reason == "no_visits":
        return "no village vehicle visits it; parcels wait at the township point"
    if reason == "too_few_visits":
        return f"{a.min_visits[i]:.1f} visits in its worst week < {k.min_visits_per_week:g}"
    if reason == "lead_time_too_long":
        return _lead_why(a.v_p95_h[i], k.max_lead_time_h, a.v_stage[i])
    return "covered"


def _lead_why(p95: float, limit: float, stage: str) -> str:
    if np.isnan(p95):
        return f"p95 lead unknown (too many parcels still on the way), waits longest at {stage}"
    miss = f"p95 lead {p95:.1f} h > {limit:g} h, misses by {p95 - limit:.1f} h"
    return f"{miss}; waits longest at {stage}"


def coverage_rows(c: County, a: Assessment) -> list[tuple]:
    """Rows of the coverage table for a county's villages, townships and the county."""
    k = c.scenario.kpi
    rows = []
    for i in range(c.n_villages):
        rows.append(
            (
                "village", c.village_codes[i], c.village_names[i], bool(a.v_cov[i]),
                a.v_reason[i], a.v_stage[i], a.visits[i], a.v_p95_h[i], _village_why(c, a, i),
            )
        )  # fmt: skip
    days = window_days(c.scenario)
    for i in range(c.n_townships):
        reason = a.t_reason[i]
        why = "covered"
        if reason == "shuttle_not_daily":
            why = f"shuttle on {a.served_days[i]:g} of {days} days"
        elif reason == "lead_time_too_long":
            why = _lead_why(a.t_p95_h[i], k.max_township_lead_h, a.t_stage[i])
        rows.append(
            (
                "township", c.township_codes[i], c.township_names[i], bool(a.t_cov[i]), reason,
                a.t_stage[i], a.served_days[i] * 7 / days, a.t_p95_h[i], why,
            )
        )  # fmt: skip
    why = "covered"
    if a.c_reason == "sorting_too_slow":
        why = f"p95 sort wait {a.sort_p95_h:.1f} h > {k.max_sort_wait_h:g} h"
    elif a.c_reason == "townships_not_covered":
        n_bad = int(np.sum(~a.t_cov))
        why = f"{n_bad} of {c.n_townships} townships not covered; waits longest at {a.c_stage}"
    rows.append(
        (
            "county", c.county_code, c.county_name, a.c_cov, a.c_reason, a.c_stage, np.nan,
            a.c_p95_h, why,
        )
    )  # fmt: skip
    return rows


COVERAGE_COLUMNS = [
    "level",
    "code",
    "name",
    "covered",
    "reason",
    "stage",
    "visits_per_week",
    "p95_lead_h",
    "why",
]


def county_coverage(
    c: County, parcels: pd.DataFrame, trips: pd.DataFrame, ends: Mapping[int, float]
) -> pd.DataFrame:
    """Coverage rows of one county, its replications pooled (used by ``coverage_table``).

    Parameters
    ----------
    c
        The county.
    parcels
        The county's parcel rows of all replications (outbound rows are left out).
    trips
        The county's vehicle legs of all replications.
    ends
        Replication -> minute its run of the county stopped, one entry per replication
        (their number divides the per-replication counts).

    Returns
    -------
    pandas.DataFrame
        Its villages, townships and the county, in the columns of :data:`COVERAGE_COLUMNS`.
    """
    cohort = inbound_cohort(c, parcels, dict(ends))
    rows = coverage_rows(c, assess(c, cohort, trips, len(ends)))
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
