"""A commented starting scenario for any county: ``ruralsim new COUNTY_CODE --out FILE``.

The fleet is sized from the county's townships and villages (NBS 2023 divisions) and the
daily demand, with room to spare, so the network does not collapse on its first run:

- sorting: a day's parcels within about 8 hours of the two shifts;
- shuttles (light trucks of 1,200 parcels, two departures): the busier departure carries
  about two thirds of a day's parcels, and each truck is loaded to at most 80%;
- village vans (300 parcels, loaded to 90% as the planner does): each township gets the vans
  its own villages need on one daily loop departure, at least one.

Then :func:`new_scenario` builds the county and, while the build warns that the shuttles or
the vans are short, adds to the tier that is short and builds again (a few rounds).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sim.errors import UsageError

#: Parcels a light truck and a van carry (the shipped scenarios' figures, [U]).
TRUCK_PARCELS, VAN_PARCELS = 1200, 300

_TEMPLATE = """\
# {name} ({code}): a starting scenario written by `ruralsim new {code}`.
# {n_town} townships, {n_vil} village-level units (NBS 2023 division codes); roads and point
# positions are synthetic until OpenStreetMap roads are cached (`ruralsim geodata fetch {code}`).
# The fleet is sized for {rate:g} inbound parcels per village and day ({daily:,} a day) with
# room to spare; check it with `ruralsim validate --build FILE` and a first run.
# Figures marked [U] are assumptions to calibrate (see the README's scenario format).
schema_version: 1
name: new_{code}
description: {name} starting scenario
region:
  county: "{code}"
  terrain: {terrain}             # plains | hills | mountain (road speeds x1, x0.85, x0.7)
start_date: 2026-03-02           # a Monday
horizon_days: 16                 # 2 days of warm-up, then a 2-week measurement window
warmup_days: 2
seed: 1
replications: 3
facilities:
  county_centre:
    sorting_capacity_per_hour: {sorting}   # a day's parcels in about 8 of the shifts' hours
    shifts:
      - {{start: "04:00", end: "12:00"}}
      - {{start: "13:00", end: "19:00"}}
    trunk_arrivals:
      - {{time: "05:30", share: 0.7}}   # night trunk from the provincial hub
      - {{time: "13:30", share: 0.3}}   # midday wave [U]
  village_points:
    villages: all                # a service point in every village
fleet:
  vehicle_types:
    light_truck:                 # county centre -> township shuttles
      {{capacity_parcels: {truck}, max_speed_kmh: 60, cost_per_km_yuan: 1.6, cost_per_day_yuan: 60}}
    van: {{capacity_parcels: {van}, max_speed_kmh: 50, cost_per_km_yuan: 0.8}}   # village loops
  county_centre: {{light_truck: {trucks}}}
  township_default: {{van: {vans}}}
{townships}schedules:
  shuttle_departures: ["07:30", "15:00"]
  village_departures: ["10:00"]
  visits_per_week: 7
  max_loop_h: 8
demand:
  inbound:
    mode: flat
    parcels_per_village_per_day: {rate:g}   # 20-50 in published anecdotes [U]
kpi:
  min_visits_per_week: 5
  max_lead_time_h: 48
"""


def fleet_for(
    villages_per_township: dict[str, int], rate: float, *, more_trucks: int = 0, more_vans: int = 0
) -> dict[str, Any]:
    """Sorting capacity, trucks, default vans and per-township vans for a county (with
    ``more_trucks`` and ``more_vans`` on top, each township getting ``more_vans`` more)."""
    daily = sum(villages_per_township.values()) * rate
    vans = {
        t: max(1, math.ceil(n * rate / (VAN_PARCELS * 0.9))) + more_vans
        for t, n in villages_per_township.items()
    }
    usual = sorted(vans.values())[len(vans) // 2] if vans else 1
    return {
        "daily": round(daily),
        "sorting": max(100, math.ceil(daily / 8 / 100) * 100),
        "trucks": max(1, math.ceil(daily * 2 / 3 / (TRUCK_PARCELS * 0.8))) + more_trucks,
        "vans": usual,
        "townships": {t: v for t, v in vans.items() if v != usual},
    }


def scenario_text(
    code: str,
    *,
    rate: float = 30.0,
    terrain: str = "hills",
    more_trucks: int = 0,
    more_vans: int = 0,
) -> str:
    """The commented YAML of a county's starting scenario (see :func:`fleet_for`)."""
    from sim.geodata.divisions import unit

    u = unit(code)
    if u.level != "county":
        raise UsageError(f"ruralsim new {code}: {code} is a {u.level}; give a county code")
    per_town = _per_town(code)
    f = fleet_for(per_town, rate, more_trucks=more_trucks, more_vans=more_vans)
    overrides = "".join(f'    "{t}": {{van: {v}}}\n' for t, v in sorted(f["townships"].items()))
    townships = f"  townships:\n{overrides}" if overrides else ""
    return _TEMPLATE.format(
        code=code,
        name=u.name,
        n_town=len(per_town),
        n_vil=sum(per_town.values()),
        rate=rate,
        terrain=terrain,
        daily=f["daily"],
        sorting=f["sorting"],
        truck=TRUCK_PARCELS,
        van=VAN_PARCELS,
        trucks=f["trucks"],
        vans=f["vans"],
        townships=townships,
    )


def new_scenario(code: str, out: Path, *, rate: float = 30.0, terrain: str = "hills") -> list[str]:
    """Write ``out`` and return the build's remaining warnings (empty when none).

    The county is built; while its warnings say the shuttles are short (overtime, departures
    over capacity), a truck is added, and while a township's vans cannot work their loops, a
    van is added there; at most four rounds.
    """
    import yaml

    from sim.build import build
    from sim.scenario import scenario_from_dict

    trucks = vans = 0
    step = max(1, fleet_for(_per_town(code), rate)["trucks"] // 4)  # trucks added per round
    for _ in range(4):
        text = scenario_text(code, rate=rate, terrain=terrain, more_trucks=trucks, more_vans=vans)
        world = build(scenario_from_dict(yaml.safe_load(text), source=out))
        warnings = list(world.warnings)
        short_trucks = any("shuttle" in w and "fleet.county_centre" in w for w in warnings)
        short_vans = any("van-hours" in w for w in warnings)
        if not (short_trucks or short_vans):
            break
        trucks += step * short_trucks
        vans += int(short_vans)
    from sim._files import write_atomic

    try:  # a new file in a new folder, as `run --out` makes its folder
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot make its folder ({exc.strerror or exc})") from None
    write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return warnings


def _per_town(code: str) -> dict[str, int]:
    from sim.geodata.divisions import child_codes

    return {t: len(child_codes(t)) for t in child_codes(code)}
