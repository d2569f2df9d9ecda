"""Scenario schema v1: a validated, frozen description of one simulation experiment.

A scenario is data. It is written in YAML, loaded by :func:`load_scenario` and validated by the
pydantic models below, which reject unknown keys, wrong types and impossible values. Every field
documents itself (its unit is in its name or description), and ``ruralsim schema`` prints the
JSON Schema generated from these models for editors.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from sim.errors import ScenarioError

SCHEMA_VERSION = 1

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _code_to_str(value: Any) -> Any:
    # YAML reads unquoted codes as integers; codes are strings everywhere else.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _codes_keys_to_str(value: Any) -> Any:
    if isinstance(value, dict):
        return {_code_to_str(k): v for k, v in value.items()}
    return value


PrefectureCode = Annotated[
    str,
    BeforeValidator(_code_to_str),
    Field(pattern=r"^14\d{2}$", description="4-digit statistical code of a prefecture"),
]
ProvinceCode = Annotated[
    str,
    BeforeValidator(_code_to_str),
    Field(pattern=r"^14$", description="'14', the province of Shanxi"),
]
CountyCode = Annotated[
    str,
    BeforeValidator(_code_to_str),
    Field(pattern=r"^14\d{4}$", description="6-digit statistical code of a Shanxi county"),
]
TownshipCode = Annotated[
    str,
    BeforeValidator(_code_to_str),
    Field(pattern=r"^14\d{7}$", description="9-digit statistical code of a township"),
]
VillageCode = Annotated[
    str,
    BeforeValidator(_code_to_str),
    Field(pattern=r"^14\d{10}$", description="12-digit statistical code of a village"),
]
ClockTime = Annotated[
    str,
    Field(pattern=_CLOCK.pattern, description="time of day, HH:MM on a 24-hour clock"),
]
PointKind = Literal["service_point", "partner_outlet", "locker", "door"]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=40)]


def clock_minutes(value: str) -> int:
    """Convert an ``HH:MM`` clock time to minutes after midnight."""
    match = _CLOCK.match(value)
    if match is None:
        raise ValueError(f"not an HH:MM time: {value!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _iso_date(value: Any) -> Any:
    # An unquoted YAML date is a date already; a quoted one (and a JSON round trip, as in sweeps
    # and scenario.resolved.yaml) is YYYY-MM-DD text. Nothing else becomes a date: strict
    # validation refuses numbers (which lax pydantic reads as Unix timestamps).
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


Date = Annotated[_dt.date, BeforeValidator(_iso_date)]


class _Model(BaseModel):
    # Strict types: no true for 1, no "300" for 300, no 1.0 for a whole number (a whole number
    # is still a valid float); no inf or NaN. Codes, clock times and dates, which YAML may give
    # in another form, are converted by their own before-validators.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


Terrain = Literal["plains", "hills", "mountain"]


class Region(_Model):
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
    terrain_by_county: Annotated[dict[CountyCode, Terrain], BeforeValidator(_codes_keys_to_str)] = (
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


class Shift(_Model):
    """A working shift within one day (of the county sorting centre, or of a vehicle's driver)."""

    start: ClockTime = Field(description="shift start, HH:MM")
    end: ClockTime = Field(description="shift end, HH:MM, later than start on the same day")

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if clock_minutes(self.end) <= clock_minutes(self.start):
            raise ValueError(f"shift end {self.end} must be later than its start {self.start}")
        return self


class TrunkArrival(_Model):
    """A daily trunk-line arrival (wave) of inbound parcels at the county centre."""

    time: ClockTime = Field(description="arrival time of the trunk truck, HH:MM")
    share: float = Field(gt=0, le=1, description="fraction of the day's inbound parcels on it")


class TrunkDeparture(_Model):
    """A daily trunk-line departure carrying outbound parcels from the county centre."""

    time: ClockTime = Field(description="departure time of the trunk truck, HH:MM")
    cutoff_min: float = Field(
        60, ge=0, description="parcels must be at the centre this many minutes before"
    )


class CountyCentre(_Model):
    """The county sorting centre (县级分拨中心), at the county seat."""

    sorting_capacity_per_hour: int = Field(
        gt=0, description="parcels sorted per hour while a shift is on"
    )
    shifts: list[Shift] = Field(min_length=1, description="sorting shifts, each day")
    trunk_arrivals: list[TrunkArrival] = Field(
        min_length=1, description="daily trunk arrivals; their shares sum to 1"
    )
    trunk_departures: list[TrunkDeparture] = Field(
        default_factory=lambda: [TrunkDeparture(time="20:00", cutoff_min=60)],
        min_length=1,
        description="daily trunk departures taking outbound parcels to the city",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CountyCentre:
        total = sum(t.share for t in self.trunk_arrivals)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"trunk_arrivals shares sum to {total:g}; they must sum to 1")
        spans = sorted((clock_minutes(s.start), clock_minutes(s.end)) for s in self.shifts)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if start < end:
                raise ValueError("shifts overlap; give each shift its own time span")
        return self


class Townships(_Model):
    """Township network points (乡镇网点): one per township of the county."""

    service_time_min: float = Field(
        15, ge=0, description="minutes a shuttle stops at a township point to unload"
    )


class VillagePoints(_Model):
    """Village service points (村级服务点)."""

    villages: Literal["all"] | list[VillageCode] = Field(
        "all",
        description="'all' for a point in every village, or the list of village codes that "
        "have one; parcels for other villages are held at the township point",
    )
    service_time_min: float = Field(
        5, ge=0, description="minutes a village loop stops at a village point"
    )
    kind: PointKind = Field(
        "service_point",
        description="what a village point is: service_point (村级服务点), partner_outlet (a "
        "shop or village information station), locker (智能快件箱, finite compartments) or "
        "door (the courier hands parcels to the villagers)",
    )
    kinds: Annotated[dict[VillageCode, PointKind], BeforeValidator(_codes_keys_to_str)] = Field(
        default_factory=dict, description="per-village overrides of kind"
    )
    locker_capacity_parcels: int = Field(
        60,
        gt=0,
        description="compartments of a village locker (units hold 40-200, Shanghai Daily "
        "2017); parcels that find it full stay on the vehicle and return to the township",
    )
    door_min_per_parcel: float = Field(
        2, ge=0, description="extra stop minutes per parcel handed over at the door"
    )


class Facilities(_Model):
    """County centre, township points and village service points."""

    county_centre: CountyCentre
    townships: Townships = Townships()
    village_points: VillagePoints = VillagePoints()


class VehicleType(_Model):
    """A kind of vehicle, with its driver's working day and its costs."""

    capacity_parcels: int = Field(gt=0, description="parcels it carries at most")
    max_speed_kmh: float = Field(
        gt=0, description="top speed; on each road the vehicle drives min(road speed, this)"
    )
    cost_per_km_yuan: float = Field(ge=0, description="running cost per km driven, yuan")
    cost_per_hour_yuan: float = Field(
        0,
        ge=0,
        description="extra cost per hour on the road (time-based pay on top of the daily wage), "
        "yuan; the driver's day is driver_cost_per_day_yuan",
    )
    driver_cost_per_day_yuan: float = Field(
        190,
        ge=0,
        description="driver wage per vehicle-day, paid every day of the window for every "
        "vehicle of the fleet, yuan (default ~190: most couriers earn < 5,000 yuan a month, "
        "26 working days; China Post News 2020, derived)",
    )
    cost_per_day_yuan: float = Field(
        40,
        ge=0,
        description="fixed vehicle cost per vehicle-day (depreciation, insurance, charging), "
        "paid every day of the window for every vehicle of the fleet, yuan (default ~40 for a "
        "light van [assumption]; ~20 for an EV tricycle)",
    )
    shift: Shift = Field(
        default_factory=lambda: Shift(start="07:00", end="19:00"),
        description="the driver's working day: a vehicle leaves no earlier than start, and a "
        "village loop that cannot be back by end is not driven that day [assumption]",
    )
    max_duty_h: float = Field(
        10,
        gt=0,
        le=24,
        description="hours a driver may drive and stop in a day; a village loop that would "
        "exceed it is not driven (couriers work 10-12 h a day, China Daily 2021)",
    )
    range_km: float | None = Field(
        None,
        gt=0,
        description="km on one charge or tank, recharged overnight (EV tricycles ~50 km, "
        "YZ/T 0136-2014); all of a vehicle's loops of one day must fit. None: unlimited",
    )
    co2_kg_per_km: float = Field(0, ge=0, description="CO2 emitted per km driven, kg")
    cold_chain: bool = Field(
        False,
        description="refrigerated: perishable parcels on board age slower "
        "(demand.outbound.cold_chain_shelf_factor)",
    )


#: Most vehicles of one type at one facility; each is a simulated process and a route plan.
MAX_VEHICLES = 1000

VehicleCounts = Annotated[
    dict[Name, Annotated[int, Field(ge=0, le=MAX_VEHICLES)]],
    Field(description="vehicle type -> number of vehicles"),
]


class Fleet(_Model):
    """Vehicle types and how many of each every facility has."""

    vehicle_types: dict[Name, VehicleType] = Field(
        min_length=1, description="vehicle types by name"
    )
    county_centre: VehicleCounts = Field(
        description="shuttle vehicles at the county centre serving the township points"
    )
    township_default: VehicleCounts = Field(
        description="village-loop vehicles at every township point"
    )
    townships: Annotated[dict[TownshipCode, VehicleCounts], BeforeValidator(_codes_keys_to_str)] = (
        Field(default_factory=dict, description="per-township overrides of township_default")
    )

    @model_validator(mode="after")
    def _known_types(self) -> Fleet:
        known = set(self.vehicle_types)
        groups: list[tuple[str, dict[str, int]]] = [
            ("county_centre", self.county_centre),
            ("township_default", self.township_default),
        ]
        groups += [(f"townships.{code}", counts) for code, counts in self.townships.items()]
        for where, counts in groups:
            unknown = sorted(set(counts) - known)
            if unknown:
                raise ValueError(
                    f"{where} names vehicle type {unknown[0]!r}; valid types are {sorted(known)}"
                )
        if sum(self.county_centre.values()) < 1:
            raise ValueError("county_centre needs at least one shuttle vehicle")
        return self


class Schedules(_Model):
    """When vehicles leave and how often villages are visited."""

    shuttle_departures: list[ClockTime] = Field(
        min_length=1, description="daily departures of the township shuttles from the centre"
    )
    village_departures: list[ClockTime] = Field(
        min_length=1, description="daily departures of the village loops from township points"
    )
    visits_per_week: int = Field(
        7,
        ge=1,
        le=7,
        description="village visits per week by default (7 = daily); a brand's own vans may "
        "visit at their own frequency (carriers[].visits_per_week)",
    )
    village_visits_per_week: Annotated[
        dict[VillageCode, Annotated[int, Field(ge=0, le=7)]],
        BeforeValidator(_codes_keys_to_str),
    ] = Field(
        default_factory=dict,
        description="per-village overrides of visits_per_week; also the most visits a brand "
        "with its own visits_per_week makes there",
    )
    max_loop_h: float = Field(
        8,
        gt=0,
        le=24,
        description="longest village loop (driving + stops) a vehicle may drive per departure, "
        "hours; loops are planned within it, and longer shuttle routes are reported",
    )


#: Most residents of one village (the largest villages have tens of thousands).
MAX_POPULATION = 1_000_000


class InboundDemand(_Model):
    """Online purchases flowing into villages (工业品下乡)."""

    mode: Literal["flat", "population"] = Field(
        "flat",
        description="'flat': parcels_per_village_per_day for every village; 'population': "
        "population x parcels_per_person_per_day",
    )
    parcels_per_village_per_day: float = Field(
        30, ge=0, description="mean inbound parcels per village and day (flat mode)"
    )
    parcels_per_person_per_day: float = Field(
        0.05, ge=0, description="mean inbound parcels per resident and day (population mode)"
    )
    village_population: int = Field(
        620,
        gt=0,
        le=MAX_POPULATION,
        description="residents of a village whose population is not listed",
    )
    populations: Annotated[
        dict[VillageCode, Annotated[int, Field(ge=0, le=MAX_POPULATION)]],
        BeforeValidator(_codes_keys_to_str),
    ] = Field(default_factory=dict, description="known residents per village code")
    distribution: Literal["poisson", "negative_binomial"] = Field(
        "poisson", description="distribution of the daily count per village"
    )
    dispersion: float = Field(
        5.0,
        gt=0,
        description="negative binomial shape k: variance = mean + mean^2 / k",
    )


def _real_month_day(value: str) -> str:
    # 02-29 is allowed (it falls on 02-28 in other years); 02-30 or 04-31 are not days.
    month, day = (int(x) for x in value.split("-"))
    try:
        _dt.date(2024, month, day)
    except ValueError:
        raise ValueError(f"{value} is not a day of the year (MM-DD)") from None
    return value


MonthDay = Annotated[
    str,
    Field(
        pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
        description="a day of every year, MM-DD",
    ),
    AfterValidator(_real_month_day),
]


class DemandEvent(_Model):
    """A period of the year when inbound demand is multiplied, e.g. Double-11."""

    name: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        description="label of the event"
    )
    start: Date | MonthDay = Field(
        description="first day: a date (YYYY-MM-DD) or a day of every year (MM-DD)"
    )
    end: Date | MonthDay = Field(
        description="last day, inclusive, in the same form as start; a yearly period may "
        "wrap past the new year (12-20 to 01-10)"
    )
    factor: float = Field(gt=0, le=20, description="demand multiplier on those days")

    @model_validator(mode="after")
    def _same_form(self) -> DemandEvent:
        if isinstance(self.start, _dt.date) != isinstance(self.end, _dt.date):
            raise ValueError("start and end must both be dates or both be MM-DD days")
        if isinstance(self.start, _dt.date) and self.end < self.start:  # type: ignore[operator]
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Calendar(_Model):
    """Weekly pattern and peak periods of inbound demand."""

    weekday_factors: Annotated[
        list[Annotated[float, Field(ge=0)]], Field(min_length=7, max_length=7)
    ] = Field(
        default_factory=lambda: [1.0] * 7,
        description="demand multiplier per weekday, Monday first",
    )
    events: list[DemandEvent] = Field(
        default_factory=list,
        description="peak periods (Double-11, Spring Festival, ...); overlapping factors multiply",
    )


