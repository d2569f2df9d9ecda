"""Tests of cutting an OSM extract into cached counties (files written here with pyosmium)."""

from __future__ import annotations

import re
from pathlib import Path

import networkx as nx
import osmium
import osmnx as ox
import pandas as pd
import pytest
import shapely
from osmium.osm.mutable import Node, Way

from sim.errors import GeodataError
from sim.geodata import county_boundary, resolve_region
from sim.geodata.cache import (
    PLACE_COLUMNS,
    CountyOSM,
    cached_counties,
    county_dir,
    graph_to_frames,
    load_county,
)
from sim.geodata.extract import NETWORK_FILTERS, import_extract, is_road

LINYI, WANRONG = "140821", "140822"  # 临猗县 and its northern neighbour 万荣县
TIMESTAMP = "2025-06-01T21:00:00Z"

# id -> (lon, lat). The 临猗/万荣 border crosses lon 110.6 at lat 35.2553.
NODES = {
    1: (110.740, 35.160),  # 临猗 county seat area
    2: (110.750, 35.160),
    3: (110.760, 35.160),
    4: (110.750, 35.170),
    5: (110.750, 35.180),
    6: (110.760, 35.170),
    7: (110.740, 35.170),
    8: (110.745, 35.185),
    9: (110.770, 35.170),
    10: (110.770, 35.160),
    20: (110.800, 35.420),  # 万荣 county seat area
    21: (110.810, 35.420),
    22: (110.820, 35.420),
    23: (110.810, 35.430),
    30: (110.600, 35.245),  # a road across the border, ~1 km either side
    31: (110.600, 35.255),
    32: (110.600, 35.265),
    40: (116.400, 39.900),  # Beijing
    41: (116.410, 39.900),
}
WAYS = {
    100: ([1, 2, 3], {"highway": "tertiary", "name": "临猗路", "ref": "X123"}),
    101: ([2, 4, 5], {"highway": "unclassified"}),
    102: ([3, 6], {"highway": "residential"}),
    103: ([4, 7], {"highway": "footway"}),
    104: ([5, 8], {"highway": "service", "service": "driveway"}),
    105: ([6, 9], {"highway": "residential", "access": "private"}),
    106: ([6, 999, 10], {"highway": "residential"}),  # node 999 is not in the file
    200: ([20, 21, 22], {"highway": "tertiary"}),
    201: ([21, 23], {"highway": "residential", "oneway": "yes"}),
    300: ([30, 31, 32], {"highway": "unclassified"}),
    400: ([40, 41], {"highway": "primary"}),
}
PLACES = {
    50: ((110.7465, 35.1655), {"place": "town", "name": "猗氏镇", "name:zh": "猗氏镇"}),
    51: ((110.7600, 35.1750), {"place": "village", "name": "Dongzhang", "name:zh": "东张村"}),
    52: ((110.8120, 35.4300), {"place": "village", "name": "西村", "name:zh": "西村"}),
    53: ((110.7500, 35.1500), {"place": "suburb", "name": "城区"}),
    54: ((116.4000, 39.9100), {"place": "village", "name": "北京某村"}),
}


def write_osm(path: Path, nodes: dict = NODES, ways: dict = WAYS, places: dict = PLACES) -> Path:
    header = osmium.io.Header()
    header.set("osmosis_replication_timestamp", TIMESTAMP)
    points = {n: (loc, {}) for n, loc in nodes.items()} | places
    with osmium.SimpleWriter(path, header=header, overwrite=True) as writer:
        for n in sorted(points):
            loc, tags = points[n]
            writer.add_node(Node(id=n, location=loc, tags=tags))
        for w in sorted(ways):
            refs, tags = ways[w]
            writer.add_way(Way(id=w, nodes=refs, tags=tags))
    return path


