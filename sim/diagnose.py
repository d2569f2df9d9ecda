"""Why a run falls short: plain sentences from its KPI summary and coverage table.

A planner reading "p95 lead 282.5 h > 48 h" learns that something is wrong, not what. The
functions here read the same tables every run folder holds (``kpis_summary.csv``,
``coverage.csv``) and name, in the order parcels meet them, the tiers that held parcels up
(sorting, shuttles, village loops, lockers), how much, and the scenario field to change; then
how many units miss each policy standard and why, and how many villages miss the lead-time
standard only narrowly. ``ruralsim run`` prints them under the headline KPIs and the report
shows them; nothing here changes a KPI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

#: A tier is called short when this share of a day's parcels waits there on average.
_BACKLOG_SHARE = 0.25
#: A village "narrowly" misses the lead-time standard within this many hours.
_NEAR_MISS_H = 1.0
#: Plain words for the coverage reasons of villages and townships.
_REASON_WORDS = {
    "no_point": "have no point of their own",
    "no_visits": "have a point that no vehicle visits",
    "too_few_visits": "are visited on too few days a week",
    "lead_time_too_long": "have a 95th-percentile lead time over the standard",
    "shuttle_not_daily": "do not get a shuttle every day",
    "sorting_too_slow": "sort too slowly",
    "townships_not_covered": "have townships not covered",
}
#: Where a unit's parcels waited longest, in words.
_STAGE_WORDS = {
    "sorting": "for sorting at the county centre",
    "shuttle": "for a shuttle at the county centre",
    "township_point": "at the township point for a village loop",
    "loop": "on the village loop",
    "pickup": "at the village point for pickup",
}


def explain(
    summary: pd.DataFrame,
    coverage: pd.DataFrame,
    *,
    days: int,
    max_lead_h: float = 48.0,
    limit: int = 5,
) -> list[str]:
    """Sentences saying where a run's parcels were held up and which units miss the standards.

    Parameters
    ----------
    summary
        The KPI summary (``kpis_summary.csv``: scope, code, name, kpi, mean, ...).
    coverage
        The coverage table (``coverage.csv``).
    days
        Days of the measurement window (daily volumes are the window's parcels over it).
    max_lead_h
        The lead-time standard of village coverage (``kpi.max_lead_time_h``).
    limit
        At most this many counties are named where several fall short.

    Returns
    -------
    list of str
        Empty when every unit is covered and no tier held parcels up.
    """
    counties = summary[summary["scope"] == "county"]
    region = (
        counties if counties["code"].nunique() == 1 else summary[summary["scope"] == "province"]
    )
    kpi = dict(zip(region["kpi"], region["mean"], strict=True))
    lines = _held_up(kpi, days)
    lines += _units(coverage, max_lead_h)
    if counties["code"].nunique() > 1:
        lines += _worst_counties(counties, limit)
    return lines


def _value(kpi: Mapping[str, float], name: str) -> float:
    """A KPI's mean, 0 where it is missing or unknown."""
    x = kpi.get(name, 0.0)
    return 0.0 if x is None or math.isnan(x) else float(x)


def _held_up(kpi: Mapping[str, float], days: int) -> list[str]:
    """Sentences on the tiers that held parcels up, in the order parcels meet them."""
    lines = []
    daily = _value(kpi, "parcels_created") / max(days, 1)
    unresolved = _value(kpi, "lead_unresolved_share")
    if unresolved >= 0.01:
        lines.append(
            f"{unresolved:.0%} of the parcels created in the window had not reached their "
            "point when the run stopped: a lead-time percentile above the share that did is "
            "unknown (coverage.csv says which villages wait, and why)."
        )
    unsorted = _value(kpi, "backlog_county_centre_unsorted")
    if daily > 0 and (
        unsorted >= _BACKLOG_SHARE * daily or _value(kpi, "sorter_utilisation") >= 0.95
    ):
        lines.append(
            f"Sorting is short: on average {unsorted:,.0f} parcels waited unsorted at the county "
            f"centre ({unsorted / daily:.0%} of a day's {daily:,.0f}); the sorter was busy "
            f"{_value(kpi, 'sorter_utilisation'):.0%} of its shift hours. Raise "
            "facilities.county_centre.sorting_capacity_per_hour or lengthen its shifts."
        )
    waiting = _value(kpi, "backlog_county_centre_sorted")
    if daily > 0 and waiting >= _BACKLOG_SHARE * daily:
        lines.append(
            f"Shuttles are short: on average {waiting:,.0f} sorted parcels waited at the county "
            f"centre for a shuttle ({waiting / daily:.0%} of a day's parcels). Add shuttles to "
            "fleet.county_centre or a departure to schedules.shuttle_departures."
        )
    skipped = _value(kpi, "loops_not_driven")
    if skipped > 0:
        lines.append(
            f"{skipped:,.0f} village loop runs were not driven because they would have ended "
            "past the driver's shift or duty hours; their villages waited for the next visit. "
            "Add vans in fleet.township_default or fleet.townships."
        )
    overflow = _value(kpi, "locker_overflows")
    if overflow > 0:
        lines.append(
            f"Full lockers turned parcels away {overflow:,.0f} times; they rode back and came "
            "on the next visit (facilities.village_points.locker_capacity_parcels)."
        )
    overtime = _value(kpi, "overtime_h")
    if overtime > 0:
        lines.append(
            f"Drivers worked {overtime:,.0f} h beyond their shifts over the window (costed as "
            "overtime): routes longer than a working day."
        )
    return lines


def _units(coverage: pd.DataFrame, max_lead_h: float) -> list[str]:
    """Sentences counting the villages, townships and counties not covered, by reason."""
    lines = []
    for level, noun in (("village", "villages"), ("township", "townships"), ("county", "counties")):
        rows = coverage[coverage["level"] == level]
        short = rows[~rows["covered"].astype(bool)]
        if len(rows) == 0 or len(short) == 0:
            continue
        parts = []
        for reason, n in short["reason"].value_counts().items():
            words = _REASON_WORDS.get(str(reason), str(reason).replace("_", " "))
            if reason == "lead_time_too_long" and "stage" in short:
                stage = short.loc[short["reason"] == reason, "stage"].mode()
                if len(stage):
                    st = str(stage.iloc[0])
                    words += f", waiting longest {_STAGE_WORDS.get(st, st)}"
            parts.append(f"{n:,} {words}")
        if level == "county" and len(rows) == 1:
            why = short["why"].iloc[0] if "why" in short else ""
            lines.append(f"The county centre is not covered (县县有分拨): {why}.")
            continue
        lines.append(f"{len(short):,} of {len(rows):,} {noun} are not covered: {'; '.join(parts)}.")
        if level == "village":
            late = short[short["reason"] == "lead_time_too_long"]
            near = late[late["p95_lead_h"] <= max_lead_h + _NEAR_MISS_H]
            if len(near):
                lines.append(
                    f"{len(near):,} of those villages miss the {max_lead_h:g} h lead-time "
                    f"standard by under {_NEAR_MISS_H:g} h."
                )
    return lines


def _worst_counties(counties: pd.DataFrame, limit: int) -> list[str]:
    """One sentence naming the counties with the lowest village coverage."""
    share = counties[counties["kpi"] == "village_express_coverage"].sort_values("mean")
    short = share[share["mean"] < 1.0]
    if len(short) == 0:
        return []
    named = [f"{r.name} {r.code} ({r.mean:.0%})" for r in short.head(limit).itertuples()]
    more = f", and {len(short) - limit} more" if len(short) > limit else ""
    return [
        f"{len(short)} of {len(share)} counties cover fewer than all their villages; the "
        f"lowest: {', '.join(named)}{more}."
    ]
