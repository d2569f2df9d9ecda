"""Tests of county polygons and seats shipped with sim.geodata."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from sim.errors import GeodataError
from sim.geodata import (
    Seat,
    county_boundary,
    county_seat,
    load_counties,
    load_county_seats,
    load_divisions,
)


@pytest.fixture(scope="module")
def counties() -> gpd.GeoDataFrame:
    return load_counties()


@pytest.fixture(scope="module")
def seats() -> pd.DataFrame:
    return load_county_seats()


def test_polygons_match_counties(counties: gpd.GeoDataFrame) -> None:
    divisions = load_divisions()
    expected = divisions[(divisions["level"] == "county") & (divisions["kind"] != "zone")]
    assert sorted(counties["code"]) == sorted(expected["code"])
    assert len(counties) == 117
    assert counties.crs.to_epsg() == 4326


def test_polygons_valid_and_in_shanxi(counties: gpd.GeoDataFrame) -> None:
    assert counties.is_valid.all()
    assert not counties.is_empty.any()
    assert set(counties.geom_type) <= {"Polygon", "MultiPolygon"}
    minx, miny, maxx, maxy = counties.total_bounds
    assert 110 <= minx and maxx <= 115
    assert 34.5 <= miny and maxy <= 40.8


def test_county_boundary() -> None:
    shape = county_boundary("141124")
    assert shape.is_valid
    assert shape.area > 0.2  # 临县 is ~2,980 km2, ~0.3 square degrees


def test_seats_inside_their_county(counties: gpd.GeoDataFrame, seats: pd.DataFrame) -> None:
    assert sorted(seats["code"]) == sorted(counties["code"])
    metric = counties.set_index("code").to_crs(counties.estimate_utm_crs())["geometry"]
    points = gpd.GeoSeries(
        gpd.points_from_xy(seats["lon"], seats["lat"]), index=seats["code"], crs=4326
    ).to_crs(metric.crs)
    distances = points.distance(metric.loc[points.index])
    assert (distances <= 2000).all(), distances[distances > 2000]


def test_seat_sources(seats: pd.DataFrame) -> None:
    geonames = seats["source"].str.fullmatch(r"geonames:[0-9]+")
    assert geonames.sum() == 104
    assert (seats.loc[~geonames, "source"] == "polygon_point").all()
    assert (seats["lon"].round(6) == seats["lon"]).all()


def test_county_seat() -> None:
    seat = county_seat("140821")
    assert isinstance(seat, Seat)
    assert seat.code == "140821"
    assert county_boundary("140821").contains(Point(seat.lon, seat.lat))


@pytest.mark.parametrize("func", [county_boundary, county_seat])
def test_zone_has_no_polygon(func: object) -> None:
    with pytest.raises(GeodataError, match="zone"):
        func("140171")  # type: ignore[operator]


@pytest.mark.parametrize("code", ["1411", "141124100", "149999"])
def test_non_county_codes_raise(code: str) -> None:
    with pytest.raises(GeodataError, match=code):
        county_boundary(code)
