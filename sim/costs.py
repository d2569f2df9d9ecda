"""Costs of a county's run: by tier, per village, and the subsidy that keeps villages served.

Every vehicle of the fleet costs its driver's wage (``driver_cost_per_day_yuan``) and its fixed
cost (``cost_per_day_yuan``: depreciation, insurance) on every day of the measurement window,
whether it drives or not; each leg it drives adds ``km x cost_per_km_yuan`` and, where set,
``hours x cost_per_hour_yuan`` (hours on the road plus the stop at its end). A vehicle's daily
costs are shared equally among its runs in the window. Tiers are the shuttles (county centre to
township points) and the village loops (township points to villages).

Village costs use the proportional stand-alone cost rule: the cost of each village-loop run is
split among the villages it served in proportion to each village's stand-alone cost, taken as
the round-trip time from its township point to the village alone. Remote villages thus carry
more of a loop than villages next to the township, while the shares add up to the run's cost.
Villages on a rural bus line (客货邮) cost the bus fee per parcel carried instead.
A village is uneconomic when its cost per parcel exceeds the last-mile fee
(``economics.revenue_per_parcel_yuan``); the subsidy it needs is its cost minus its fee income,
per day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.measure import window, window_days
from sim.world import County


@dataclass(frozen=True)
class Costs:
    """Costs of one county and replication over the measured window.

    Attributes
    ----------
    shuttle_yuan, village_yuan
        Tier costs (variable and fixed); the village tier includes bus fees.
    bus_yuan, bus_parcels
        Fees paid to bus operators, and the parcels they carried to villages.
    fixed_yuan, driver_yuan
        The parts of both that are paid per vehicle-day: the vehicles' fixed costs and the
        drivers' wages, for every vehicle of the fleet on every day of the window.
    vehicle_days
        Vehicles of the fleet (buses excluded) times days of the window.
    co2_kg
        Emissions of all legs.
    village_yuan_each
        Village-loop cost allocated to each village (per village index).
    village_parcels
        Parcels delivered to each village's point in the window.
    carrier_own_yuan, carrier_shared_yuan, carrier_parcels
        Per carrier: the cost of its own village vehicles, its share of the shared costs
        (shuttles, co-delivery vehicles, bus fees) in proportion to its parcels, and its
        inbound parcels that reached their collection point in the window.
    """

    shuttle_yuan: float
    village_yuan: float
    bus_yuan: float
    bus_parcels: int
    fixed_yuan: float
    driver_yuan: float
    vehicle_days: float
    co2_kg: float
    village_yuan_each: np.ndarray
    village_parcels: np.ndarray
    carrier_own_yuan: np.ndarray
    carrier_shared_yuan: np.ndarray
    carrier_parcels: np.ndarray

    @property
    def total_yuan(self) -> float:
        """All vehicle costs."""
        return self.shuttle_yuan + self.village_yuan


def county_costs(c: County, trips: pd.DataFrame, parcels: pd.DataFrame) -> Costs:
    """Costs of a county's legs departing in the measured window (see the module notes)."""
    sc = c.scenario
    start, end = window(sc)
    dep = trips["depart"].to_numpy()
    # The bus runs anyway: the carrier pays a fee per parcel instead.
    legs = trips[(dep >= start) & (dep < end) & (trips["kind"] != "bus").to_numpy()]
    types = sc.fleet.vehicle_types
    km = legs["km"].to_numpy()
    co2 = _per_type(legs["type"], {k: t.co2_kg_per_km for k, t in types.items()})
    days = window_days(sc) * _n_reps(trips)
    fleet = [v for v in c.vehicles if not v.vtype.startswith("bus:")]
    fixed = {v.id: types[v.vtype].cost_per_day_yuan * days for v in fleet}
    driver = {v.id: types[v.vtype].driver_cost_per_day_yuan * days for v in fleet}
    daily = pd.Series({v: fixed[v] + driver[v] for v in fixed}, dtype=float)
    runs = _runs(legs, types, daily)
    active = set(runs["vehicle"])
    idle = [v for v in fleet if v.id not in active]  # still paid for their days

    t_point = parcels["t_point"].to_numpy()
    arrived = (t_point >= start) & (t_point < end)
    delivered = arrived & ~parcels["held_at_township"].to_numpy()
    codes = parcels["village_code"]
    mapping = local_mapping(codes, c.village_codes)
    local = mapping[codes.cat.codes.to_numpy()[delivered]]
    n_parcels = np.bincount(local[local >= 0], minlength=c.n_villages).astype(float)
    bus_fee, n_bus = _bus_fees(c, parcels, delivered, mapping)
    alloc = _village_allocation(c, legs, runs) + bus_fee + _idle_allocation(c, idle, daily)
    inbound = (parcels["direction"] == "inbound").to_numpy()
    carriers = parcels["carrier"].cat.codes.to_numpy()[arrived & inbound]
    own, shared, carrier_parcels = _carrier_split(
        c, runs, idle, daily, carriers, float(bus_fee.sum())
    )
    shuttle_ids = {v.id for v in c.shuttles}
    is_shuttle = runs["kind"].to_numpy() == "shuttle"
    idle_shuttle = sum(daily[v.id] for v in idle if v.id in shuttle_ids)
    idle_village = sum(daily[v.id] for v in idle if v.id not in shuttle_ids)
    return Costs(
        carrier_own_yuan=own,
        carrier_shared_yuan=shared,
        carrier_parcels=carrier_parcels,
        shuttle_yuan=float(runs.loc[is_shuttle, "total"].sum()) + idle_shuttle,
        village_yuan=float(runs.loc[~is_shuttle, "total"].sum())
        + float(bus_fee.sum())
        + idle_village,
        bus_yuan=float(bus_fee.sum()),
        bus_parcels=int(n_bus.sum()),
        fixed_yuan=float(sum(fixed.values())),
        driver_yuan=float(sum(driver.values())),
        vehicle_days=float(len(fleet) * days),
        co2_kg=float(np.sum(km * co2)),
        village_yuan_each=alloc,
        village_parcels=n_parcels,
    )


