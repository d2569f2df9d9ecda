"""KPIs: pure functions from a run's tables to KPI tables.

Only parcels created after the warm-up count, and only vehicle legs departing after it. The lead
time of a parcel is the time from its arrival at the county centre to its arrival at the point
where the villager collects it (village point, or township point for villages without a point
or a visit). A parcel that has not reached that point when the run ends counts with the time it
has waited so far, a lower bound, so a backlog raises percentiles instead of hiding from them.

KPIs are computed per county (with village and township rows) and for the province, which
aggregates the counties of the run: coverage shares over all their units, lead-time
percentiles over all their parcels, sums of counts, km and cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import stats

from sim.costs import Costs, county_costs, village_economics
from sim.engine import DAY_MIN, FINAL_STATES, Results, sorting_shifts
from sim.world import County

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
_COLUMNS = ["scope", "code", "name", "kpi", "value"]


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
        Long format: replication, scope (province | county | township | village), code, name,
        kpi, value.
    """
    frames = []
    by_rep: dict[int, list[_Parts]] = {}
    for r, county, p, t in _blocks(results):
        rows, county_parts = _county_kpis(county, p, t)
        frames.append(pd.DataFrame(rows, columns=_COLUMNS).assign(replication=r))
        by_rep.setdefault(r, []).append(county_parts)
    names = [c.name for c in results.world.scenario.carriers]
    for r, parts in by_rep.items():
        rows = [("province", *PROVINCE, k, v) for k, v in _aggregate(parts).items()]
        rows += _carrier_rows(parts, names)
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
    rows = []
    for county, p_all, t in _county_blocks(results):
        p, _ = _split_directions(p_all)
        v = _village_stats(county, p, t)
        for i in range(county.n_villages):
            visits, p95 = v["visits_per_week"][i], v["p95_lead_h"][i]
            why = _village_why(county, i, visits, p95)
            rows.append(
                (
                    "village",
                    county.village_codes[i],
                    county.village_names[i],
                    why == "covered",
                    visits,
                    p95,
                    why,
                )
            )
        ts = _township_stats(county, p, t)
        for i in range(county.n_townships):
            days, need = ts["served_days"][i], ts["window_days"]
            ok = days >= need
            why = "covered" if ok else f"shuttle on {days:g} of {need:g} days"
            rows.append(
                (
                    "township",
                    county.township_codes[i],
                    county.township_names[i],
                    ok,
                    ts["visits_per_week"][i],
                    ts["p95_lead_h"][i],
                    why,
                )
            )
        n_bad = int(np.sum(ts["served_days"] < ts["window_days"]))
        rows.append(
            (
                "county",
                county.county_code,
                county.county_name,
                n_bad == 0,
                np.nan,
                _quantile(_censored_lead_h(county, p), 0.95),
                "covered" if n_bad == 0 else f"{n_bad} townships not served every day",
            )
        )
    return pd.DataFrame(
        rows, columns=["level", "code", "name", "covered", "visits_per_week", "p95_lead_h", "why"]
    )


