"""Scenario schema v1: a validated, frozen description of one simulation experiment.

A scenario is data. It is written in YAML, loaded by :func:`sim.load.load_scenario` and
validated by the pydantic models here and in ``sim/_schema_*.py`` (field types, facilities and
fleet, demand), which reject unknown keys, wrong types and impossible values. Every field
documents itself (its unit is in its name or description), and ``ruralsim schema`` prints the
JSON Schema generated from these models for editors. The schema checks shape and ranges only:
whether the codes it names exist in its region is checked against the geodata by
:mod:`sim.region`, for the world builder and the loader.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from sim._schema_demand import (
    MAX_POPULATION,
    Calendar,
    Demand,
    DemandEvent,
    InboundDemand,
    OutboundDemand,
    Specialty,
)
from sim._schema_fleet import (
    MAX_VEHICLES,
    CountyCentre,
    Facilities,
    Fleet,
    Planning,
    Schedules,
    Shift,
    Townships,
    TrunkArrival,
    TrunkDeparture,
    VehicleType,
    VillagePoints,
)
from sim._schema_types import (
    ClockTime,
    CountyCode,
    Date,
    Label,
    PointKind,
    PrefectureCode,
    ProvinceCode,
    StrictModel,
    Terrain,
    TownshipCode,
    VillageCode,
    clock_minutes,
    codes_keys_to_str,
)
from sim.errors import ScenarioError

__all__ = [
    "MAX_POPULATION",
    "MAX_VEHICLES",
    "SCHEMA_VERSION",
    "BusLine",
    "Calendar",
    "Carrier",
    "ClockTime",
    "CoDelivery",
    "CountyCentre",
    "CountyCode",
    "Demand",
    "DemandEvent",
    "Economics",
    "Facilities",
    "Fleet",
    "InboundDemand",
    "Kpi",
    "OutboundDemand",
    "Pickup",
    "Planning",
    "PointKind",
    "Region",
    "Scenario",
    "Schedules",
    "Shift",
    "Specialty",
    "Terrain",
    "TownshipCode",
    "Townships",
    "TrunkArrival",
    "TrunkDeparture",
    "VehicleType",
    "VillageCode",
    "VillagePoints",
    "clock_minutes",
    "scenario_from_dict",
    "scenario_json_schema",
]

SCHEMA_VERSION = 1


class Region(StrictModel):
    """Where the scenario plays: one county, several, a prefecture or the whole province.

    Give exactly one of ``county``, ``counties``, ``prefecture`` and ``province``. Every county
    gets the same facilities, fleet and schedules; per-unit overrides name their codes.
    """

    county: CountyCode | None = Field(
        None, description="statistical code of one county, e.g. '140821' 临猗县"
    )
    counties: list[CountyCode] | None = Field(
        None, min_length=1, description="several counties by code"
    )
    prefecture: PrefectureCode | None = Field(
        None, description="a prefecture: all its counties, e.g. '1411' 吕梁市"
    )
    province: ProvinceCode | None = Field(None, description="'14' for all 117 counties of Shanxi")
    terrain: Terrain = Field(
        "plains",
        description="terrain class; scales road speeds (plains 1.0, hills 0.85, mountain 0.7)",
    )
    terrain_by_county: Annotated[dict[CountyCode, Terrain], BeforeValidator(codes_keys_to_str)] = (
        Field(default_factory=dict, description="per-county terrain overrides")
    )
    road_network: Literal["auto", "synthetic", "osm"] = Field(
        "auto",
        description="road graph of each county: 'osm' requires cached OpenStreetMap data "
        "(`ruralsim geodata fetch` or `import`), 'synthetic' always uses the seeded offline "
        "network, 'auto' uses OpenStreetMap where cached and synthetic elsewhere",
    )
    speeds_kmh: dict[Annotated[str, Field(pattern=r"^[a-z_]+$")], Annotated[float, Field(gt=0)]] = (
        Field(
            default_factory=dict,
            description="km/h per OSM highway class, overriding the defaults (e.g. tertiary: 45); "
            "synthetic county/township/village roads are tertiary/unclassified/residential",
        )
    )
    snap_max_m: float = Field(
        500,
        gt=0,
        description="a facility farther than this from the road graph gets a connector road",
    )
    connector_speed_kmh: float = Field(
        15, gt=0, description="speed on connector roads added for far or isolated facilities"
    )
    connector_circuity: float = Field(
        1.3, ge=1, description="connector length = straight distance x this factor"
    )

    @model_validator(mode="after")
    def _one_scope(self) -> Region:
        given = [k for k in ("county", "counties", "prefecture", "province") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of region.county, region.counties, region.prefecture and "
                f"region.province (got {', '.join(given) or 'none'})"
            )
        return self


class Pickup(StrictModel):
    """How villagers collect their parcels."""

    mean_delay_h: float = Field(
        8, gt=0, description="mean hours from arrival at a village point to pickup (exponential)"
    )
    outlet_mean_delay_h: float = Field(
        6, gt=0, description="mean hours to pickup at a partner outlet (shop opening hours)"
    )
    locker_mean_delay_h: float = Field(12, gt=0, description="mean hours to pickup from a locker")
    township_mean_delay_h: float = Field(
        24,
        gt=0,
        description="mean hours to pickup for parcels held at a township point "
        "(villages without a point or a visit), before the distance term",
    )
    delay_h_per_km: float = Field(
        0.5,
        ge=0,
        description="extra mean hours per km from the village to the township point where "
        "its parcels wait (villagers farther away come less often)",
    )
    max_hold_days: float = Field(
        7, gt=0, le=366, description="days a point holds a parcel before returning it as unclaimed"
    )


class BusLine(StrictModel):
    """A rural bus line that also carries parcels (客货邮融合).

    The bus leaves the county bus station at the county seat, where the sorted parcels of its
    villages wait, calls at its villages in order and returns. Villages on a line get their
    parcels by bus instead of a van loop (and send their outbound parcels back with it), or,
    with ``share_of_parcels`` below 1, that share by bus and the rest by the van loops.
    """

    name: Label = Field(description="line name (any printable text, e.g. 临县1路)")
    stops: list[VillageCode] = Field(
        min_length=1, description="village codes the line calls at, in order"
    )
    departures: list[ClockTime] = Field(
        min_length=1, description="daily departures from the county bus station"
    )
    capacity_parcels: int = Field(
        gt=0,
        description="parcels a run may carry (national average ~390 per route and day, "
        "Yucheng ~700: domain notes)",
    )
    fee_per_parcel_yuan: float = Field(
        0.5, ge=0, description="what the carrier pays the bus operator per parcel carried [U]"
    )
    max_speed_kmh: float = Field(50, gt=0, description="bus speed cap on the roads")
    stop_min: float = Field(2, ge=0, description="minutes at each stop")
    share_of_parcels: float = Field(
        1.0,
        gt=0,
        le=1,
        description="share of its villages' inbound parcels the line carries: 1 replaces the "
        "van loops of those villages (alternative), less keeps the vans for the rest "
        "(complement)",
    )
    reorder: bool = Field(
        True,
        description="visit the stops in nearest-neighbour order from the station instead of "
        "the order given (useful where village positions are synthetic)",
    )


class Carrier(StrictModel):
    """An express brand (快递品牌): its share of the parcels and how its own vans visit villages.

    The visit rules apply where the brand runs its own vans (townships without co-delivery);
    shared vans visit as ``schedules`` says.
    """

    name: Label = Field(description="brand, e.g. zto, yto, post or 中通")
    share: float = Field(gt=0, le=1, description="share of the parcels; shares sum to 1")
    visits_per_week: int | None = Field(
        None,
        ge=1,
        le=7,
        description="village visits per week of this brand's own vans, in townships without "
        "co-delivery (7 = daily); it replaces schedules.visits_per_week for the brand, and a "
        "village listed in schedules.village_visits_per_week gets at most the visits listed "
        "there (0: never). None: the brand follows schedules like the shared vans. Loops are "
        "planned per brand over its own villages, days and parcels",
    )
    min_parcels_per_visit: float = Field(
        0,
        ge=0,
        description="the brand's own vans skip a village where it expects fewer parcels than "
        "this per visit (its share x the village's mean daily inbound x 7 / its visits per "
        "week); its parcels for that village wait at the township point for the villagers, "
        "like those of villages without a point. 0: every village with a point is visited",
    )


class CoDelivery(StrictModel):
    """Which townships pool the last mile of all carriers (共同配送)."""

    townships: Literal["all", "none"] | list[TownshipCode] = Field(
        "all",
        description="townships with one shared station and shared village vehicles, which "
        "visit villages as schedules say; in the others every carrier runs its own vehicles "
        "(the township fleet, each) at its own visits_per_week",
    )


class Economics(StrictModel):
    """What the last mile earns, to find the villages that do not pay for themselves."""

    revenue_per_parcel_yuan: float = Field(
        1.1,
        ge=0,
        description="last-mile fee (派费) a carrier earns per parcel delivered to a village; "
        "courier piece rates are 0.8-1.5 yuan (domain notes)",
    )


class Kpi(StrictModel):
    """Thresholds of the policy KPIs."""

    min_visits_per_week: float = Field(
        5, ge=0, le=7, description="village covered only if visited at least this often"
    )
    max_lead_time_h: float = Field(
        48,
        gt=0,
        description="village covered only if the 95th percentile lead time from the county "
        "centre is within this; also the on-time standard",
    )
    reachable_km: float = Field(
        5,
        ge=0,
        description="a village without a point is 'reachable' if its township point is "
        "within this road distance",
    )
    max_township_lead_h: float = Field(
        24,
        gt=0,
        description="township covered only if the 95th percentile time from the county centre "
        "to its township point is within this (parcels reach the township the day they "
        "arrive or the next) [assumption]",
    )
    max_sort_wait_h: float = Field(
        12,
        gt=0,
        description="county covered only if the 95th percentile wait from arrival at the "
        "county centre to sorted is within this (each day's arrivals sorted within the day) "
        "[assumption]",
    )


class Scenario(StrictModel):
    """A ruralsim scenario, schema version 1."""

    schema_version: Literal[1] = Field(description="version of this schema; must be 1")
    name: Label = Field(
        description="short name of the scenario, any printable text (e.g. 襄汾基线)"
    )
    description: str = Field("", description="free text for the reader")
    region: Region
    start_date: Date = Field(_dt.date(2026, 3, 2), description="calendar date of simulated day 0")
    horizon_days: int = Field(
        gt=0,
        le=366,
        description="warm-up plus measurement window, days; the window (horizon_days - "
        "warmup_days) should be whole weeks; the drain (drain_days) comes on top",
    )
    warmup_days: int = Field(
        0, ge=0, description="first days whose parcels are left out of the KPIs"
    )
    drain_days: int | None = Field(
        None,
        ge=0,
        le=60,
        description="days simulated after the measurement window so that the parcels created "
        "in it reach their outcome (demand goes on; only the window's parcels count); the run "
        "stops early once all have. None: up to pickup.max_hold_days, rounded up",
    )
    strict: bool = Field(
        False,
        description="treat a fleet that cannot work its loops within its drivers' shifts as "
        "an error instead of a warning",
    )
    seed: int = Field(ge=0, lt=2**63, description="seed of every random stream")
    replications: int = Field(1, ge=1, le=1000, description="independent replications")
    facilities: Facilities
    fleet: Fleet
    schedules: Schedules
    planning: Planning = Planning()
    demand: Demand = Demand()
    pickup: Pickup = Pickup()
    carriers: list[Carrier] = Field(
        default_factory=lambda: [Carrier(name="all", share=1.0)],
        min_length=1,
        description="express brands and their market shares",
    )
    co_delivery: CoDelivery = CoDelivery()
    buses: list[BusLine] = Field(
        default_factory=list, description="rural bus lines carrying parcels (客货邮融合)"
    )
    economics: Economics = Economics()
    kpi: Kpi = Kpi()

    @model_validator(mode="after")
    def _carriers(self) -> Scenario:
        names = [c.name for c in self.carriers]
        if len(set(names)) != len(names):
            raise ValueError("carriers: each carrier name must be unique")
        total = sum(c.share for c in self.carriers)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"carriers: shares sum to {total:g}; they must sum to 1")
        return self

    @model_validator(mode="after")
    def _unique_lines(self) -> Scenario:
        names = [ln.name for ln in self.buses]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"buses: line name {dup[0]!r} is used twice; names must be unique")
        return self

    @model_validator(mode="after")
    def _horizon(self) -> Scenario:
        if self.warmup_days >= self.horizon_days:
            raise ValueError(
                f"warmup_days ({self.warmup_days}) must be less than horizon_days "
                f"({self.horizon_days})"
            )
        return self

    def with_changes(self, changes: Mapping[str, Any]) -> Scenario:
        """A copy with fields changed by dotted path, validated as a file is.

        ``changes`` maps paths to values, e.g. ``{"schedules.visits_per_week": 5,
        "fleet.township_default": {"van": 2}}`` (a mapping replaces a whole section).

        Raises
        ------
        ScenarioError
            If a path names no field, or the changed scenario breaks the schema (the message
            names the field and what is valid, as for a file).
        """
        data = self.model_dump(mode="json")
        for path, value in changes.items():
            node = data
            keys = path.split(".")
            for k in keys[:-1]:
                if not isinstance(node.get(k), dict):
                    raise ScenarioError(f"with_changes: {path}: no section {k!r} there")
                node = node[k]
            if keys[-1] not in node:
                raise ScenarioError(f"with_changes: {path}: no field {keys[-1]!r} there")
            node[keys[-1]] = value
        return scenario_from_dict(data, source="with_changes")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        """pydantic's copy; with ``update``, the copy is validated (:meth:`with_changes`), so
        that a change the schema refuses (e.g. warmup_days beyond horizon_days) never runs."""
        if not update:
            return super().model_copy(deep=deep)
        return self.with_changes(dict(update))


def scenario_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of scenario files (for editors and ``ruralsim schema``)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ruralsim scenario v1"
    return schema


def scenario_from_dict(data: Any, *, source: str | Path = "<dict>", lines: Any = None) -> Scenario:
    """Validate a scenario given as plain data (e.g. parsed YAML, or built in a notebook)."""
    from sim import _yaml

    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(
            _yaml.format_validation_error(exc, model=Scenario, source=source, lines=lines)
        ) from None