def _runs(legs: pd.DataFrame, types: dict, daily: pd.Series) -> pd.DataFrame:
    """One row per run: vehicle, kind, variable cost, share of its vehicle's days, total.

    A vehicle's fixed and driver costs over the window are shared equally by its runs.
    """
    km_cost = _per_type(legs["type"], {k: t.cost_per_km_yuan for k, t in types.items()})
    hour_cost = _per_type(legs["type"], {k: t.cost_per_hour_yuan for k, t in types.items()})
    hours = (legs["arrive"] - legs["depart"] + legs["stop_min"]).to_numpy() / 60.0
    variable = legs["km"].to_numpy() * km_cost + hours * hour_cost
    # Runs in the order they first appear; each run's vehicle and kind are its first leg's.
    run, keys = pd.factorize(_run_keys(legs))
    _, first = np.unique(run, return_index=True)
    vehicle = np.asarray(legs["vehicle"].to_numpy(), dtype=object)[first]
    # (pandas' group sums are compensated: the same sums as before, to the last bit)
    cost = pd.Series(variable).groupby(run, sort=False).sum().to_numpy()
    by_vehicle = pd.factorize(vehicle)[0]
    n_runs = np.bincount(by_vehicle)[by_vehicle] if len(vehicle) else np.zeros(0)
    fixed = daily.reindex(vehicle).to_numpy(dtype=float) / np.maximum(n_runs, 1)
    return pd.DataFrame(
        {
            "vehicle": vehicle,
            "kind": np.asarray(legs["kind"].to_numpy(), dtype=object)[first],
            "cost": cost,
            "fixed": fixed,
            "total": cost + fixed,
        },
        index=pd.Index(keys, name="key"),
    )


def _per_type(vtype: pd.Series, value: dict[str, float]) -> np.ndarray:
    """``value`` of each leg's vehicle type (NaN for a type without one)."""
    codes, names = pd.factorize(vtype)
    table = np.array([value.get(str(x), np.nan) for x in names], dtype=float)
    return table[codes] if len(codes) else np.zeros(0)


def _village_allocation(c: County, legs: pd.DataFrame, runs: pd.DataFrame) -> np.ndarray:
    """Village-loop runs' costs split among their villages by stand-alone round-trip time."""
    vidx = _to_local(legs["to_code"], c.village_codes)
    stop = legs["kind"].isin(["village_loop", "collection"]).to_numpy() & (vidx >= 0)
    if not stop.any():
        return np.zeros(c.n_villages)
    v = vidx[stop]
    vf = v + 1 + c.n_townships
    base = c.village_township[v] + 1
    weight = np.empty(len(v))
    vtype, uniques = pd.factorize(legs["type"])
    vtype, names = vtype[stop], [str(x) for x in uniques]
    for name, tm in c.time_min.items():
        mask = vtype == (names.index(name) if name in names else -1)
        weight[mask] = tm[base[mask], vf[mask]] + tm[vf[mask], base[mask]]
    weight = np.maximum(weight, 1e-9)
    key = _run_keys(legs)[stop]
    run, _ = pd.factorize(key)
    share = weight / pd.Series(weight).groupby(run).transform("sum").to_numpy()
    total = share * runs["total"].to_numpy()[runs.index.get_indexer(pd.Index(key))]
    return np.bincount(v, weights=total, minlength=c.n_villages)


def _to_local(codes: pd.Series, local: np.ndarray) -> np.ndarray:
    """Index of each row's code (categorical or text) in ``local``, -1 where absent."""
    if isinstance(codes.dtype, pd.CategoricalDtype):
        return local_mapping(codes, local)[codes.cat.codes.to_numpy()]
    return pd.Index(local).get_indexer(codes)