def _blocks(results: Results) -> Iterator[tuple[int, County, pd.DataFrame, pd.DataFrame]]:
    """(replication, county, its parcels, its trips) for every block of a run."""
    w = results.world
    trips = dict(iter(results.trips.groupby(["replication", "county_code"], sort=False)))
    empty = results.trips.iloc[:0]
    keys = results.parcels["county_code"].cat.codes
    for (r, ci), p in results.parcels.groupby([results.parcels["replication"], keys], sort=True):
        county = w.counties[int(cast(int, ci))]
        yield int(cast(int, r)), county, p, trips.get((r, county.county_code), empty)
    # Counties without any parcel still have KPIs (zero demand).
    seen = set(zip(results.parcels["replication"], keys))
    for r in sorted(results.trips["replication"].unique()):
        for ci, county in enumerate(w.counties):
            if (r, ci) not in seen:
                yield (
                    int(r),
                    county,
                    results.parcels.iloc[:0],
                    trips.get((r, county.county_code), empty),
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


def _village_why(c: County, i: int, visits: float, p95: float) -> str:
    kpi = c.scenario.kpi
    if not c.village_has_point[i]:
        km = _township_km(c)[i]
        tag = "reachable" if km <= kpi.reachable_km else "not reachable"
        return f"no service point; township point {km:.1f} km away ({tag})"
    if not c.village_served[i]:
        return "no village vehicle visits it; parcels wait at the township point"
    reasons = []
    if visits < kpi.min_visits_per_week:
        reasons.append(f"{visits:.1f} visits/week < {kpi.min_visits_per_week:g}")
    if not p95 <= kpi.max_lead_time_h:
        reasons.append(f"p95 lead {p95:.1f} h > {kpi.max_lead_time_h:g} h")
    return "; ".join(reasons) if reasons else "covered"


def _township_km(c: County) -> np.ndarray:
    km = np.minimum.reduce(list(c.km.values()))
    vf = np.arange(c.n_villages) + 1 + c.n_townships
    return np.minimum(km[vf, c.village_township + 1], km[c.village_township + 1, vf])


def _window(c: County) -> tuple[float, float]:
    sc = c.scenario
    return sc.warmup_days * DAY_MIN, sc.horizon_days * DAY_MIN


def _censored_lead_h(c: County, parcels: pd.DataFrame) -> np.ndarray:
    start, end = _window(c)
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


def _local(codes: pd.Series, local: np.ndarray) -> np.ndarray:
    """Index of each row's (categorical) code within a county's own code list."""
    mapping = pd.Index(local).get_indexer(codes.cat.categories)
    return mapping[codes.cat.codes.to_numpy()]


def _n_reps(c: County, parcels: pd.DataFrame, trips: pd.DataFrame) -> int:
    return max(parcels["replication"].nunique(), trips["replication"].nunique(), 1)


def _village_stats(c: County, parcels: pd.DataFrame, trips: pd.DataFrame) -> dict:
    start, end = _window(c)
    n_rep = _n_reps(c, parcels, trips)
    weeks = (end - start) / DAY_MIN / 7
    inw = parcels["t_created"].to_numpy() >= start
    vill = _local(parcels["village_code"][inw], c.village_codes)
    lead = _censored_lead_h(c, parcels)
    legs = trips[trips["kind"].isin(["village_loop", "bus"]) & (trips["arrive"] >= start)]
    vidx = pd.Index(c.village_codes).get_indexer(legs["to_code"])
    keep = vidx >= 0
    # A visit is a day with at least one stop: several departures a day count once.
    day = (legs["arrive"].to_numpy()[keep] // DAY_MIN).astype(np.int64)
    rep = legs["replication"].to_numpy()[keep]
    days = np.unique(np.column_stack([rep, vidx[keep], day]), axis=0) if keep.any() else None
    visited = days[:, 1] if days is not None else np.empty(0, dtype=np.int64)
    return {
        "created": np.bincount(vill, minlength=c.n_villages) / n_rep,
        "p95_lead_h": _group_quantile(vill, lead, c.n_villages, 0.95),
        "visits_per_week": np.bincount(visited, minlength=c.n_villages) / weeks / n_rep,
    }


def _township_stats(c: County, parcels: pd.DataFrame, trips: pd.DataFrame) -> dict:
    start, _ = _window(c)
    n_rep = _n_reps(c, parcels, trips)
    inw = parcels["t_created"].to_numpy() >= start
    town = _local(parcels["township_code"][inw], c.township_codes)
    lead = _censored_lead_h(c, parcels)
    legs = trips[(trips["kind"] == "shuttle") & (trips["arrive"] >= start)]
    tidx = pd.Index(c.township_codes).get_indexer(legs["to_code"])
    keep = tidx >= 0
    tidx = tidx[keep]
    day = (legs["arrive"].to_numpy()[keep] // DAY_MIN).astype(np.int64)
    rep = legs["replication"].to_numpy()[keep]
    window_days = c.scenario.horizon_days - c.scenario.warmup_days
    # Days with at least one shuttle stop, counted per replication then averaged.
    uniq = np.unique(np.column_stack([rep, tidx, day]), axis=0) if len(tidx) else np.empty((0, 3))
    served = np.bincount(uniq[:, 1].astype(np.int64), minlength=c.n_townships) / n_rep
    return {
        "created": np.bincount(town, minlength=c.n_townships) / n_rep,
        "p95_lead_h": _group_quantile(town, lead, c.n_townships, 0.95),
        "visits_per_week": np.bincount(tidx, minlength=c.n_townships) / (window_days / 7) / n_rep,
        "served_days": served,
        "window_days": float(window_days),
    }


@dataclass(frozen=True)
class _Parts:
    """What the province aggregate needs from one county and replication."""

    v_cov: np.ndarray
    population: np.ndarray
    t_cov: np.ndarray
    lead: np.ndarray
    reached: np.ndarray
    state: np.ndarray
    at_centre: np.ndarray
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
    out_lead: np.ndarray
    locker_busy_min: float
    locker_capacity_min: float
    n_sorted: int
    capacity: float
    limit_h: float


def _county_kpis(c: County, p_all: pd.DataFrame, t: pd.DataFrame) -> tuple[list[tuple], _Parts]:
    sc = c.scenario
    start, end = _window(c)
    rows: list[tuple] = []
    p, out = _split_directions(p_all)
    vs = _village_stats(c, p, t)
    ts = _township_stats(c, p, t)
    v_cov = (
        c.village_has_point
        & c.village_served
        & (vs["visits_per_week"] >= sc.kpi.min_visits_per_week)
        & (vs["p95_lead_h"] <= sc.kpi.max_lead_time_h)
    )
    t_cov = ts["served_days"] >= ts["window_days"]
    costs = county_costs(c, t, p)
    econ = village_economics(c, costs)
    for i in range(c.n_villages):
        code, name = c.village_codes[i], c.village_names[i]
        for k, val in (
            ("village_express_covered", float(v_cov[i])),
            ("visits_per_week", vs["visits_per_week"][i]),
            ("lead_time_p95_h", vs["p95_lead_h"][i]),
            ("parcels_created", vs["created"][i]),
            ("cost_per_parcel_yuan", econ["cost_per_parcel_yuan"].iat[i]),
            ("subsidy_yuan_per_day", econ["subsidy_yuan_per_day"].iat[i]),
        ):
            rows.append(("village", code, name, k, val))
    for i in range(c.n_townships):
        code, name = c.township_codes[i], c.township_names[i]
        for k, val in (
            ("township_point_covered", float(t_cov[i])),
            ("shuttle_days_served", ts["served_days"][i]),
            ("lead_time_p95_h", ts["p95_lead_h"][i]),
            ("parcels_created", ts["created"][i]),
        ):
            rows.append(("township", code, name, k, val))

    inw = p["t_created"].to_numpy() >= start
    legs = t[(t["depart"].to_numpy() >= start) & (t["kind"].to_numpy() != "bus")]
    hours = (legs["arrive"] - legs["depart"] + legs["stop_min"]).to_numpy() / 60.0
    t_point = p["t_point"].to_numpy()
    sorted_at = p["t_sorted"].to_numpy()
    shift_h = sum(b - a for a, b in sorting_shifts(sc)) / 60.0
    place = p_all["place"]
    all_inw = p_all["t_created"].to_numpy() >= start
    centre = place.cat.codes.to_numpy()[all_inw] == place.cat.categories.get_loc(c.county_code)
    parts = _Parts(
        v_cov=v_cov,
        population=c.village_population,
        t_cov=t_cov,
        lead=_censored_lead_h(c, p),
        reached=~np.isnan(t_point[inw]),
        state=np.asarray(FINAL_STATES, dtype=object)[
            p_all["final_state"].cat.codes.to_numpy()[all_inw]
        ],
        **_outbound_parts(out, start, end),
        at_centre=centre,
        km=float(legs["km"].sum()),
        hours=float(hours.sum()),
        costs=costs,
        uneconomic=int(econ["uneconomic"].sum()),
        subsidy_per_day=float(econ["subsidy_yuan_per_day"].sum()),
        arrived=int(np.sum((t_point >= start) & (t_point <= end))),
        overflows=int(p["locker_overflows"].to_numpy()[inw].sum()),
        **cast("dict[str, Any]", _locker_use(c, p, start, end)),
        n_sorted=int(np.sum((sorted_at >= start) & (sorted_at <= end))),
        capacity=sc.facilities.county_centre.sorting_capacity_per_hour
        * shift_h
        * (end - start)
        / DAY_MIN,
        limit_h=sc.kpi.max_lead_time_h,
    )
    for k, val in _aggregate([parts]).items():
        rows.append(("county", c.county_code, c.county_name, k, val))
    return rows, parts


def _carrier_rows(parts: list[_Parts], names: list[str]) -> list[tuple]:
    """Per-carrier costs of a replication, over all counties (scope "carrier")."""
    own = np.sum([x.costs.carrier_own_yuan for x in parts], axis=0)
    shared = np.sum([x.costs.carrier_shared_yuan for x in parts], axis=0)
    n = np.sum([x.costs.carrier_parcels for x in parts], axis=0)
    rows = []
    for i, name in enumerate(names):
        total = own[i] + shared[i]
        for kpi, val in (
            ("parcels_reached_point", n[i]),
            ("cost_own_vehicles_yuan", own[i]),
            ("cost_shared_yuan", shared[i]),
            ("cost_yuan", total),
            ("cost_per_parcel_yuan", total / n[i] if n[i] else np.nan),
        ):
            rows.append(("carrier", name, name, kpi, float(val)))
    return rows


def _split_directions(p: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(inbound rows, outbound rows) of a parcel table."""
    outbound = p["direction"].cat.codes.to_numpy() == 1
    if not outbound.any():
        return p, p.iloc[:0]
    return p[~outbound], p[outbound]


def _outbound_parts(out: pd.DataFrame, start: float, end: float) -> dict:
    """Outbound counts and lead times (packed at the village to the trunk) in the window."""
    inw = out["t_created"].to_numpy() >= start
    trunk = out["t_trunk"].to_numpy()[inw]
    created = out["t_created"].to_numpy()[inw]
    state = out["final_state"].to_numpy()[inw]
    return {
        "out_created": int(inw.sum()),
        "out_shipped": int(np.sum(state == "delivered")),
        "out_spoiled": int(np.sum(state == "spoiled")),
        "out_lead": (np.where(np.isnan(trunk), end, trunk) - created) / 60.0,
    }


def _locker_use(c: County, p: pd.DataFrame, start: float, end: float) -> dict[str, float]:
    """Parcel-minutes spent in lockers during the window, and the lockers' capacity-minutes."""
    from sim.world import POINT_KINDS

    locker = POINT_KINDS.index("locker")
    n_lockers = int(np.sum(c.village_has_point & (c.village_kind == locker)))
    cap = n_lockers * c.scenario.facilities.village_points.locker_capacity_parcels * (end - start)
    if n_lockers == 0 or len(p) == 0:
        return {"locker_busy_min": 0.0, "locker_capacity_min": float(cap)}
    at = p["point_kind"].to_numpy() == "locker"
    t_in = p["t_point"].to_numpy()[at]
    t_out = np.fmin(p["t_picked_up"].to_numpy()[at], p["t_returned"].to_numpy()[at])
    t_out = np.where(np.isnan(t_out), end, t_out)
    busy = np.clip(np.minimum(t_out, end) - np.maximum(t_in, start), 0, None)
    return {"locker_busy_min": float(np.nansum(busy)), "locker_capacity_min": float(cap)}


def _aggregate(parts: list[_Parts]) -> dict[str, float]:
    """Region-level KPIs of one replication from its counties' parts."""

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(x, name) for x in parts])

    def total(cost: str) -> float:
        return float(sum(getattr(x.costs, cost) for x in parts))

    v_cov, pop, t_cov = cat("v_cov"), cat("population"), cat("t_cov")
    lead, reached, state, at_centre = cat("lead"), cat("reached"), cat("state"), cat("at_centre")
    limit = parts[0].limit_h
    determined = reached | (lead >= limit)
    on_time = reached & (lead <= limit)
    in_sys = state == "in_system"
    cost = sum(x.costs.total_yuan for x in parts)
    arrived = sum(x.arrived for x in parts)
    village = sum(x.costs.village_parcels.sum() for x in parts)
    locker_cap = sum(x.locker_capacity_min for x in parts)
    capacity = sum(x.capacity for x in parts)
    return {
        "county_hub_coverage": float(np.mean([np.all(x.t_cov) for x in parts])),
        "township_point_coverage": float(np.mean(t_cov)) if len(t_cov) else np.nan,
        "village_express_coverage": float(np.mean(v_cov)) if len(v_cov) else np.nan,
        "village_express_coverage_pop": (
            float(np.sum(pop * v_cov) / np.sum(pop)) if np.sum(pop) > 0 else np.nan
        ),
        "lead_time_p50_h": _quantile(lead, 0.5),
        "lead_time_p95_h": _quantile(lead, 0.95),
        "lead_time_max_h": float(lead.max()) if len(lead) else np.nan,
        "on_time_rate": float(on_time.sum() / determined.sum()) if determined.any() else np.nan,
        "parcels_created": float(len(state)),
        "parcels_delivered": float(np.sum(state == "delivered")),
        "parcels_in_system": float(np.sum(in_sys)),
        "parcels_spoiled": float(np.sum(state == "spoiled")),
        "parcels_failed": float(np.sum(state == "failed")),
        "backlog_county_centre": float(np.sum(in_sys & at_centre)),
        "vehicle_km": float(sum(x.km for x in parts)),
        "vehicle_hours": float(sum(x.hours for x in parts)),
        "cost_yuan": float(cost),
        "cost_shuttle_yuan": total("shuttle_yuan"),
        "cost_village_yuan": total("village_yuan"),
        "cost_fixed_yuan": total("fixed_yuan"),
        "cost_bus_yuan": total("bus_yuan"),
        "bus_parcels": total("bus_parcels"),
        "cost_per_parcel_yuan": cost / arrived if arrived else np.nan,
        "cost_per_parcel_shuttle_yuan": (total("shuttle_yuan") / arrived if arrived else np.nan),
        "cost_per_parcel_village_yuan": (total("village_yuan") / village if village else np.nan),
        "uneconomic_villages": float(sum(x.uneconomic for x in parts)),
        "subsidy_needed_yuan_per_day": float(sum(x.subsidy_per_day for x in parts)),
        "co2_kg": total("co2_kg"),
        "locker_overflows": float(sum(x.overflows for x in parts)),
        "outbound_parcels_created": float(sum(x.out_created for x in parts)),
        "outbound_parcels_shipped": float(sum(x.out_shipped for x in parts)),
        "outbound_lead_time_p50_h": _quantile(cat("out_lead"), 0.5),
        "outbound_lead_time_p95_h": _quantile(cat("out_lead"), 0.95),
        "spoilage_rate": (
            sum(x.out_spoiled for x in parts) / sum(x.out_created for x in parts)
            if sum(x.out_created for x in parts)
            else np.nan
        ),
        "locker_utilisation": (
            sum(x.locker_busy_min for x in parts) / locker_cap if locker_cap else np.nan
        ),
        "sorter_utilisation": float(sum(x.n_sorted for x in parts) / capacity),
    }
