"""Scenario models of the demand: inbound parcels, the calendar and outbound parcels.

Part of the scenario schema; :mod:`sim.scenario` re-exports the public names.
"""

from __future__ import annotations

import datetime as _dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from sim._schema_types import ClockTime, Date, StrictModel, VillageCode, codes_keys_to_str

#: Most residents of one village (the largest villages have tens of thousands).
MAX_POPULATION = 1_000_000


class InboundDemand(StrictModel):
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
        BeforeValidator(codes_keys_to_str),
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


class DemandEvent(StrictModel):
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


class Calendar(StrictModel):
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


class Specialty(StrictModel):
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


class OutboundDemand(StrictModel):
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


class Demand(StrictModel):
    """Parcel demand."""

    inbound: InboundDemand = InboundDemand()
    outbound: OutboundDemand = OutboundDemand()
    calendar: Calendar = Calendar()
