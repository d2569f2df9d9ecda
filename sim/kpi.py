"""KPIs: pure functions from a run's tables to KPI tables.

Only parcels created after the warm-up count, and only vehicle legs departing after it. The lead
time of a parcel is the time from its arrival at the county centre to its arrival at the point
where the villager collects it (village point, or township point for villages without a point
or a visit). A parcel that has not reached that point when the run ends counts with the time it
has waited so far, a lower bound, so a backlog raises percentiles instead of hiding from them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine import DAY_MIN, FINAL_STATES, Results, sorting_shifts
from sim.world import World

#: Summary KPIs reported for the province and each county (DESIGN.md, "Run folder").
SUMMARY_KPIS = (
    "county_hub_coverage",
    "township_point_coverage",
    "village_express_coverage",
    "lead_time_p50_h",
    "lead_time_p95_h",
    "on_time_rate",
    "parcels_created",
    "parcels_delivered",
    "parcels_in_system",
    "parcels_spoiled",
    "parcels_failed",
    "vehicle_km",
    "cost_per_parcel_yuan",
)

PROVINCE = ("14", "山西省")


def compute_kpis(results: Results) -> pd.DataFrame:
    """Compute every KPI of every replication.

    Parameters
    ----------
    results
        The tables of a run.

    Returns
    -------
    pandas.DataFrame
        Long format: replication, scope (province | county | township | village), code, name,
        kpi, value.
    """
    reps = sorted(results.parcels["replication"].unique())
    frames = []
    for r in reps:
        p = results.parcels[results.parcels["replication"] == r]
        t = results.trips[results.trips["replication"] == r]
        frames.append(_replication_kpis(results.world, p, t).assign(replication=r))
    out = pd.concat(frames, ignore_index=True)
    return out[["replication", "scope", "code", "name", "kpi", "value"]]


def summarize(kpis: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% confidence interval (Student t) of each KPI over replications.

    With a single replication the interval is undefined (NaN).
    """
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
        level, code, name, covered, visits_per_week, p95_lead_h, why.
    """
    w = results.world
    v = _village_stats(w, results.parcels, results.trips)
    rows = []
    for i in range(w.n_villages):
        visits, p95 = v["visits_per_week"][i], v["p95_lead_h"][i]
        why = _village_why(w, i, visits, p95)
        rows.append(
            ("village", w.village_codes[i], w.village_names[i], why == "covered", visits, p95, why)
        )
    t = _township_stats(w, results.parcels, results.trips)
    for i in range(w.n_townships):
        days, need = t["served_days"][i], t["window_days"]
        ok = days >= need
        why = "covered" if ok else f"shuttle on {days:g} of {need:g} days"
        rows.append(
            (
                "township",
                w.township_codes[i],
                w.township_names[i],
                ok,
                t["visits_per_week"][i],
                t["p95_lead_h"][i],
                why,
            )
        )
    served_all = bool(np.all(t["served_days"] >= t["window_days"]))
    n_bad = int(np.sum(t["served_days"] < t["window_days"]))
    rows.append(
        (
            "county",
            w.county_code,
            w.county_name,
            served_all,
            np.nan,
            _quantile(_censored_lead_h(w, results.parcels), 0.95),
            "covered" if served_all else f"{n_bad} townships not served every day",
        )
    )
    return pd.DataFrame(
        rows, columns=["level", "code", "name", "covered", "visits_per_week", "p95_lead_h", "why"]
    )


def _village_why(w: World, i: int, visits: float, p95: float) -> str:
    kpi = w.scenario.kpi
    if not w.village_has_point[i]:
        km = _township_km(w)[i]
        tag = "reachable" if km <= kpi.reachable_km else "not reachable"
        return f"no service point; township point {km:.1f} km away ({tag})"
    if not w.village_served[i]:
        return "no village vehicle visits it; parcels wait at the township point"
    reasons = []
    if visits < kpi.min_visits_per_week:
        reasons.append(f"{visits:.1f} visits/week < {kpi.min_visits_per_week:g}")
    if not p95 <= kpi.max_lead_time_h:
        reasons.append(f"p95 lead {p95:.1f} h > {kpi.max_lead_time_h:g} h")
    return "; ".join(reasons) if reasons else "covered"


def _township_km(w: World) -> np.ndarray:
    km = np.minimum.reduce(list(w.km.values()))
    vf = np.arange(w.n_villages) + 1 + w.n_townships
    return np.minimum(km[vf, w.village_township + 1], km[w.village_township + 1, vf])


def _window(w: World) -> tuple[float, float]:
    sc = w.scenario
    return sc.warmup_days * DAY_MIN, sc.horizon_days * DAY_MIN


def _censored_lead_h(w: World, parcels: pd.DataFrame) -> np.ndarray:
    start, end = _window(w)
    p = parcels[parcels["t_created"].to_numpy() >= start]
    arrive = p["t_point"].to_numpy()
    return (np.where(np.isnan(arrive), end, arrive) - p["t_created"].to_numpy()) / 60.0


def _quantile(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if len(x) else np.nan


def _group_quantile(groups: np.ndarray, values: np.ndarray, n: int, q: float) -> np.ndarray:
    """Linear-interpolated quantile of ``values`` within each group 0..n-1 (NaN if empty)."""
    order = np.lexsort((values, groups))
    g, x = groups[order], values[order]
    counts = np.bincount(g, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = (counts - 1) * q
    lo = np.floor(pos).astype(np.int64)
    frac = pos - lo
    out = np.full(n, np.nan)
    has = counts > 0
    a = x[starts[has] + lo[has]]
    b = x[starts[has] + np.minimum(lo[has] + 1, counts[has] - 1)]
    out[has] = a + frac[has] * (b - a)
    return out


def _village_stats(w: World, parcels: pd.DataFrame, trips: pd.DataFrame) -> dict:
    start, end = _window(w)
    n_rep = max(parcels["replication"].nunique(), 1)
    weeks = (end - start) / DAY_MIN / 7
    inw = parcels["t_created"].to_numpy() >= start
    vill = parcels["village_code"].cat.codes.to_numpy()[inw]
    lead = _censored_lead_h(w, parcels)
    legs = trips[(trips["kind"] == "village_loop") & (trips["arrive"] >= start)]
    vidx = pd.Index(w.village_codes).get_indexer(legs["to_code"])
    vidx = vidx[vidx >= 0]
    return {
        "created": np.bincount(vill, minlength=w.n_villages) / n_rep,
        "p95_lead_h": _group_quantile(vill, lead, w.n_villages, 0.95),
        "visits_per_week": np.bincount(vidx, minlength=w.n_villages) / weeks / n_rep,
    }


def _township_stats(w: World, parcels: pd.DataFrame, trips: pd.DataFrame) -> dict:
    start, _ = _window(w)
    n_rep = max(parcels["replication"].nunique(), 1)
    inw = parcels["t_created"].to_numpy() >= start
    town = parcels["township_code"].cat.codes.to_numpy()[inw]
    lead = _censored_lead_h(w, parcels)
    legs = trips[(trips["kind"] == "shuttle") & (trips["arrive"] >= start)]
    tidx = pd.Index(w.township_codes).get_indexer(legs["to_code"])
    keep = tidx >= 0
    tidx = tidx[keep]
    day = (legs["arrive"].to_numpy()[keep] // DAY_MIN).astype(np.int64)
    rep = legs["replication"].to_numpy()[keep]
    window_days = w.scenario.horizon_days - w.scenario.warmup_days
    # Days with at least one shuttle stop, counted per replication then averaged.
    uniq = np.unique(np.column_stack([rep, tidx, day]), axis=0) if len(tidx) else np.empty((0, 3))
    served = np.bincount(uniq[:, 1].astype(np.int64), minlength=w.n_townships) / n_rep
    return {
        "created": np.bincount(town, minlength=w.n_townships) / n_rep,
        "p95_lead_h": _group_quantile(town, lead, w.n_townships, 0.95),
        "visits_per_week": np.bincount(tidx, minlength=w.n_townships) / (window_days / 7) / n_rep,
        "served_days": served,
        "window_days": float(window_days),
    }


def _replication_kpis(w: World, p: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    sc = w.scenario
    start, end = _window(w)
    rows: list[tuple[str, str, str, str, float]] = []

    vs = _village_stats(w, p, t)
    ts = _township_stats(w, p, t)
    v_cov = (
        w.village_has_point
        & w.village_served
        & (vs["visits_per_week"] >= sc.kpi.min_visits_per_week)
        & (vs["p95_lead_h"] <= sc.kpi.max_lead_time_h)
    )
    t_cov = ts["served_days"] >= ts["window_days"]
    for i in range(w.n_villages):
        code, name = w.village_codes[i], w.village_names[i]
        for k, val in (
            ("village_express_covered", float(v_cov[i])),
            ("visits_per_week", vs["visits_per_week"][i]),
            ("lead_time_p95_h", vs["p95_lead_h"][i]),
            ("parcels_created", vs["created"][i]),
        ):
            rows.append(("village", code, name, k, val))
    for i in range(w.n_townships):
        code, name = w.township_codes[i], w.township_names[i]
        for k, val in (
            ("township_point_covered", float(t_cov[i])),
            ("shuttle_days_served", ts["served_days"][i]),
            ("lead_time_p95_h", ts["p95_lead_h"][i]),
            ("parcels_created", ts["created"][i]),
        ):
            rows.append(("township", code, name, k, val))

    inw = p["t_created"].to_numpy() >= start
    state = np.asarray(FINAL_STATES, dtype=object)[p["final_state"].cat.codes.to_numpy()[inw]]
    lead = _censored_lead_h(w, p)
    reached = ~np.isnan(p["t_point"].to_numpy()[inw])
    limit = sc.kpi.max_lead_time_h
    determined = reached | (lead >= limit)
    on_time = reached & (lead <= limit)

    legs = t[t["depart"].to_numpy() >= start]
    hours = (legs["arrive"] - legs["depart"] + legs["stop_min"]).to_numpy() / 60.0
    per_km = np.array([sc.fleet.vehicle_types[x].cost_per_km_yuan for x in legs["type"]])
    per_h = np.array([sc.fleet.vehicle_types[x].cost_per_hour_yuan for x in legs["type"]])
    cost = float(np.sum(legs["km"].to_numpy() * per_km + hours * per_h))
    t_point = p["t_point"].to_numpy()
    arrived = int(np.sum((t_point >= start) & (t_point <= end)))
    pop = w.village_population

    sorted_in = p["t_sorted"].to_numpy()
    shift_h = sum(b - a for a, b in sorting_shifts(w)) / 60.0
    capacity = sc.facilities.county_centre.sorting_capacity_per_hour * shift_h
    n_sorted = np.sum((sorted_in >= start) & (sorted_in <= end))
    # Category 0 of ``place`` is the county centre (see sim.engine._parcel_table).
    at_centre = p["place"].cat.codes.to_numpy()[inw] == 0
    in_sys = state == "in_system"

    county = {
        "county_hub_coverage": float(np.all(t_cov)),
        "township_point_coverage": float(np.mean(t_cov)) if len(t_cov) else np.nan,
        "village_express_coverage": float(np.mean(v_cov)) if len(v_cov) else np.nan,
        "village_express_coverage_pop": float(np.sum(pop * v_cov) / np.sum(pop)),
        "lead_time_p50_h": _quantile(lead, 0.5),
        "lead_time_p95_h": _quantile(lead, 0.95),
        "lead_time_max_h": float(lead.max()) if len(lead) else np.nan,
        "on_time_rate": float(on_time.sum() / determined.sum()) if determined.any() else np.nan,
        "parcels_created": float(inw.sum()),
        "parcels_delivered": float(np.sum(state == "delivered")),
        "parcels_in_system": float(np.sum(in_sys)),
        "parcels_spoiled": float(np.sum(state == "spoiled")),
        "parcels_failed": float(np.sum(state == "failed")),
        "backlog_county_centre": float(np.sum(in_sys & at_centre)),
        "vehicle_km": float(legs["km"].sum()),
        "vehicle_hours": float(hours.sum()),
        "cost_yuan": cost,
        "cost_per_parcel_yuan": cost / arrived if arrived else np.nan,
        "sorter_utilisation": float(n_sorted / (capacity * (end - start) / DAY_MIN)),
    }
    for k, val in county.items():
        rows.append(("county", w.county_code, w.county_name, k, val))
        rows.append(("province", *PROVINCE, k, val))
    return pd.DataFrame(rows, columns=["scope", "code", "name", "kpi", "value"])