def osmids(graph: nx.MultiDiGraph) -> set[int]:
    ids: set[int] = set()
    for _, _, osmid in graph.edges(data="osmid"):
        ids.update(osmid if isinstance(osmid, list) else [osmid])
    return ids


def frames(graph: nx.MultiDiGraph) -> tuple[pd.DataFrame, pd.DataFrame]:
    nodes, edges = graph_to_frames(graph)
    nodes = nodes.sort_values("osmid").reset_index(drop=True)
    edges = edges.sort_values(["u", "v", "key"]).reset_index(drop=True)
    return nodes, edges


def run_import(path: Path, cache: Path, **kwargs) -> dict[str, CountyOSM]:
    with pytest.warns(UserWarning, match="11 of 13 counties have no road"):
        result = import_extract(path, region="1408", cache_dir=cache, **kwargs)
    return {c.code: c for c in result}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("extract")
    return {ext: write_osm(folder / f"shanxi.{ext}") for ext in ("osm", "osm.pbf")}


@pytest.fixture(scope="module")
def imported(files, tmp_path_factory) -> dict[str, tuple[Path, dict[str, CountyOSM]]]:
    out = {}
    for ext, path in files.items():
        cache = tmp_path_factory.mktemp(f"cache-{ext}")
        out[ext] = (cache, run_import(path, cache))
    return out


def test_fixture_points_lie_in_their_counties() -> None:
    linyi, wanrong = county_boundary(LINYI), county_boundary(WANRONG)
    assert all(linyi.contains(shapely.Point(NODES[n])) for n in (1, 5, 9, 10, 30, 31))
    assert all(wanrong.contains(shapely.Point(NODES[n])) for n in (20, 22, 23, 32))


@pytest.mark.parametrize("ext", ["osm", "osm.pbf"])
def test_both_counties_cached_and_no_others(imported, ext) -> None:
    cache, result = imported[ext]
    assert sorted(result) == [LINYI, WANRONG]
    assert cached_counties(cache) == [LINYI, WANRONG]
    for code in set(resolve_region("1408")) - {LINYI, WANRONG}:
        assert not county_dir(code, cache).exists()


@pytest.mark.parametrize("ext", ["osm", "osm.pbf"])
def test_drive_filter_and_buffer(imported, ext) -> None:
    _, result = imported[ext]
    linyi, wanrong = osmids(result[LINYI].graph), osmids(result[WANRONG].graph)
    assert linyi == {100, 101, 102, 106, 300}  # footway, driveway, private are out
    assert wanrong == {200, 201, 300}  # the border road is in both (buffer)
    graph = result[LINYI].graph
    assert 999 not in graph and 10 in graph  # node missing from the file skipped, way kept


def test_graph_is_osmnx_with_speeds(imported) -> None:
    _, result = imported["osm.pbf"]
    graph = result[LINYI].graph
    assert isinstance(graph, nx.MultiDiGraph)
    assert graph.graph["crs"] == "epsg:4326"
    assert all("x" in d and "y" in d and "street_count" in d for _, d in graph.nodes(data=True))
    for _, _, d in graph.edges(data=True):
        assert {"length", "highway", "speed_kph", "travel_time"} <= set(d)
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
    tertiary = [d for _, _, d in graph.edges(data=True) if d["osmid"] == 100]
    assert tertiary and all(d["speed_kph"] == 40.0 and d["name"] == "临猗路" for d in tertiary)
    oneway = [(u, v) for u, v, d in result[WANRONG].graph.edges(data=True) if d["osmid"] == 201]
    assert oneway == [(21, 23)]


def test_places_per_county(imported) -> None:
    _, result = imported["osm.pbf"]
    linyi, wanrong = result[LINYI].places, result[WANRONG].places
    assert list(linyi.columns) == list(PLACE_COLUMNS)
    assert sorted(linyi["osmid"]) == [50, 51]  # suburb and Beijing village left out
    assert sorted(wanrong["osmid"]) == [52]
    row = linyi.set_index("osmid").loc[51]
    assert (row["place"], row["name"], row["name_zh"]) == ("village", "Dongzhang", "东张村")
    assert (row["lon"], row["lat"]) == pytest.approx(PLACES[51][0])


