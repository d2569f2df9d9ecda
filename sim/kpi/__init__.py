"""KPIs: pure functions from a run's tables to KPI tables.

The measurement design (:mod:`sim.measure`): parcel KPIs are over the cohort of parcels created
in the measurement window, followed through the drain to their outcome; lead-time percentiles
use the Kaplan–Meier estimate so that a parcel still on its way never counts as an outcome
(:mod:`sim.kpi.survival`), and the unresolved share is reported. Costs, km, hours and resource
use are those of the window. Coverage of every unit follows the policy definitions, with a
reason and a stage where it falls short (:mod:`sim.kpi.coverage`).

KPIs are computed per county (with village and township rows) and for the province, which
aggregates the counties of the run: coverage shares over all their units, lead-time
percentiles over all their parcels, sums of counts, km and cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import cast

import numpy as np
import pandas as pd

from sim.engine import Results
from sim.kpi.cohort import inbound_cohort
from sim.kpi.coverage import COVERAGE_COLUMNS, assess, coverage_rows
from sim.kpi.tables import Parts, aggregate, carrier_rows, county_kpis
from sim.world import County

#: Summary KPIs reported for the province and each county (DESIGN.md, "Run folder").
SUMMARY_KPIS = (
    "county_hub_coverage",
    "township_point_coverage",
    "village_express_coverage",
    "lead_time_p50_h",
    "lead_time_p95_h",
    "lead_time_mean_h",
    "lead_same_day_share",
    "lead_next_day_share",
    "lead_later_share",
    "lead_unresolved_share",
    "on_time_rate",
    "parcels_created",
    "parcels_delivered",
    "parcels_in_system",
    "parcels_spoiled",
    "parcels_failed",
    "backlog_county_centre",
    "vehicle_km",
    "overtime_h",
    "cost_per_parcel_yuan",
)

#: KPIs that count things: written as integers when every value is whole.
COUNT_KPIS = (
    "parcels_created",
    "parcels_delivered",
    "parcels_in_system",
    "parcels_spoiled",
    "parcels_failed",
    "bus_parcels",
    "locker_overflows",
    "outbound_parcels_created",
    "outbound_parcels_shipped",
    "uneconomic_villages",
    "loops_not_driven",
    "parcels_reached_point",
)

PROVINCE = ("14", "山西省")
_COLUMNS = ["scope", "code", "name", "kpi", "value"]

__all__ = [
    "PROVINCE",
    "SUMMARY_KPIS",
    "compute_kpis",
    "coverage_table",
    "format_value",
    "summarize",
]


def format_value(x: float) -> str:
    """A KPI value for a terminal table: thousands with separators, else 3 significant digits."""
    if math.isnan(x):
        return "nan"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def compute_kpis(results: Results) -> pd.DataFrame:
    """Compute every KPI of every replication.

    Parameters
    ----------
    results
        The tables of a run.

    Returns
    -------
    pandas.DataFrame
        Long format: replication, scope (province | carrier | county | township | village),
        code, name, kpi, value.
    """
    frames = []
    by_rep: dict[int, list[Parts]] = {}
    county_values: dict[int, dict[str, float]] = {}
    for r, county, p, t, skipped in _blocks(results):
        end = results.end_of(r, county.county_code)
        rows, county_parts = county_kpis(county, p, t, skipped, end)
        frames.append(pd.DataFrame(rows, columns=_COLUMNS).assign(replication=r))
        by_rep.setdefault(r, []).append(county_parts)
        county_values[r] = {k: v for scope, _, _, k, v in rows if scope == "county"}
    names = [c.name for c in results.world.scenario.carriers]
    for r, parts in by_rep.items():
        # A region of one county: its KPIs are the county's (no need to aggregate again).
        values = county_values[r] if len(parts) == 1 else aggregate(parts)
        rows = [("province", *PROVINCE, k, v) for k, v in values.items()]
        rows += carrier_rows(parts, names)
        frames.append(pd.DataFrame(rows, columns=_COLUMNS).assign(replication=r))
    out = pd.concat(frames, ignore_index=True)
    scope_order = {"province": 0, "carrier": 1, "county": 2, "township": 3, "village": 4}
    out = out.sort_values(
        ["replication", "scope"],
        key=lambda s: s.map(scope_order) if s.name == "scope" else s,
        kind="stable",
    )
    return out[["replication", *_COLUMNS]].reset_index(drop=True)


def summarize(kpis: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% confidence interval (Student t) of each KPI over replications.

    With a single replication the interval is undefined (NaN).
    """
    from scipy import stats  # here, not at the top: scipy.stats takes most of a second

    g = kpis.groupby(["scope", "code", "name", "kpi"], sort=False)["value"]
    out = g.agg(n="count", mean="mean", sd="std").reset_index()
    half = stats.t.ppf(0.975, np.maximum(out["n"] - 1, 1)) * out["sd"] / np.sqrt(out["n"])
    half = half.where(out["n"] > 1)
    out["ci95_low"] = out["mean"] - half
    out["ci95_high"] = out["mean"] + half
    return out.drop(columns="sd")