class Specialty(_Model):
    """A farm product villages send out in its season (农产品进城), e.g. apples or dates."""

    name: Annotated[str, Field(min_length=1, max_length=40)] = Field(description="the product")
    villages: Literal["all"] | list[VillageCode] = Field(
        "all", description="villages that produce it: 'all' or a list of codes"
    )
    start: MonthDay = Field(description="first day of the season, MM-DD")
    end: MonthDay = Field(description="last day of the season, MM-DD (may wrap the new year)")
    peak_parcels_per_village_per_day: float = Field(
        gt=0,
        description="parcels per village at the height of the season; the season rises and "
        "falls linearly (a triangle from start to end)",
    )
    shelf_life_h: float | None = Field(
        None, gt=0, description="hours from packing to spoiling; None: not perishable"
    )


class OutboundDemand(_Model):
    """Farm products and other parcels flowing out of villages (农产品进城)."""

    parcels_per_village_per_day: float = Field(
        0, ge=0, description="outbound parcels per village and day outside any season"
    )
    ready_time: ClockTime = Field(
        "08:00", description="when each day's outbound parcels are ready at the village point"
    )
    specialties: list[Specialty] = Field(default_factory=list, description="seasonal farm products")
    collection_departures: list[ClockTime] = Field(
        default_factory=list,
        description="extra daily runs of the village loops that only collect outbound "
        "parcels (dedicated runs, e.g. in the harvest), besides the backhaul on every loop",
    )
    cold_chain_shelf_factor: float = Field(
        3,
        ge=1,
        description="an hour on a cold-chain vehicle uses 1/this of an hour of shelf life",
    )