def test_meta(imported, files) -> None:
    for ext, (_, result) in imported.items():
        meta = result[LINYI].meta
        assert meta["source"] == "extract"
        assert meta["file"] == str(files[ext].resolve())
        assert meta["file_size"] == files[ext].stat().st_size
        assert meta["region"] == "1408" and meta["buffer_m"] == 2000.0
        assert meta["counts"]["places"] == 2 and meta["counts"]["ways"] == 5
        assert {"file_mtime", "osmnx", "pyosmium", "fetched"} <= set(meta)
    assert imported["osm.pbf"][1][LINYI].meta["osm_timestamp"] == TIMESTAMP


def test_osm_and_pbf_give_the_same_graphs(imported) -> None:
    for code in (LINYI, WANRONG):
        a, b = imported["osm"][1][code], imported["osm.pbf"][1][code]
        for fa, fb in zip(frames(a.graph), frames(b.graph)):
            pd.testing.assert_frame_equal(fa, fb)
        pd.testing.assert_frame_equal(a.places, b.places)


def test_load_county_reads_back_equal(imported) -> None:
    cache, result = imported["osm.pbf"]
    for code, data in result.items():
        loaded = load_county(code, cache)
        assert loaded is not None and loaded.meta["source"] == "extract"
        for fa, fb in zip(frames(data.graph), frames(loaded.graph)):
            pd.testing.assert_frame_equal(fa, fb)
        pd.testing.assert_frame_equal(loaded.places, data.places)


def test_progress_called_per_county(files, tmp_path) -> None:
    calls = []
    with pytest.warns(UserWarning):
        import_extract(
            files["osm.pbf"],
            region="1408",
            cache_dir=tmp_path,
            progress=lambda code, done, total: calls.append((code, done, total)),
        )
    assert [c[0] for c in calls] == resolve_region("1408")
    assert [c[1] for c in calls] == list(range(1, 14)) and {c[2] for c in calls} == {13}


def test_single_county_region(files, tmp_path) -> None:
    result = import_extract(files["osm.pbf"], region=WANRONG, cache_dir=tmp_path)
    assert [c.code for c in result] == [WANRONG]
    assert cached_counties(tmp_path) == [WANRONG]


def test_missing_file(tmp_path) -> None:
    path = tmp_path / "china-latest.osm.pbf"
    with pytest.raises(GeodataError, match=re.escape(str(path))):
        import_extract(path, region="1408", cache_dir=tmp_path / "cache")


