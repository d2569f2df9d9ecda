"""Building on cached real roads: source choice, place matching, snapping and connectors.

The "real" county here is hand-made: the synthetic roads of 临猗县 without its village lanes
(so villages sit far from any road), one isolated road fragment, and a few OSM place nodes
named like real townships and villages. It goes through the same cache as a fetch would.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import sim
from sim.geodata.cache import CountyOSM, save_county
from sim.geodata.snap import snap_facilities
from tests.test_engine import _scenario, assert_conserved


@pytest.fixture(scope="module")
def osm_cache(tmp_path_factory, tiny_world):
    county = tiny_world.counties[0]
    g = county.graph.copy()
    g.graph.pop("synthetic", None)
    lanes = [
        (u, v, k)
        for u, v, k, d in g.edges(keys=True, data=True)
        if d.get("road_class") == "village"
    ]
    g.remove_edges_from(lanes)
    g.remove_nodes_from([n for n in list(g.nodes) if g.degree(n) == 0])
    # An isolated fragment of road next to the first village.
    first_village = county.points.set_index("code").loc[county.village_codes[0]]
    a, b = 10**9, 10**9 + 1
    g.add_node(a, x=first_village["lon"] + 0.001, y=first_village["lat"], street_count=1)
    g.add_node(b, x=first_village["lon"] + 0.002, y=first_village["lat"], street_count=1)
    for u, v in ((a, b), (b, a)):
        g.add_edge(
            u, v, key=0, length=90.0, highway="residential", oneway=False, reversed=u == b, osmid=1
        )
    pts = county.points.set_index("code")
    t0, t1 = county.township_codes[:2]
    v0 = county.village_codes[1]
    places = pd.DataFrame(
        {
            "osmid": [1, 2, 3],
            "place": ["town", "town", "village"],
            "name": [
                county.township_names[0],
                county.township_names[1],
                county.village_names[1].replace("村委会", "村"),
            ],
            "name_zh": [None, None, None],
            "lon": [pts.loc[t0, "lon"], pts.loc[t1, "lon"], pts.loc[v0, "lon"]],
            "lat": [pts.loc[t0, "lat"], pts.loc[t1, "lat"], pts.loc[v0, "lat"]],
        }
    )
    root = tmp_path_factory.mktemp("cache")
    save_county(
        CountyOSM("140821", g, places, {"source": "overpass", "fetched": "2026-11-26T00:00"}),
        root,
    )
    return root


def test_osm_roads_are_used_when_cached(osm_cache, tiny_scenario):
    world = sim.build(tiny_scenario, cache_dir=osm_cache)
    c = world.counties[0]
    assert c.sources["roads"].startswith("real: OpenStreetMap via Overpass, 2026-11-26")
    assert c.sources["township_points"].startswith("mixed: 2 of 14")
    assert c.sources["village_points"].startswith("mixed: 1 of 284")
    assert c.quality["roads"] == "osm"
    assert c.quality["place_match_rate"]["township"] == pytest.approx(2 / 14)
    assert c.quality["components"] >= 2
    # Villages lost their lanes: they are far from the roads and get connectors.
    assert c.quality["connectors"]["far"] > 100
    assert c.quality["connectors"]["disconnected"] >= 0
    assert c.points["connector"].sum() == sum(c.quality["connectors"].values())
    for m in c.time_min.values():
        assert np.isfinite(m).all()
    results = sim.run(world, replications=1)
    assert_conserved(results)
    assert world.synthetic_layers() == ["township_points", "village_points"]


def test_synthetic_and_osm_modes(osm_cache, tiny_scenario, tmp_path):
    synthetic = _scenario(tiny_scenario, region__road_network="synthetic")
    c = sim.build(synthetic, cache_dir=osm_cache).counties[0]
    assert c.sources["roads"].startswith("synthetic")
    auto_empty = sim.build(tiny_scenario, cache_dir=tmp_path).counties[0]
    assert auto_empty.sources["roads"].startswith("synthetic")
    strict = _scenario(tiny_scenario, region__road_network="osm")
    with pytest.raises(sim.ScenarioError, match="geodata fetch 140821"):
        sim.build(strict, cache_dir=tmp_path)
    assert sim.build(strict, cache_dir=osm_cache).counties[0].quality["roads"] == "osm"


def test_speed_overrides_reach_the_graph(tiny_scenario):
    fast = _scenario(tiny_scenario, region__speeds_kmh={"tertiary": 80})
    base = sim.build(tiny_scenario).counties[0]
    quick = sim.build(fast).counties[0]
    speeds = {
        d["speed_kph"] for *_, d in quick.graph.edges(data=True) if d["highway"] == "tertiary"
    }
    assert speeds == {80.0}
    assert quick.time_min["van"].sum() < base.time_min["van"].sum()


def _line_graph() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(crs="epsg:4326")
    for n, x in enumerate([110.0, 110.01, 110.02]):
        g.add_node(n, x=x, y=35.0)
    for u, v in ((0, 1), (1, 2)):
        for a, b in ((u, v), (v, u)):
            g.add_edge(
                a, b, key=0, length=911.0, highway="tertiary", speed_kph=40.0, travel_time=82.0
            )
    g.add_node(7, x=110.05, y=35.0)  # an isolated node
    g.add_node(8, x=110.051, y=35.0)
    g.add_edge(7, 8, key=0, length=91.0, highway="residential", speed_kph=20.0, travel_time=16.0)
    return g


def test_snap_near_far_and_disconnected():
    g = _line_graph()
    pts = np.array([[110.0101, 35.0], [110.01, 35.02], [110.0505, 35.0]])
    # The third is 45 m from the fragment and ~3.3 km from the network: a connector even with
    # a threshold that would reach the network.
    wide = snap_facilities(g, pts, max_m=5000, connector_speed_kmh=15, circuity=1.3)
    assert list(wide.table["reason"]) == ["", "", "disconnected"]
    s = snap_facilities(g, pts, max_m=500, connector_speed_kmh=15, circuity=1.3)
    assert s.nodes[0] == 1
    assert list(s.table["reason"]) == ["", "far", "disconnected"]
    assert s.table.loc[0, "snap_m"] == pytest.approx(9.1, abs=0.5)
    assert 7 not in s.graph and 8 not in s.graph  # only the main component is kept
    for f in (1, 2):
        new = s.nodes[f]
        assert s.graph.nodes[new]["connector"]
        (target,) = s.graph.successors(new)
        edge = s.graph.get_edge_data(new, target)[0]
        assert edge["highway"] == "connector"
        assert edge["length"] == pytest.approx(s.table.loc[f, "snap_m"] * 1.3)
        assert edge["travel_time"] == pytest.approx(edge["length"] / (15 / 3.6))
        assert s.graph.has_edge(target, new)
    assert nx.is_strongly_connected(s.graph)
