"""Real geodata of Shanxi shipped with ruralsim: divisions, county polygons and seats.

``divisions`` looks up the NBS 2023 statistical units (province to village), ``boundaries``
gives county polygons and seats in WGS-84, and ``show`` renders the text of
``ruralsim geodata show CODE``. Road networks and township/village points are not shipped;
they are generated offline or fetched (see the design notes).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        child_codes,
        children,
        county_of,
        load_divisions,
        resolve_region,
        unit,
    )
    from sim.geodata.show import describe

# Public name -> its module, imported on first access (PEP 562): the division lookups need
# the standard library only (their DataFrames pandas), the boundaries geopandas.
_LAZY = {
    "LEVELS": "sim.geodata.divisions",
    "Seat": "sim.geodata.boundaries",
    "Unit": "sim.geodata.divisions",
    "child_codes": "sim.geodata.divisions",
    "children": "sim.geodata.divisions",
    "county_boundary": "sim.geodata.boundaries",
    "county_of": "sim.geodata.divisions",
    "county_seat": "sim.geodata.boundaries",
    "data_dir": "sim.geodata._data",
    "describe": "sim.geodata.show",
    "load_counties": "sim.geodata.boundaries",
    "load_county_seats": "sim.geodata.boundaries",
    "load_divisions": "sim.geodata.divisions",
    "resolve_region": "sim.geodata.divisions",
    "unit": "sim.geodata.divisions",
}

__all__ = [
    "LEVELS",
    "Seat",
    "Unit",
    "child_codes",
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


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access (PEP 562).

    Parameters
    ----------
    name
        The attribute asked for, e.g. ``"unit"``.

    Returns
    -------
    Any
        The object, which is then cached in this package's namespace.

    Raises
    ------
    AttributeError
        If ``name`` is neither a public name nor a loaded submodule.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim.geodata' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names, loaded or not, with the package's other globals."""
    return sorted(set(globals()) | set(__all__))
