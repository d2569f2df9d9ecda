"""Scenario models of the facilities, the fleet and the schedules: who moves parcels, and when.

Part of the scenario schema; :mod:`sim.scenario` re-exports the public names.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from sim._schema_types import (
    ClockTime,
    Name,
    PointKind,
    StrictModel,
    TownshipCode,
    VillageCode,
    clock_minutes,
    codes_keys_to_str,
)


class Shift(StrictModel):
    """A working shift within one day (of the county sorting centre, or of a vehicle's driver)."""

    start: ClockTime = Field(description="shift start, HH:MM")
    end: ClockTime = Field(description="shift end, HH:MM, later than start on the same day")

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if clock_minutes(self.end) <= clock_minutes(self.start):
            raise ValueError(f"shift end {self.end} must be later than its start {self.start}")
        return self


class TrunkArrival(StrictModel):
    """A daily trunk-line arrival (wave) of inbound parcels at the county centre."""

    time: ClockTime = Field(description="arrival time of the trunk truck, HH:MM")
    share: float = Field(gt=0, le=1, description="fraction of the day's inbound parcels on it")


class TrunkDeparture(StrictModel):
    """A daily trunk-line departure carrying outbound parcels from the county centre."""

    time: ClockTime = Field(description="departure time of the trunk truck, HH:MM")
    cutoff_min: float = Field(
        60, ge=0, description="parcels must be at the centre this many minutes before"
    )


class CountyCentre(StrictModel):
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


class Townships(StrictModel):
    """Township network points (乡镇网点): one per township of the county."""

    service_time_min: float = Field(
        15, ge=0, description="minutes a shuttle stops at a township point to unload"
    )


class VillagePoints(StrictModel):
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
    kinds: Annotated[dict[VillageCode, PointKind], BeforeValidator(codes_keys_to_str)] = Field(
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


class Facilities(StrictModel):
    """County centre, township points and village service points."""

    county_centre: CountyCentre
    townships: Townships = Townships()
    village_points: VillagePoints = VillagePoints()


class VehicleType(StrictModel):
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


class Fleet(StrictModel):
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
    townships: Annotated[dict[TownshipCode, VehicleCounts], BeforeValidator(codes_keys_to_str)] = (
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


class Schedules(StrictModel):
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
        BeforeValidator(codes_keys_to_str),
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


class Planning(StrictModel):
    """How the village loops are planned."""

    method: Literal["heuristic", "optimise"] = Field(
        "heuristic",
        description="heuristic: sweeps around each township point cut by the limits, the best "
        "of every starting angle; optimise: a vehicle-routing solver (PyVRP) per township, "
        "least km within the same limits (slower to build, shorter loops)",
    )
    routes: Literal["weekly", "daily"] = Field(
        "weekly",
        description="weekly: fixed loops driven every weekday, each calling at the villages "
        "due that day; daily: loops planned for each weekday over the villages due that day "
        "(within that day's time, km and capacity limits), then shared out among the "
        "township's vehicles day by day (shorter where villages are visited on some days only)",
    )
    visit_days: Literal["staggered", "clustered"] = Field(
        "staggered",
        description="which weekdays a village visited 1-6 times a week is due: staggered: "
        "spread evenly, starting on a weekday set by the village's place in its county's list; "
        "clustered: spread evenly, neighbouring villages of a township on the same weekdays "
        "(7 sectors of equal load around the point), so a day's loops are shorter",
    )
    iterations: int = Field(
        300,
        ge=1,
        le=1_000_000,
        description="optimise: the solver stops after this many iterations without a better "
        "plan (never on the clock, so plans are the same on any machine); with routes: daily, "
        "a township's weekdays with different villages due share them",
    )
    seed: int = Field(0, ge=0, lt=2**31, description="optimise: the solver's seed")
