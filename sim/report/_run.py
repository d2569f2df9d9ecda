"""The tables a run report shows, read from a run folder: KPIs, ranking, uncovered villages,
stages.

Nothing here rebuilds the world: positions come from ``facilities.csv``, routes from
``trips.parquet``, thresholds from ``scenario.resolved.yaml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim._files import read_json_object, read_table
from sim.errors import UsageError
from sim.kpi import SUMMARY_KPIS
from sim.labels import Labels
from sim.report._format import interval, kpi_kind, number, unit
from sim.scenario import Kpi

#: Columns each table must have for the report.
SUMMARY_COLUMNS = ("scope", "kpi", "mean", "ci95_low", "ci95_high")
COVERAGE_COLUMNS = ("level", "covered", "code", "name", "reason", "stage")
FACILITY_COLUMNS = ("county_code", "level", "code", "name", "lon", "lat")
TRIP_COLUMNS = ("replication", "county_code", "vehicle", "kind", "from_code", "to_code")

#: Stages of an inbound parcel and the timestamps that bound them (DESIGN.md, parcels.parquet).
STAGE_MARKS = (
    ("sorting", "t_created", "t_sorted"),
    ("shuttle", "t_sorted", "t_township"),
    ("township_point", "t_township", "t_loop_depart"),
    ("loop", "t_loop_depart", "t_point"),
    ("pickup", "t_point", "t_picked_up"),
)

#: At most this many townships and uncovered villages are listed.
MAX_ROWS = 40


@dataclass(frozen=True)
class RunFolderData:
    """What the report reads from a run folder."""

    folder: Path
    meta: dict[str, Any]
    summary: pd.DataFrame
    coverage: pd.DataFrame
    facilities: pd.DataFrame
    trips: pd.DataFrame
    limits: Kpi
    window_min: tuple[float, float]
    worst_week: pd.Series


def read_run(folder: Path) -> RunFolderData:
    """Read the tables of a run folder the report needs (:class:`UsageError` names a bad one)."""
    from sim.load import load_scenario

    meta = read_json_object(folder / "manifest.json")
    summary = read_table(folder / "kpis_summary.csv", columns=SUMMARY_COLUMNS, dtype={"code": str})
    coverage = read_table(folder / "coverage.csv", columns=COVERAGE_COLUMNS, dtype={"code": str})
    facilities = read_table(
        folder / "facilities.csv", columns=FACILITY_COLUMNS, dtype={"code": str, "county_code": str}
    )
    trips = read_table(folder / "trips.parquet", columns=TRIP_COLUMNS)
    scenario = load_scenario(folder / "scenario.resolved.yaml")
    try:
        replications = int(meta.get("replications", 1))
    except (TypeError, ValueError):
        replications = -1
    if replications < 1:
        raise UsageError(
            f"{folder / 'manifest.json'}: replications is malformed; rewrite the folder"
        )
    start = scenario.warmup_days * 1440.0
    return RunFolderData(
        folder=folder,
        meta=meta,
        summary=summary,
        coverage=coverage,
        facilities=facilities,
        trips=trips,
        limits=scenario.kpi,
        window_min=(start, scenario.horizon_days * 1440.0),
        worst_week=_worst_week(folder, coverage),
    )


def _worst_week(folder: Path, coverage: pd.DataFrame) -> pd.Series:
    """Visits in the worst week of each village with too few visits (over replications)."""
    few = coverage["reason"] == "too_few_visits"
    if not few.any():
        return pd.Series(dtype=float)
    kpis = read_table(
        folder / "kpis.csv", columns=("scope", "code", "kpi", "value"), dtype={"code": str}
    )
    rows = kpis[(kpis["scope"] == "village") & (kpis["kpi"] == "visits_worst_week")]
    return rows.groupby("code")["value"].min()


def headline_rows(data: RunFolderData, words: Labels) -> list[dict[str, str]]:
    """The headline KPIs of the whole run: name, mean and clipped interval, with units."""
    counties = data.meta.get("counties", [])
    scope = "county" if isinstance(counties, list) and len(counties) == 1 else "province"
    s = data.summary
    head = s[(s["scope"] == scope) & s["kpi"].isin(SUMMARY_KPIS)]
    rows = []
    for r in head.to_dict("records"):
        kpi = str(r["kpi"])
        kind = kpi_kind(kpi)
        rows.append(
            {
                "kpi": words(kpi),
                "code": kpi,
                "value": number(float(r["mean"]), kind),
                "ci": interval(float(r["ci95_low"]), float(r["ci95_high"]), kind),
                "unit": unit(kind, words),
            }
        )
    return rows


def _pivot(summary: pd.DataFrame, scope: str, kpis: tuple[str, ...]) -> pd.DataFrame:
    """Means of ``kpis`` of a scope, one row per unit (code, name)."""
    s = summary[(summary["scope"] == scope) & summary["kpi"].isin(kpis)]
    if "code" not in s or "name" not in s or s.empty:
        return pd.DataFrame(columns=["code", "name", *kpis])
    table = s.pivot_table(index=["code", "name"], columns="kpi", values="mean", aggfunc="first")
    return table.reindex(columns=list(kpis)).reset_index()


def county_ranking(data: RunFolderData, words: Labels) -> list[dict[str, str]]:
    """Counties, worst first: village coverage ascending, then p95 lead time descending."""
    t = _pivot(
        data.summary,
        "county",
        ("village_express_coverage", "township_point_coverage", "lead_time_p95_h"),
    )
    t = t.sort_values(
        ["village_express_coverage", "lead_time_p95_h", "code"],
        ascending=[True, False, True],
        na_position="first",
    )
    return [
        {
            "name": str(r["name"]),
            "code": str(r["code"]),
            "villages": number(float(r["village_express_coverage"]), "share"),
            "townships": number(float(r["township_point_coverage"]), "share"),
            "p95": number(float(r["lead_time_p95_h"]), "hours"),
        }
        for r in t.to_dict("records")
    ]


def township_ranking(data: RunFolderData, words: Labels) -> tuple[list[dict[str, str]], int]:
    """Townships, worst first (village coverage, then p95 lead to the township point).

    Returns the first :data:`MAX_ROWS` rows and the number of townships.
    """
    cov = data.coverage
    vil = cov[cov["level"] == "village"]
    town = cov[cov["level"] == "township"].set_index("code")
    share = vil["covered"].astype(bool).groupby(vil["code"].str[:9]).agg(["sum", "size"])
    t = town.join(share, how="left").fillna({"sum": 0, "size": 0})
    t["share"] = np.where(t["size"] > 0, t["sum"] / t["size"].clip(lower=1), np.nan)
    p95 = t["p95_lead_h"] if "p95_lead_h" in t else pd.Series(np.nan, index=t.index)
    t = t.assign(p95=pd.to_numeric(p95, errors="coerce")).reset_index()
    t = t.sort_values(["share", "p95", "code"], ascending=[True, False, True], na_position="first")
    county_names = _county_names(data)
    rows = [
        {
            "name": str(r["name"]),
            "code": str(r["code"]),
            "county": county_names.get(str(r["code"])[:6], str(r["code"])[:6]),
            "villages": f"{int(r['sum']):,} / {int(r['size']):,} "
            f"({number(float(r['share']), 'share')})",
            "point": words("yes") if bool(r["covered"]) else words.reason(str(r["reason"])),
            "p95": number(float(r["p95"]), "hours"),
        }
        for r in t.head(MAX_ROWS).to_dict("records")
    ]
    return rows, len(t)


def _county_names(data: RunFolderData) -> dict[str, str]:
    """County code -> name, from the coverage table."""
    c = data.coverage[data.coverage["level"] == "county"]
    return dict(zip(c["code"].astype(str), c["name"].astype(str), strict=False))


def _fmt1(x: float) -> str:
    """One decimal."""
    return f"{x:.1f}"


def margin(row: Mapping[Any, Any], limits: Kpi, worst_week: float, words: Labels) -> str:
    """Why a village is not covered, with the margin: ``misses 48 h by 0.6 h; ...``.

    ``row`` has the coverage columns (reason, stage, p95_lead_h, visits_per_week, why);
    ``worst_week`` is its visits in the worst week (NaN: use its mean visits per week).
    """
    reason = str(row["reason"])
    stage = words.stage(row["stage"]) if isinstance(row.get("stage"), str) else ""
    if reason == "lead_time_too_long":
        p95 = float(row.get("p95_lead_h", math.nan))
        if not math.isfinite(p95):
            return words("m_lead_unknown", stage=stage)
        limit = limits.max_lead_time_h
        return words("m_lead", limit=f"{limit:g}", miss=_fmt1(p95 - limit), stage=stage)
    if reason == "too_few_visits":
        visits = worst_week if math.isfinite(worst_week) else float(row["visits_per_week"])
        return words("m_visits", visits=f"{visits:g}", limit=f"{limits.min_visits_per_week:g}")
    if reason == "no_point":
        found = re.search(r"([0-9]+(?:\.[0-9]+)?) km", str(row.get("why", "")))
        if found is None:
            return ""
        km = float(found.group(1))
        tag = "m_reachable" if km <= limits.reachable_km else "m_not_reachable"
        return words("m_no_point_km", km=_fmt1(km), tag=words(tag))
    if reason == "no_visits":
        return words("m_no_visits")
    return ""


def village_status(coverage: pd.DataFrame, limits: Kpi) -> pd.Series:
    """Per village row: ``covered``, ``reachable`` (no point, township point near) or
    ``not_covered``."""
    cov = coverage["covered"].astype(bool)
    km = coverage.get("why", pd.Series("", index=coverage.index)).astype(str)
    km = pd.to_numeric(km.str.extract(r"([0-9]+(?:\.[0-9]+)?) km", expand=False), errors="coerce")
    near = (coverage["reason"] == "no_point").to_numpy() & (
        km.to_numpy(dtype=float) <= limits.reachable_km
    )
    return pd.Series(
        np.where(cov, "covered", np.where(near, "reachable", "not_covered")), index=coverage.index
    )


def uncovered_rows(data: RunFolderData, words: Labels) -> tuple[list[dict[str, str]], int]:
    """Villages not covered, worst first (longest p95 lead), by name with code, reason and
    margin; the first :data:`MAX_ROWS` and the number of them."""
    cov = data.coverage
    bad = cov[(cov["level"] == "village") & ~cov["covered"].astype(bool)]
    if "p95_lead_h" in bad:
        bad = bad.assign(_p95=pd.to_numeric(bad["p95_lead_h"], errors="coerce"))
        bad = bad.sort_values(["_p95", "code"], ascending=[False, True], na_position="first")
    towns = cov[cov["level"] == "township"].set_index("code")["name"].astype(str)
    rows = []
    for r in bad.head(MAX_ROWS).to_dict("records"):
        code = str(r["code"])
        rows.append(
            {
                "name": str(r["name"]),
                "code": code,
                "township": str(towns.get(code[:9], code[:9])),
                "reason": words.reason(str(r["reason"])),
                "margin": margin(r, data.limits, float(data.worst_week.get(code, math.nan)), words),
            }
        )
    return rows, len(bad)


def stage_hours(parcels: pd.DataFrame, window_min: tuple[float, float]) -> pd.DataFrame:
    """Hours in each stage of the window's inbound parcels that reached their point.

    A stage a parcel skipped (a bus parcel has no township or loop time) counts 0 h; pickup is
    over the parcels picked up.

    Returns
    -------
    pandas.DataFrame
        One row per stage: stage, n, p50, p95, mean (hours).
    """
    start, end = window_min
    t = parcels["t_created"].to_numpy(dtype=float)
    keep = (t >= start) & (t < end) & parcels["t_point"].notna().to_numpy()
    if "direction" in parcels:
        keep &= (parcels["direction"].astype(str) == "inbound").to_numpy()
    p = parcels[keep]
    marks = {name: np.array(p[name], dtype=float) for name in _mark_names(parcels)}
    # A missing mark takes the next one (a skipped stage lasts 0 h).
    order = ["t_created", "t_sorted", "t_township", "t_loop_depart", "t_point"]
    for i in range(len(order) - 2, 0, -1):
        if order[i] in marks:
            hole = np.isnan(marks[order[i]])
            marks[order[i]][hole] = marks[order[i + 1]][hole]
    rows = []
    for stage, a, b in STAGE_MARKS:
        if a not in marks or b not in marks:
            continue
        h = (marks[b] - marks[a]) / 60.0
        h = h[np.isfinite(h)]
        rows.append(
            {
                "stage": stage,
                "n": len(h),
                "p50": float(np.percentile(h, 50)) if len(h) else math.nan,
                "p95": float(np.percentile(h, 95)) if len(h) else math.nan,
                "mean": float(h.mean()) if len(h) else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=["stage", "n", "p50", "p95", "mean"])


def _mark_names(parcels: pd.DataFrame) -> list[str]:
    """The stage timestamps the parcel table has."""
    names = {m for _, a, b in STAGE_MARKS for m in (a, b)}
    return [n for n in names if n in parcels]


def lead_hours(parcels: pd.DataFrame, window_min: tuple[float, float]) -> np.ndarray:
    """Lead hours (creation to point) of the window's inbound parcels that reached it."""
    start, end = window_min
    t = parcels["t_created"].to_numpy(dtype=float)
    keep = (t >= start) & (t < end) & parcels["t_point"].notna().to_numpy()
    if "direction" in parcels:
        keep &= (parcels["direction"].astype(str) == "inbound").to_numpy()
    return (parcels["t_point"].to_numpy(dtype=float)[keep] - t[keep]) / 60.0


def read_parcels(folder: Path, meta: dict[str, Any]) -> pd.DataFrame | None:
    """The parcel table's stage columns, or None when the run wrote no parcels."""
    written = str(meta.get("parcels_written", "all"))
    if written == "none":
        return None
    wanted = ["direction", *sorted({m for _, a, b in STAGE_MARKS for m in (a, b)})]
    return read_table(folder / "parcels.parquet", columns=("t_created", "t_point"), only=wanted)