def coverage_table(results: Results) -> pd.DataFrame:
    """Coverage of every unit, pooled over replications, with the reason when not covered.

    Returns
    -------
    pandas.DataFrame
        level, code, name, covered, reason (machine-readable, see :mod:`sim.kpi.coverage`),
        stage (where the unit's parcels waited longest, for lead-time reasons),
        visits_per_week, p95_lead_h, why (the same in words, with the margin).
    """
    rows = []
    for county, p_all, t in _county_blocks(results):
        p = p_all[p_all["direction"].cat.codes.to_numpy() == 0]
        reps = sorted(set(p["replication"].unique()) | set(t["replication"].unique())) or [0]
        ends = {int(r): results.end_of(int(r), county.county_code) for r in reps}
        cohort = inbound_cohort(county, p, ends)
        rows += coverage_rows(county, assess(county, cohort, t, len(reps)))
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def _blocks(
    results: Results,
) -> Iterator[tuple[int, County, pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """(replication, county, its parcels, trips and skipped loops) for every block of a run."""
    w = results.world
    trips = dict(iter(results.trips.groupby(["replication", "county_code"], sort=False)))
    skipped_all = results.skipped if results.skipped is not None else _NO_SKIPS
    skipped = dict(iter(skipped_all.groupby(["replication", "county_code"], sort=False)))
    empty = results.trips.iloc[:0]
    keys = results.parcels["county_code"].cat.codes
    seen = set()
    for (r, ci), p in results.parcels.groupby([results.parcels["replication"], keys], sort=True):
        county = w.counties[int(cast(int, ci))]
        key = (int(cast(int, r)), county.county_code)
        seen.add(key)
        yield key[0], county, p, trips.get(key, empty), skipped.get(key, _NO_SKIPS)
    # Counties without any parcel still have KPIs (zero demand).
    for r in sorted(results.trips["replication"].unique()):
        for county in w.counties:
            key = (int(r), county.county_code)
            if key not in seen:
                p0 = results.parcels.iloc[:0]
                yield key[0], county, p0, trips.get(key, empty), skipped.get(key, _NO_SKIPS)


_NO_SKIPS = pd.DataFrame(
    {
        "replication": pd.Series([], dtype=np.int32),
        "county_code": pd.Series([], dtype=object),
        "vehicle": pd.Series([], dtype=object),
        "day": pd.Series([], dtype=np.int64),
        "villages": pd.Series([], dtype=np.int64),
        "planned_min": pd.Series([], dtype=float),
    }
)


def _county_blocks(results: Results) -> Iterator[tuple[County, pd.DataFrame, pd.DataFrame]]:
    """(county, its parcels, its trips) over all replications pooled."""
    w = results.world
    keys = results.parcels["county_code"].cat.codes.to_numpy()
    tkeys = results.trips["county_code"].to_numpy()
    for ci, county in enumerate(w.counties):
        yield (
            county,
            results.parcels[keys == ci],
            results.trips[tkeys == county.county_code],
        )
