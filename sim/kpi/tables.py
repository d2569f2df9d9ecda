"""KPI rows of one county and replication, and their aggregation to the province.

Parcel KPIs are over the cohort (:mod:`sim.kpi.cohort`); costs, km, hours and resource use are
those of the measurement window; the centre backlog is the physical queue
(:mod:`sim.kpi.backlog`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from sim.costs import Costs, county_costs, village_economics
from sim.engine import FINAL_STATES, sorting_shifts
from sim.kpi import survival
from sim.kpi.backlog import centre_queue
from sim.kpi.cohort import in_window, inbound_cohort, run_starts
from sim.kpi.coverage import Assessment, assess
from sim.measure import DAY_MIN, window
from sim.scenario import clock_minutes
from sim.world import POINT_KINDS, County


@dataclass(frozen=True)
class Parts:
    """What the province aggregate needs from one county and replication."""

    a: Assessment
    population: np.ndarray
    lead_h: np.ndarray
    reached: np.ndarray
    lead_day: np.ndarray
    state: np.ndarray
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
    out_lead_h: np.ndarray
    out_reached: np.ndarray
    locker_busy_min: float
    locker_capacity_min: float
    n_sorted: int
    capacity: float
    overtime_h: float
    loops_not_driven: int
    limit_h: float


def county_kpis(
    c: County, p_all: pd.DataFrame, t: pd.DataFrame, skipped: pd.DataFrame, end: float
) -> tuple[list[tuple], Parts]:
    """KPI rows (village, township, county) of one county and replication, and its parts."""
    sc = c.scenario
    start, w_end = window(sc)
    inbound = p_all["direction"].cat.codes.to_numpy() == 0
    p, out = p_all[inbound], p_all[~inbound]
    rep = int(p_all["replication"].to_numpy()[0]) if len(p_all) else 0
    cohort = inbound_cohort(c, p, {rep: end})
    a = assess(c, cohort, t, 1)
    costs = county_costs(c, t, p)
    econ = village_economics(c, costs)
    rows = _unit_rows(c, a, econ)
    dep = t["depart"].to_numpy()
    legs = t[(dep >= start) & (dep < w_end) & (t["kind"].to_numpy() != "bus")]
    hours = (legs["arrive"] - legs["depart"] + legs["stop_min"]).to_numpy() / 60.0
    t_point = p["t_point"].to_numpy()
    sorted_at = p["t_sorted"].to_numpy()
    shift_h = sum(b - a for a, b in sorting_shifts(sc)) / 60.0
    cohort_rows = in_window(c, p_all)
    parts = Parts(
        a=a,
        population=c.village_population,
        lead_h=cohort.lead_h,
        reached=cohort.reached,
        lead_day=np.where(cohort.reached, cohort.day_reached - cohort.day_created, 99),
        state=_state_codes(p_all["final_state"])[cohort_rows],
        queue=centre_queue(p_all, start, w_end, end),
        km=float(legs["km"].sum()),
        hours=float(hours.sum()),
        costs=costs,
        uneconomic=int(econ["uneconomic"].sum()),
        subsidy_per_day=float(econ["subsidy_yuan_per_day"].sum()),
        arrived=_in_window(t_point, start, w_end),
        overflows=int(p["locker_overflows"].to_numpy()[in_window(c, p)].sum()),
        **_outbound_parts(c, out, end),
        **cast("dict[str, Any]", _locker_use(c, p, start, w_end)),
        n_sorted=_in_window(sorted_at, start, w_end),
        capacity=sc.facilities.county_centre.sorting_capacity_per_hour
        * shift_h
        * (w_end - start)
        / DAY_MIN,
        overtime_h=_overtime_h(c, t),
        loops_not_driven=_in_window(skipped["day"].to_numpy() * DAY_MIN, start, w_end),
        limit_h=sc.kpi.max_lead_time_h,
    )
    for k, val in aggregate([parts]).items():
        rows.append(("county", c.county_code, c.county_name, k, val))
    return rows, parts


def _in_window(t: np.ndarray, start: float, end: float) -> int:
    """How many times fall in [start, end)."""
    return int(np.sum((t >= start) & (t < end)))


def _state_codes(state: pd.Series) -> np.ndarray:
    """Index into :data:`FINAL_STATES` of each row's final state."""
    mapping = pd.Index(FINAL_STATES).get_indexer(state.cat.categories)
    return mapping[state.cat.codes.to_numpy()]


