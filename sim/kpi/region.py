"""Region-level KPIs (province and carrier rows) from the compact parts of its counties.

A region's KPIs pool its counties: coverage shares over all their units, lead-time
percentiles over all their parcels, sums of counts, km and cost. Each (county, replication)
contributes a :class:`~sim.kpi.tables.Parts`; :func:`region_rows` needs nothing else, so a
streaming pipeline can compute the counties one at a time, keep their parts, and call it at
the end. A region of several counties takes its lead-time percentiles and mean from the
parts' float32 lead times; every other value is exact.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.engine import FINAL_STATES
from sim.kpi import survival

if TYPE_CHECKING:
    from sim.kpi.tables import Parts

PROVINCE = ("14", "山西省")


def region_rows(
    parts_by_rep: Mapping[int, Sequence[Parts]],
    carrier_names: Sequence[str],
    *,
    scopes: Collection[str] | None = None,
) -> pd.DataFrame:
    """Province and carrier rows of every replication from its counties' parts.

    Parameters
    ----------
    parts_by_rep
        Replication -> the parts of each county of the region in that replication
        (:func:`sim.kpi.tables.county_block`), in county order.
    carrier_names
        The scenario's carriers, in order (``[c.name for c in scenario.carriers]``).
    scopes
        Which of "province" and "carrier" rows to return (others are ignored); None for both.

    Returns
    -------
    pandas.DataFrame
        Columns replication, scope, code, name, kpi, value; per replication the province
        rows, then the carrier rows. A region of one county has that county's values.
    """
    want = {"province", "carrier"} if scopes is None else set(scopes)
    frames = []
    for r, parts in parts_by_rep.items():
        rows: list[tuple] = []
        if "province" in want:
            values = parts[0].values if len(parts) == 1 else region_values(parts)
            rows += [("province", *PROVINCE, k, v) for k, v in values.items()]
        if "carrier" in want:
            rows += carrier_rows(parts, carrier_names)
        frame = pd.DataFrame(rows, columns=["scope", "code", "name", "kpi", "value"])
        frames.append(frame.assign(replication=r))
    columns = ["replication", "scope", "code", "name", "kpi", "value"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def region_values(parts: Sequence[Parts]) -> dict[str, float]:
    """KPIs of a region of one replication from its counties' parts (lead times tallied:
    :func:`sim.kpi.survival.summary_encoded`)."""
    (p50, p95), mean = survival.summary_encoded([x.lead for x in parts], (0.5, 0.95))
    (out_p50, out_p95), _ = survival.summary_encoded([x.out_lead for x in parts], (0.5, 0.95))
    return aggregate(parts, (p50, p95, mean), (out_p50, out_p95))


def carrier_rows(parts: Sequence[Parts], names: Sequence[str]) -> list[tuple]:
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


def _service(parts: Sequence[Parts], lead: tuple[float, float, float]) -> dict[str, float]:
    """Coverage and lead-time KPIs of a region; ``lead`` is its (p50, p95, mean) in hours."""

    def add(name: str) -> float:
        return float(sum(getattr(x, name) for x in parts))

    v_cov = np.concatenate([x.v_cov for x in parts])
    t_cov = np.concatenate([x.t_cov for x in parts])
    pop = np.concatenate([x.population for x in parts])
    n = sum(x.lead.n for x in parts)
    longest = [x.lead_max_h for x in parts if not np.isnan(x.lead_max_h)]
    return {
        "county_hub_coverage": float(np.mean([x.c_cov for x in parts])),
        "township_point_coverage": float(np.mean(t_cov)) if len(t_cov) else np.nan,
        "village_express_coverage": float(np.mean(v_cov)) if len(v_cov) else np.nan,
        "village_express_coverage_pop": _ratio(float(np.sum(pop * v_cov)), float(np.sum(pop))),
        "lead_time_p50_h": lead[0],
        "lead_time_p95_h": lead[1],
        "lead_time_mean_h": lead[2],
        "lead_time_max_h": float(max(longest)) if longest else np.nan,
        "lead_same_day_share": _ratio(add("n_same_day"), n),
        "lead_next_day_share": _ratio(add("n_next_day"), n),
        "lead_later_share": _ratio(add("n_later"), n),
        "lead_unresolved_share": _ratio(float(sum(x.lead.n_censored for x in parts)), n),
        "on_time_rate": _ratio(add("n_on_time"), add("n_determined")),
    }


def aggregate(
    parts: Sequence[Parts],
    lead: tuple[float, float, float],
    out_lead: tuple[float, float],
) -> dict[str, float]:
    """Region-level KPIs of one replication from its counties' parts.

    ``lead`` (p50, p95, mean) and ``out_lead`` (p50, p95) are the lead-time statistics of
    the region's inbound and outbound parcels, computed by the caller: from full precision
    for one county (:func:`~sim.kpi.tables.county_block`), from the parts for a region
    (:func:`region_values`).
    """

    def total(cost: str) -> float:
        return float(sum(getattr(x.costs, cost) for x in parts))

    def add(name: str) -> float:
        return float(sum(getattr(x, name) for x in parts))

    counts = np.sum([x.states for x in parts], axis=0)
    cost = total("total_yuan")
    arrived = add("arrived")
    village = sum(x.costs.village_parcels.sum() for x in parts)
    out_created = add("out_created")
    grid = np.zeros(len(parts[0].queue["grid"]) if parts else 0, dtype=np.int64)
    for x in parts:  # in place: a stack of a province-year's grids would take a gigabyte
        grid += x.queue["grid"]
    queue = {k: float(sum(x.queue[k] for x in parts)) for k in ("unsorted", "sorted", "outbound")}
    return {
        **_service(parts, lead),
        "parcels_created": float(counts.sum()),
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
        "outbound_lead_time_p50_h": out_lead[0],
        "outbound_lead_time_p95_h": out_lead[1],
        "spoilage_rate": _ratio(add("out_spoiled"), out_created),
        "locker_utilisation": _ratio(add("locker_busy_min"), add("locker_capacity_min")),
        "sorter_utilisation": _ratio(add("n_sorted"), add("capacity")),
    }
