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

Streaming: :func:`compute_kpis` is built from two functions that a pipeline computing one
(county, replication) at a time calls directly. :func:`county_block` gives the rows of one
county and replication and its :class:`Parts` (compact, picklable: about 4 bytes per cohort
parcel); :func:`region_rows` gives the province and carrier rows from the parts of all
counties. Likewise :func:`coverage_table` is one :func:`county_coverage` per county, over
that county's parcels of all replications::

    parts_by_rep = {}
    for r, county, parcels, trips, skipped, end in blocks:  # one at a time
        rows, parts = county_block(county, parcels, trips, skipped, end, scopes={"county"})
        parts_by_rep.setdefault(r, []).append(parts)
    province = region_rows(parts_by_rep, [c.name for c in scenario.carriers])

A region of several counties takes its lead-time percentiles and means from the parts'
float32 lead times (differences of float32 rounding only); all else, and every county,
township and village value, is computed in full precision.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np
import pandas as pd

from sim.engine import Results
from sim.kpi._blocks import blocks, county_blocks
from sim.kpi.coverage import COVERAGE_COLUMNS, county_coverage
from sim.kpi.region import PROVINCE, region_rows
from sim.kpi.tables import COLUMNS, SCOPES, Parts, county_block

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

#: Every KPI of the province scope (and of each county), by name: what a sweep's outputs or an
#: optimise file's target and objective may name (tests check it against a run's table).
REGION_KPIS = (
    "backlog_county_centre",
    "backlog_county_centre_max",
    "backlog_county_centre_outbound",
    "backlog_county_centre_sorted",
    "backlog_county_centre_unsorted",
    "bus_parcels",
    "co2_kg",
    "cost_bus_yuan",
    "cost_driver_yuan",
    "cost_fixed_yuan",
    "cost_per_parcel_shuttle_yuan",
    "cost_per_parcel_village_yuan",
    "cost_per_parcel_yuan",
    "cost_shuttle_yuan",
    "cost_village_yuan",
    "cost_yuan",
    "county_hub_coverage",
    "lead_later_share",
    "lead_next_day_share",
    "lead_same_day_share",
    "lead_time_max_h",
    "lead_time_mean_h",
    "lead_time_p50_h",
    "lead_time_p95_h",
    "lead_unresolved_share",
    "locker_overflows",
    "locker_utilisation",
    "loops_not_driven",
    "on_time_rate",
    "outbound_lead_time_p50_h",
    "outbound_lead_time_p95_h",
    "outbound_parcels_created",
    "outbound_parcels_shipped",
    "overtime_h",
    "parcels_created",
    "parcels_delivered",
    "parcels_failed",
    "parcels_in_system",
    "parcels_spoiled",
    "sorter_utilisation",
    "spoilage_rate",
    "subsidy_needed_yuan_per_day",
    "township_point_coverage",
    "uneconomic_villages",
    "vehicle_days",
    "vehicle_hours",
    "vehicle_km",
    "village_express_coverage",
    "village_express_coverage_pop",
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

__all__ = [
    "PROVINCE",
    "REGION_KPIS",
    "SCOPES",
    "SUMMARY_KPIS",
    "Parts",
    "compute_kpis",
    "county_block",
    "county_coverage",
    "coverage_table",
    "format_value",
    "kpi_table",
    "region_rows",
    "summarize",
]


def format_value(x: float) -> str:
    """A KPI value for a terminal table: thousands with separators, else 3 significant digits."""
    if math.isnan(x):
        return "nan"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def compute_kpis(results: Results, *, scopes: Collection[str] | None = None) -> pd.DataFrame:
    """Compute every KPI of every replication.

    Each (county, replication) is one :func:`county_block`; the province and carrier rows
    are :func:`region_rows` of their parts, as a streaming pipeline would compute them.

    Parameters
    ----------
    results
        The tables of a run.
    scopes
        Which scopes to compute, of :data:`SCOPES` ("province", "carrier", "county",
        "township", "village"); None for all. Leaving out the township and village rows
        saves most of the time of a large region; the values of the scopes computed do not
        depend on which others are.

    Returns
    -------
    pandas.DataFrame
        Long format: replication, scope (province | carrier | county | township | village),
        code, name, kpi, value.
    """
    want = set(SCOPES if scopes is None else scopes)
    unknown = want - set(SCOPES)
    if unknown:
        raise ValueError(f"scopes: unknown {sorted(unknown)}; valid are {', '.join(SCOPES)}")
    frames = []
    by_rep: dict[int, list[Parts]] = {}
    for r, county, p, t, skipped in blocks(results):
        end = results.end_of(r, county.county_code)
        rows, parts = county_block(county, p, t, skipped, end, scopes=want)
        frames.append(rows.assign(replication=r))
        by_rep.setdefault(r, []).append(parts)
    names = [c.name for c in results.world.scenario.carriers]
    return kpi_table(frames, by_rep, names, scopes=want)


def kpi_table(
    county_rows: list[pd.DataFrame],
    parts_by_rep: dict[int, list[Parts]],
    carrier_names: list[str],
    *,
    scopes: Collection[str] | None = None,
) -> pd.DataFrame:
    """The KPI table of a run from its (county, replication) blocks, in any block order.

    ``county_rows`` are the blocks' :func:`county_block` rows with their ``replication``
    column; ``parts_by_rep`` their parts per replication in county order. Rows come out by
    replication, then scope (province, carrier, county, township, village), the blocks'
    order kept within a scope (:func:`compute_kpis`; the streamed run uses it too).
    """
    frames = [*county_rows, region_rows(parts_by_rep, carrier_names, scopes=scopes)]
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    if out.empty:
        out = pd.DataFrame(columns=["replication", *COLUMNS])
    scope_order = {s: i for i, s in enumerate(SCOPES)}
    out = out.sort_values(
        ["replication", "scope"],
        key=lambda s: s.map(scope_order) if s.name == "scope" else s,
        kind="stable",
    )
    return out[["replication", *COLUMNS]].reset_index(drop=True)


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

    Each county is one :func:`county_coverage` of its parcels of all replications.

    Returns
    -------
    pandas.DataFrame
        level, code, name, covered, reason (machine-readable, see :mod:`sim.kpi.coverage`),
        stage (where the unit's parcels waited longest, for lead-time reasons),
        visits_per_week, p95_lead_h, why (the same in words, with the margin).
    """
    frames = []
    for county, p, t in county_blocks(results):
        reps = sorted(set(p["replication"].unique()) | set(t["replication"].unique())) or [0]
        ends = {int(r): results.end_of(int(r), county.county_code) for r in reps}
        frames.append(county_coverage(county, p, t, ends))
    if not frames:
        return pd.DataFrame(columns=COVERAGE_COLUMNS)
    return pd.concat(frames, ignore_index=True)