def _unit_rows(c: County, a: Assessment, econ: pd.DataFrame) -> list[tuple]:
    rows: list[tuple] = []
    for i in range(c.n_villages):
        code, name = c.village_codes[i], c.village_names[i]
        for k, val in (
            ("village_express_covered", float(a.v_cov[i])),
            ("visits_per_week", a.visits[i]),
            ("visits_worst_week", a.min_visits[i]),
            ("lead_time_p95_h", a.v_p95_h[i]),
            ("parcels_created", a.v_created[i]),
            ("cost_per_parcel_yuan", econ["cost_per_parcel_yuan"].iat[i]),
            ("subsidy_yuan_per_day", econ["subsidy_yuan_per_day"].iat[i]),
        ):
            rows.append(("village", code, name, k, val))
    for i in range(c.n_townships):
        code, name = c.township_codes[i], c.township_names[i]
        for k, val in (
            ("township_point_covered", float(a.t_cov[i])),
            ("shuttle_days_served", a.served_days[i]),
            ("township_lead_time_p95_h", a.t_p95_h[i]),
            ("parcels_created", a.t_created[i]),
        ):
            rows.append(("township", code, name, k, val))
    return rows


def _overtime_h(c: County, trips: pd.DataFrame) -> float:
    """Hours vehicles were still out after their shift end, over the window's vehicle-days."""
    start, end = window(c.scenario)
    legs = trips[trips["kind"].to_numpy() != "bus"]
    if len(legs) == 0:
        return 0.0
    run_dep = run_starts(legs).to_numpy()
    keep = (run_dep >= start) & (run_dep < end)
    types = c.scenario.fleet.vehicle_types
    shift_end = {name: clock_minutes(vt.shift.end) for name, vt in types.items()}
    day = run_dep[keep] // DAY_MIN
    last = (
        pd.DataFrame(
            {"vehicle": legs["vehicle"].to_numpy()[keep], "day": day, "arrive": legs["arrive"]
             .to_numpy()[keep], "type": legs["type"].to_numpy()[keep]}
        )
        .groupby(["vehicle", "day"], sort=False)
        .agg(arrive=("arrive", "max"), type=("type", "first"))
    )  # fmt: skip
    limit = last.index.get_level_values("day").to_numpy() * DAY_MIN + np.array(
        [shift_end[x] for x in last["type"]]
    )
    return float(np.clip(last["arrive"].to_numpy() - limit, 0.0, None).sum() / 60.0)


def _outbound_parts(c: County, out: pd.DataFrame, end: float) -> dict:
    """Outbound cohort: counts and lead times from packed at the village to the trunk."""
    mine = out[in_window(c, out)]
    trunk = mine["t_trunk"].to_numpy()
    state = mine["final_state"].to_numpy()
    spoiled = state == "spoiled"
    created = mine["t_created"].to_numpy()
    shipped = ~np.isnan(trunk)
    # Spoiled parcels never reach the trunk: they leave the lead-time sample.
    return {
        "out_created": len(mine),
        "out_shipped": int(np.sum(state == "delivered")),
        "out_spoiled": int(np.sum(spoiled)),
        "out_lead_h": (np.where(shipped, trunk, end) - created)[~spoiled] / 60.0,
        "out_reached": shipped[~spoiled],
    }


def _locker_use(c: County, p: pd.DataFrame, start: float, end: float) -> dict[str, float]:
    """Parcel-minutes spent in lockers during the window, and the lockers' capacity-minutes."""
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


def carrier_rows(parts: list[Parts], names: list[str]) -> list[tuple]:
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


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else np.nan