def _bus_fees(
    c: County, parcels: pd.DataFrame, delivered: np.ndarray, mapping: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per village: bus fees paid for the parcels a bus brought, and those parcels."""
    bus_fee = np.zeros(c.n_villages)
    n_bus = np.zeros(c.n_villages)
    if not c.buses:
        return bus_fee, n_bus
    names = {b.vtype for b in c.buses}
    lines = c.scenario.buses
    fees = np.array([ln.fee_per_parcel_yuan for ln in lines if f"bus:{ln.name}" in names])
    # Bus parcels never pass a township point.
    by_bus = delivered & np.isnan(parcels["t_township"].to_numpy())
    local_bus = mapping[parcels["village_code"].cat.codes.to_numpy()[by_bus]]
    n_bus = np.bincount(local_bus[local_bus >= 0], minlength=c.n_villages).astype(float)
    line = c.village_bus
    assert line is not None  # build_county always sets village_bus
    on_line = line >= 0
    bus_fee[on_line] = n_bus[on_line] * fees[line[on_line]]
    return bus_fee, n_bus


def _carrier_split(
    c: County,
    runs: pd.DataFrame,
    idle: list,
    daily: pd.Series,
    carriers: np.ndarray,
    bus_fees: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per carrier: its own vehicles' cost, its share of the shared costs, its parcels.

    Shared costs (shuttles, co-delivery vehicles, bus fees) are split in proportion to the
    carriers' inbound parcels that reached their point in the window (``carriers``: the
    carrier code of each).
    """
    n_c = len(c.scenario.carriers)
    village_ids = {v.id for v in c.village_vehicles}
    lane_of = {v.id: v.lane if v.id in village_ids else n_c for v in c.vehicles}
    lane = np.array([lane_of.get(v, n_c) for v in runs["vehicle"]], dtype=np.int64)
    total = runs["total"].to_numpy()
    own = np.bincount(lane[lane < n_c], weights=total[lane < n_c], minlength=n_c)
    pool = float(total[lane >= n_c].sum()) + bus_fees
    for v in idle:
        if lane_of[v.id] < n_c:
            own[lane_of[v.id]] += daily[v.id]
        else:
            pool += daily[v.id]
    parcels = np.bincount(carriers, minlength=n_c)
    parcels = parcels.astype(float)[:n_c]
    weight = parcels / parcels.sum() if parcels.sum() else np.full(n_c, 1.0 / n_c)
    return own, pool * weight, parcels


def _n_reps(trips: pd.DataFrame) -> int:
    return max(int(trips["replication"].nunique()), 1)


def _idle_allocation(c: County, idle: list, daily: pd.Series) -> np.ndarray:
    """Costs of village vehicles without a run, shared evenly by their township's villages."""
    out = np.zeros(c.n_villages)
    shuttle_ids = {v.id for v in c.shuttles}
    for v in idle:
        if v.id in shuttle_ids:
            continue
        mine = np.flatnonzero((c.village_township == v.base - 1) & c.village_served)
        if len(mine):
            out[mine] += daily[v.id] / len(mine)
    return out


def _run_keys(legs: pd.DataFrame) -> np.ndarray:
    """A key per leg naming its run (replication and run number) as one integer."""
    rep = legs["replication"].to_numpy().astype(np.int64)
    return rep * (1 << 32) + legs["run"].to_numpy().astype(np.int64)


def local_mapping(codes: pd.Series, local: np.ndarray) -> np.ndarray:
    """Per category of ``codes``, its index in ``local`` (-1 if absent).

    The engine's categories list each county's codes as one run in the county's order;
    then only that run is compared, not the region's whole list.
    """
    cats = codes.cat.categories
    first = cats.get_indexer(pd.Index(local[:1]))[0] if len(local) else -1
    run = cats[first : first + len(local)] if first >= 0 else cats[:0]
    if len(run) == len(local) and np.array_equal(run.to_numpy(), np.asarray(local)):
        mapping = np.full(len(cats), -1, dtype=np.int64)
        mapping[first : first + len(local)] = np.arange(len(local))
        return mapping
    return pd.Index(local).get_indexer(cats)


def village_economics(c: County, costs: Costs, n_reps: int = 1) -> pd.DataFrame:
    """Per village: cost per parcel, whether it pays for itself, subsidy needed per day.

    ``costs`` may pool several replications; ``n_reps`` then divides the daily figures.
    """
    sc = c.scenario
    days = window_days(sc) * n_reps
    fee = sc.economics.revenue_per_parcel_yuan
    n = costs.village_parcels
    cost = costs.village_yuan_each
    with np.errstate(divide="ignore", invalid="ignore"):
        per_parcel = np.where(n > 0, cost / n, np.nan)
    subsidy = np.maximum(cost - fee * n, 0.0) / days
    return pd.DataFrame(
        {
            "cost_per_parcel_yuan": per_parcel,
            "uneconomic": (cost > fee * n) & (cost > 0),
            "subsidy_yuan_per_day": subsidy,
        }
    )