def test_text_file_renamed_pbf(tmp_path) -> None:
    path = tmp_path / "notes.pbf"
    path.write_text("this is not OSM data\n")
    with pytest.raises(GeodataError, match=re.escape(str(path)) + ".*unreadable or corrupt"):
        import_extract(path, region="1408", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_unsupported_extension(tmp_path) -> None:
    path = tmp_path / "roads.geojson"
    path.write_text("{}")
    with pytest.raises(GeodataError, match=re.escape(str(path)) + ".*valid: .osm.pbf"):
        import_extract(path, region="1408", cache_dir=tmp_path / "cache")


def test_no_roads_in_region(tmp_path) -> None:
    ways = {w: WAYS[w] for w in (103, 104, 105, 400)}  # footway, driveway, private, Beijing
    path = write_osm(tmp_path / "empty.osm.pbf", ways=ways)
    with pytest.raises(GeodataError, match=re.escape(str(path)) + ".*no drivable road"):
        import_extract(path, region="1408", cache_dir=tmp_path / "cache")
    assert cached_counties(tmp_path / "cache") == []


def test_invalid_region(files, tmp_path) -> None:
    with pytest.raises(GeodataError, match="1499"):
        import_extract(files["osm"], region="1499", cache_dir=tmp_path)
    with pytest.raises(GeodataError, match="network_type"):
        import_extract(files["osm"], network_type="walk", cache_dir=tmp_path)
    with pytest.raises(GeodataError, match="location_index 'bogus'"):
        import_extract(files["osm"], location_index="bogus", cache_dir=tmp_path)
    assert cached_counties(tmp_path) == []


def test_file_based_location_index_and_no_places(tmp_path) -> None:
    path = write_osm(tmp_path / "roads.osm.pbf", places={})
    index = f"sparse_file_array,{tmp_path / 'locations.idx'}"
    (data,) = import_extract(path, region=WANRONG, cache_dir=tmp_path, location_index=index)
    assert osmids(data.graph) == {200, 201, 300}
    assert data.places.empty and list(data.places.columns) == list(PLACE_COLUMNS)
    assert load_county(WANRONG, tmp_path).places.empty


@pytest.mark.parametrize(
    ("tags", "drive", "drive_service"),
    [
        ({"highway": "tertiary"}, True, True),
        ({"highway": "unclassified", "surface": "unpaved"}, True, True),
        ({"highway": "footway"}, False, False),
        ({"highway": "track"}, False, False),
        ({"highway": "service"}, False, True),
        ({"highway": "service", "service": "driveway"}, False, True),
        ({"highway": "residential", "service": "parking_aisle"}, False, False),
        ({"highway": "residential", "access": "private"}, False, False),
        ({"highway": "residential", "access": "no"}, True, True),  # as in osmnx
        ({"highway": "residential", "motor_vehicle": "no"}, False, False),
        ({"highway": "residential", "area": "yes"}, False, False),
        ({"highway": "construction"}, False, False),
        ({"building": "yes"}, False, False),
    ],
)
def test_is_road(tags, drive, drive_service) -> None:
    assert is_road(tags) is drive
    assert is_road(tags, network_type="drive_service") is drive_service


@pytest.mark.parametrize("network_type", ["drive", "drive_service"])
def test_filters_mirror_osmnx(network_type) -> None:
    text = ox._overpass._get_network_filter(network_type)
    clauses = re.findall(r'\["([^"]+)"(?:!~"([^"]*)")?\]', text)
    osmnx_rules = {key: pattern for key, pattern in clauses if pattern}
    assert [key for key, pattern in clauses if not pattern] == ["highway"]
    ours = NETWORK_FILTERS[network_type]
    assert set(ours) == set(osmnx_rules)
    for key, pattern in osmnx_rules.items():
        assert set(ours[key].split("|")) == set(pattern.split("|")), key


def test_cli_import_then_run_offline(files, tmp_path, capsys, osm_tiny_path) -> None:
    """The README path of an offline user with an extract: import, show, run on real roads."""
    import json

    from sim.cli import main

    cache = str(tmp_path / "cache")
    argv = ["geodata", "import", str(files["osm.pbf"]), "--counties", "1408", "--cache-dir", cache]
    with pytest.warns(UserWarning):  # 11 counties of 1408 have no road in the file
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 counties cached" in out and "140821:" in out
    assert main(["geodata", "show", "1408", "--cache-dir", cache]) == 0
    assert "osm extract" in capsys.readouterr().out
    scenario = osm_tiny_path
    run = tmp_path / "run"
    assert (
        main(
            [
                "run",
                str(scenario),
                "--out",
                str(run),
                "--quiet",
                "--no-figures",
                "--cache-dir",
                cache,
            ]
        )
        == 0
    )
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counties"][0]["sources"]["roads"].startswith("real: OpenStreetMap via an OSM")
    bad = tmp_path / "notes.txt"
    bad.write_text("not osm")
    assert main(["geodata", "import", str(bad), "--cache-dir", cache]) == 2
    assert "notes.txt" in capsys.readouterr().err