def _service(parts: list[Parts]) -> dict[str, float]:
    """Coverage and lead-time KPIs of a region."""

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(x, name) for x in parts])

    v_cov = np.concatenate([x.a.v_cov for x in parts])
    t_cov = np.concatenate([x.a.t_cov for x in parts])
    pop = cat("population")
    lead, reached, lead_day = cat("lead_h"), cat("reached"), cat("lead_day")
    limit = parts[0].limit_h
    determined = reached | (lead >= limit)
    n = len(lead)
    (p50, p95), mean = survival.summary(lead, reached, (0.5, 0.95))
    return {
        "county_hub_coverage": float(np.mean([x.a.c_cov for x in parts])),
        "township_point_coverage": float(np.mean(t_cov)) if len(t_cov) else np.nan,
        "village_express_coverage": float(np.mean(v_cov)) if len(v_cov) else np.nan,
        "village_express_coverage_pop": _ratio(float(np.sum(pop * v_cov)), float(np.sum(pop))),
        "lead_time_p50_h": p50,
        "lead_time_p95_h": p95,
        "lead_time_mean_h": mean,
        "lead_time_max_h": float(lead[reached].max()) if reached.any() else np.nan,
        "lead_same_day_share": _ratio(float(np.sum(lead_day == 0)), n),
        "lead_next_day_share": _ratio(float(np.sum(lead_day == 1)), n),
        "lead_later_share": _ratio(float(np.sum(lead_day >= 2)), n),
        "lead_unresolved_share": _ratio(float(np.sum(~reached)), n),
        "on_time_rate": _ratio(float(np.sum(reached & (lead <= limit))), float(determined.sum())),
    }


def aggregate(parts: list[Parts]) -> dict[str, float]:
    """Region-level KPIs of one replication from its counties' parts."""

    def total(cost: str) -> float:
        return float(sum(getattr(x.costs, cost) for x in parts))

    def add(name: str) -> float:
        return float(sum(getattr(x, name) for x in parts))

    state = np.concatenate([x.state for x in parts])
    counts = np.bincount(state.astype(np.int64), minlength=len(FINAL_STATES))
    cost = total("total_yuan")
    arrived = add("arrived")
    village = sum(x.costs.village_parcels.sum() for x in parts)
    out_created = add("out_created")
    grid = np.sum([x.queue["grid"] for x in parts], axis=0)
    queue = {k: float(sum(x.queue[k] for x in parts)) for k in ("unsorted", "sorted", "outbound")}
    out_lead = np.concatenate([x.out_lead_h for x in parts])
    out_reached = np.concatenate([x.out_reached for x in parts])
    (out_p50, out_p95), _ = survival.summary(out_lead, out_reached, (0.5, 0.95))
    return {
        **_service(parts),
        "parcels_created": float(len(state)),
        **{f"parcels_{s}": float(counts[i]) for i, s in enumerate(FINAL_STATES)},
        "backlog_county_centre": queue["unsorted"] + queue["sorted"],
        "backlog_county_centre_unsorted": queue["unsorted"],
        "backlog_county_centre_sorted": queue["sorted"],
        "backlog_county_centre_max": float(grid.max()) if np.size(grid) else 0.0,
        "backlog_county_centre_outbound": queue["outbound"],
        "vehicle_km": add("km"),
        "vehicle_hours": add("hours"),
        "vehicle_days": total("vehicle_days"),
        "overtime_h": add("overtime_h"),
        "loops_not_driven": add("loops_not_driven"),
        "cost_yuan": cost,
        "cost_shuttle_yuan": total("shuttle_yuan"),
        "cost_village_yuan": total("village_yuan"),
        "cost_driver_yuan": total("driver_yuan"),
        "cost_fixed_yuan": total("fixed_yuan"),
        "cost_bus_yuan": total("bus_yuan"),
        "bus_parcels": total("bus_parcels"),
        "cost_per_parcel_yuan": _ratio(cost, arrived),
        "cost_per_parcel_shuttle_yuan": _ratio(total("shuttle_yuan"), arrived),
        "cost_per_parcel_village_yuan": _ratio(total("village_yuan"), village),
        "uneconomic_villages": add("uneconomic"),
        "subsidy_needed_yuan_per_day": add("subsidy_per_day"),
        "co2_kg": total("co2_kg"),
        "locker_overflows": add("overflows"),
        "outbound_parcels_created": out_created,
        "outbound_parcels_shipped": add("out_shipped"),
        "outbound_lead_time_p50_h": out_p50,
        "outbound_lead_time_p95_h": out_p95,
        "spoilage_rate": _ratio(add("out_spoiled"), out_created),
        "locker_utilisation": _ratio(add("locker_busy_min"), add("locker_capacity_min")),
        "sorter_utilisation": _ratio(add("n_sorted"), add("capacity")),
    }
