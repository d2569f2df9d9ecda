"""Real geodata of Shanxi shipped with ruralsim: divisions, county polygons and seats.

``divisions`` looks up the NBS 2023 statistical units (province to village), ``boundaries``
gives county polygons and seats in WGS-84, and ``show`` renders the text of
``ruralsim geodata show CODE``. Road networks and township/village points are not shipped;
they are generated offline or fetched (see the design notes).
"""

from __future__ import annotations

from sim.geodata._data import data_dir
from sim.geodata.boundaries import (
    Seat,
    county_boundary,
    county_seat,
    load_counties,
    load_county_seats,
)
from sim.geodata.divisions import (
    LEVELS,
    Unit,
    children,
    county_of,
    load_divisions,
    resolve_region,
    unit,
)
from sim.geodata.show import describe

__all__ = [
    "LEVELS",
    "Seat",
    "Unit",
    "children",
    "county_boundary",
    "county_of",
    "county_seat",
    "data_dir",
    "describe",
    "load_counties",
    "load_county_seats",
    "load_divisions",
    "resolve_region",
    "unit",
]
