"""Tests of the seeded synthetic county road network."""

from __future__ import annotations

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
import shapely

from sim.errors import GeodataError
from sim.geodata.synthetic import (
    DEFAULT_SPEEDS_KMH,
    HIGHWAY_TAGS,
    TERRAIN_SPEED_FACTOR,
    SyntheticCounty,
    synthetic_county,
)

# a rough 60 x 55 km county near Lüliang, with a concave notch in the north-east
BOUNDARY = shapely.Polygon(
    [
        (110.75, 37.60),
        (111.20, 37.55),
        (111.45, 37.75),
        (111.30, 37.85),
        (111.38, 38.05),
        (111.00, 38.10),
        (110.80, 37.90),
    ]
)
BOUNDARY_AREA_KM2 = shapely.transform(
    BOUNDARY, lambda c: c * [111.32 * np.cos(np.radians(37.8)), 110.57]
).area
SEAT = (111.0, 37.8)
TOWNS = [f"141124{100 + i}" for i in range(12)]
VILLAGES = {t: [f"{t}{200 + j:03d}" for j in range(5 + 3 * (i % 5))] for i, t in enumerate(TOWNS)}
VILLAGES[TOWNS[-1]] = []  # a township without villages (a 街道, say)
N_VILLAGES = sum(len(v) for v in VILLAGES.values())
EDGE_KEYS = {
    "osmid",
    "highway",
    "road_class",
    "oneway",
    "reversed",
    "length",
    "speed_kph",
    "travel_time",
    "geometry",
    "synthetic",
}


def _build(seed: int = 7, **kwargs) -> SyntheticCounty:
    return synthetic_county(
        BOUNDARY, SEAT, TOWNS, VILLAGES, rng=np.random.default_rng(seed), **kwargs
    )


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return ox.distance.great_circle(lat1, lon1, lat2, lon2)


@pytest.fixture(scope="module")
def plains() -> SyntheticCounty:
    return _build()


@pytest.fixture(scope="module")
def mountain() -> SyntheticCounty:
    return _build(terrain="mountain")


def test_points_have_the_exact_codes_levels_and_parents(plains):
    pts = plains.points
    villages = [c for t in TOWNS for c in VILLAGES[t]]
    assert pts["code"].tolist() == ["seat", *TOWNS, *villages]
    assert pts["level"].value_counts().to_dict() == {
        "county_seat": 1,
        "township": len(TOWNS),
        "village": N_VILLAGES,
    }
    parents = [t for t in TOWNS for _ in VILLAGES[t]]
    assert pts.loc[pts.level == "village", "parent"].tolist() == parents
    assert (pts.loc[pts.level != "village", "parent"] == "").all()
    assert pts["synthetic"].all()
    assert sorted(pts["node"]) == sorted(plains.graph.nodes)


def test_every_point_lies_inside_the_boundary(plains, mountain):
    for county in (plains, mountain):
        pts = county.points
        assert shapely.contains_xy(BOUNDARY, pts.lon, pts.lat).all()


def test_the_seat_town_is_next_to_the_seat(plains):
    pts = plains.points.set_index("code")
    assert (pts.loc["seat", "lon"], pts.loc["seat", "lat"]) == pytest.approx(SEAT)
    gap = _metres(*pts.loc["seat", ["lon", "lat"]], *pts.loc[TOWNS[0], ["lon", "lat"]])
    assert 100 < gap <= 1000