class Demand(_Model):
    """Parcel demand."""

    inbound: InboundDemand = InboundDemand()
    outbound: OutboundDemand = OutboundDemand()
    calendar: Calendar = Calendar()


class Pickup(_Model):
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


class BusLine(_Model):
    """A rural bus line that also carries parcels (客货邮融合).

    The bus leaves the county bus station at the county seat, where the sorted parcels of its
    villages wait, calls at its villages in order and returns. Villages on a line get their
    parcels by bus instead of a van loop (and send their outbound parcels back with it), or,
    with ``share_of_parcels`` below 1, that share by bus and the rest by the van loops.
    """

    name: Name = Field(description="line name")
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


class Carrier(_Model):
    """An express brand (快递品牌): its share of the parcels and how its own vans visit villages.

    The visit rules apply where the brand runs its own vans (townships without co-delivery);
    shared vans visit as ``schedules`` says.
    """

    name: Name = Field(description="brand, e.g. zto, yto, post")
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


class CoDelivery(_Model):
    """Which townships pool the last mile of all carriers (共同配送)."""

    townships: Literal["all", "none"] | list[TownshipCode] = Field(
        "all",
        description="townships with one shared station and shared village vehicles, which "
        "visit villages as schedules say; in the others every carrier runs its own vehicles "
        "(the township fleet, each) at its own visits_per_week",
    )


class Economics(_Model):
    """What the last mile earns, to find the villages that do not pay for themselves."""

    revenue_per_parcel_yuan: float = Field(
        1.1,
        ge=0,
        description="last-mile fee (派费) a carrier earns per parcel delivered to a village; "
        "courier piece rates are 0.8-1.5 yuan (domain notes)",
    )


class Kpi(_Model):
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


class Scenario(_Model):
    """A ruralsim scenario, schema version 1."""

    schema_version: Literal[1] = Field(description="version of this schema; must be 1")
    name: Name = Field(description="short identifier of the scenario")
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