def test_villages_sit_near_their_own_township_and_apart(plains):
    pts = plains.points
    towns = pts[pts.level == "township"].set_index("code")
    vil = pts[pts.level == "village"]
    own = towns.loc[vil.parent, ["lon", "lat"]].to_numpy()
    to_own = _metres(vil.lon.to_numpy(), vil.lat.to_numpy(), own[:, 0], own[:, 1])
    to_all = _metres(
        vil.lon.to_numpy()[:, None],
        vil.lat.to_numpy()[:, None],
        towns.lon.to_numpy()[None, :],
        towns.lat.to_numpy()[None, :],
    )
    share_km = np.sqrt(BOUNDARY_AREA_KM2 / len(TOWNS))
    assert to_own.max() < 2 * share_km * 1000
    assert np.mean(to_own <= to_all.min(axis=1) + 1e-6) >= 0.95
    lon, lat = pts.lon.to_numpy(), pts.lat.to_numpy()
    gaps = _metres(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 100


def test_townships_are_spread_out(plains):
    towns = plains.points[plains.points.level == "township"]
    lon, lat = towns.lon.to_numpy(), towns.lat.to_numpy()
    gaps = _metres(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    np.fill_diagonal(gaps, np.inf)
    # best-candidate sampling: no two townships closer than a third of the mean spacing
    spacing_m = 1000 * np.sqrt(BOUNDARY_AREA_KM2 / len(TOWNS))
    assert gaps.min() > spacing_m / 3


def test_graph_is_strongly_connected_with_all_three_road_classes(plains, mountain):
    for county in (plains, mountain):
        graph = county.graph
        assert nx.is_strongly_connected(graph)
        classes = {d["road_class"] for _, _, d in graph.edges(data=True)}
        assert classes == {"county", "township", "village"}
        assert all(isinstance(n, int) and n >= 0 for n in graph.nodes)
        assert nx.number_of_selfloops(graph) == 0


def test_graph_has_osmnx_graph_and_node_attributes(plains):
    graph = plains.graph
    assert graph.graph["crs"] == "epsg:4326"
    assert graph.graph["synthetic"] is True
    assert isinstance(graph.graph["created_with"], str)
    undirected = nx.Graph(graph)
    for node, data in graph.nodes(data=True):
        assert {"x", "y", "street_count"} <= set(data)
        assert data["street_count"] == undirected.degree(node)
    pts = plains.points.set_index("node")
    xs = [graph.nodes[n]["x"] for n in pts.index]
    assert xs == pts["lon"].tolist()


def test_every_road_is_a_consistent_pair_of_directed_edges(plains):
    graph = plains.graph
    osmids = {}
    for u, v, key, data in graph.edges(keys=True, data=True):
        assert key == 0
        assert set(data) >= EDGE_KEYS
        assert data["highway"] == HIGHWAY_TAGS[data["road_class"]]
        assert data["oneway"] is False and data["synthetic"] is True
        assert data["osmid"] < 0
        assert data["travel_time"] == pytest.approx(data["length"] / (data["speed_kph"] / 3.6))
        line = data["geometry"]
        start, end = line.coords[0], line.coords[-1]
        assert start == (graph.nodes[u]["x"], graph.nodes[u]["y"])
        assert end == (graph.nodes[v]["x"], graph.nodes[v]["y"])
        x, y = np.asarray(line.xy)
        assert data["length"] == pytest.approx(_metres(x[:-1], y[:-1], x[1:], y[1:]).sum())
        back = graph.edges[v, u, 0]
        assert back["reversed"] is (not data["reversed"])
        assert back["osmid"] == data["osmid"]
        assert back["length"] == data["length"]
        assert list(back["geometry"].coords) == list(line.coords)[::-1]
        osmids.setdefault(data["osmid"], set()).add(frozenset((u, v)))
    assert all(len(pairs) == 1 for pairs in osmids.values())
    assert sum(d["reversed"] for _, _, d in graph.edges(data=True)) == len(osmids)


def test_speeds_follow_the_defaults_and_the_terrain_factor(plains):
    hills = _build(terrain="hills")
    for county, factor in ((plains, 1.0), (hills, TERRAIN_SPEED_FACTOR["hills"])):
        for _, _, data in county.graph.edges(data=True):
            assert data["speed_kph"] == pytest.approx(
                DEFAULT_SPEEDS_KMH[data["road_class"]] * factor
            )
    fast = _build(speeds_kmh={"village": 25.0})
    speeds = {d["road_class"]: d["speed_kph"] for _, _, d in fast.graph.edges(data=True)}
    assert speeds == {"county": 40.0, "township": 30.0, "village": 25.0}


def test_default_speeds_are_immutable():
    with pytest.raises(TypeError):
        DEFAULT_SPEEDS_KMH["county"] = 99.0  # type: ignore[index]


def _circuity(county: SyntheticCounty) -> float:
    graph = county.graph
    ratios = []
    for u, v, data in graph.edges(data=True):
        a, b = graph.nodes[u], graph.nodes[v]
        ratios.append(data["length"] / _metres(a["x"], a["y"], b["x"], b["y"]))
    return float(np.mean(ratios))


def test_mountain_roads_are_more_sinuous_and_slower(plains, mountain):
    assert _circuity(plains) == pytest.approx(1.15, abs=0.05)
    assert _circuity(mountain) == pytest.approx(1.45, abs=0.07)
    seat = 0
    flat = nx.single_source_dijkstra_path_length(plains.graph, seat, weight="travel_time")
    steep = nx.single_source_dijkstra_path_length(mountain.graph, seat, weight="travel_time")
    # same points (placement does not depend on the terrain), slower roads
    assert plains.points[["lon", "lat"]].equals(mountain.points[["lon", "lat"]])
    assert np.mean(list(steep.values())) > 1.5 * np.mean(list(flat.values()))


def test_osmnx_converts_and_routes_the_graph(plains):
    nodes, edges = ox.convert.graph_to_gdfs(plains.graph)
    assert len(nodes) == len(plains.points)
    assert len(edges) == plains.graph.number_of_edges()
    assert nodes.crs.to_epsg() == 4326
    last = int(plains.points["node"].iloc[-1])
    path = ox.routing.shortest_path(plains.graph, 0, last, weight="travel_time")
    assert path[0] == 0 and path[-1] == last


def _fingerprint(county: SyntheticCounty) -> tuple:
    graph = county.graph
    edges = []
    for u, v, k, data in graph.edges(keys=True, data=True):
        row = {key: val for key, val in data.items() if key != "geometry"}
        edges.append((u, v, k, sorted(row.items()), data["geometry"].wkb))
    return list(graph.nodes(data=True)), edges, county.points.to_dict("list")


def test_same_seed_same_county_other_seed_other_county(plains):
    assert _fingerprint(_build()) == _fingerprint(plains)
    assert _fingerprint(_build(seed=8)) != _fingerprint(plains)


def test_a_seat_just_outside_is_moved_inside():
    county = synthetic_county(
        BOUNDARY, (110.74, 37.59), TOWNS[:3], {}, rng=np.random.default_rng(1)
    )
    pts = county.points
    assert shapely.contains_xy(BOUNDARY, pts.lon, pts.lat).all()
    assert _metres(110.74, 37.59, pts.lon[0], pts.lat[0]) < 3000


def test_single_township_and_multipolygon_boundary():
    exclave = shapely.Polygon([(111.6, 37.6), (111.7, 37.6), (111.7, 37.7), (111.6, 37.7)])
    county = synthetic_county(
        shapely.MultiPolygon([BOUNDARY, exclave]),
        SEAT,
        ["141124100"],
        {"141124100": ["141124100200", "141124100201"]},
        rng=np.random.default_rng(3),
    )
    assert len(county.points) == 4
    assert nx.is_strongly_connected(county.graph)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"townships": []}, "townships"),
        ({"townships": ["1", "1"], "villages": {}}, "duplicated"),
        ({"villages": {"999": ["9990"]}}, "villages"),
        ({"villages": {TOWNS[0]: [TOWNS[1]]}}, "duplicated"),
        ({"terrain": "swamp"}, "terrain"),
        ({"speeds_kmh": {"county": 0.0}}, "speeds_kmh"),
        ({"speeds_kmh": {"motorway": 80.0}}, "speeds_kmh"),
        ({"seat": (112.5, 37.8)}, "seat"),
        ({"boundary": shapely.Polygon()}, "boundary"),
    ],
)
def test_bad_input_raises_a_geodata_error_naming_the_field(kwargs, field):
    args = {
        "boundary": BOUNDARY,
        "seat": SEAT,
        "townships": TOWNS,
        "villages": VILLAGES,
        "rng": np.random.default_rng(0),
    }
    with pytest.raises(GeodataError, match=field):
        synthetic_county(**(args | kwargs))
