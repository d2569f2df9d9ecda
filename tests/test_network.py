"""Tests of the facility travel-time and distance matrices."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.graphs import county_like_graph, pick_facilities
from sim.errors import GeodataError
from sim.network import RoadCSR, _fastest_edges, _reduce, facility_matrices, graph_to_csr


def _road(graph: nx.MultiDiGraph, u: int, v: int, length: float, kph: float, *, both=True):
    for a, b in ((u, v), (v, u)) if both else ((u, v),):
        graph.add_edge(a, b, length=length, speed_kph=kph, travel_time=length / (kph / 3.6))


@pytest.fixture
def small() -> nx.MultiDiGraph:
    """Two routes 0 -> 3 (fast and long, slow and short), parallel roads, a one-way loop.

    - 0-1-3: 12 km at 80 km/h (540 s); 0-2-3: 8 km at 30 km/h (960 s);
    - 3-4: 1.0 km at 20 km/h (180 s) and, parallel, 1.5 km at 60 km/h (90 s);
    - 4 -> 5 -> 0 one way only; 2 has a self-loop; 6 is isolated.
    """
    graph = nx.MultiDiGraph(crs="epsg:4326")
    graph.add_nodes_from(range(7))
    _road(graph, 0, 1, 6000, 80)
    _road(graph, 1, 3, 6000, 80)
    _road(graph, 0, 2, 4000, 30)
    _road(graph, 2, 3, 4000, 30)
    _road(graph, 3, 4, 1000, 20)
    _road(graph, 3, 4, 1500, 60)
    _road(graph, 4, 5, 2500, 40, both=False)
    _road(graph, 5, 0, 9000, 40, both=False)
    _road(graph, 2, 2, 500, 30, both=False)
    return graph


def _fastest_km(graph: nx.MultiDiGraph, path: list[int], weight) -> float:
    """Length in km along a node path, taking the fastest of parallel edges."""
    total = 0.0
    for u, v in itertools.pairwise(path):
        edge = min(graph[u][v].values(), key=lambda d: weight(u, v, {0: d}))
        total += edge["length"]
    return total / 1000


def _capped(cap: float | None):
    def weight(u, v, data):
        return min(
            d["length"] / (min(d["speed_kph"], cap or math.inf) / 3.6) for d in data.values()
        )

    return weight


@pytest.mark.parametrize("cap", [None, 25.0, 50.0])
def test_matrices_equal_networkx_fastest_paths(small, cap):
    nodes = list(range(7))
    time_min, km = facility_matrices(small, nodes, max_speed_kmh=cap)
    weight = "travel_time" if cap is None else _capped(cap)
    for i, a in enumerate(nodes):
        for j, b in enumerate(nodes):
            try:
                path = nx.shortest_path(small, a, b, weight=weight)
            except nx.NetworkXNoPath:
                assert time_min[i, j] == np.inf and km[i, j] == np.inf
                continue
            seconds = nx.shortest_path_length(small, a, b, weight=weight)
            assert time_min[i, j] == pytest.approx(seconds / 60, rel=1e-12)
            assert km[i, j] == pytest.approx(_fastest_km(small, path, _capped(cap)), rel=1e-12)


def test_diagonal_is_zero_and_isolated_nodes_are_unreachable(small):
    time_min, km = facility_matrices(small, list(range(7)))
    assert (np.diag(time_min) == 0).all() and (np.diag(km) == 0).all()
    assert np.isinf(time_min[6, :6]).all() and np.isinf(km[:6, 6]).all()
    assert time_min.shape == km.shape == (7, 7) and time_min.dtype == np.float64


def test_distance_is_along_the_fastest_not_the_shortest_path(small):
    time_min, km = facility_matrices(small, [0, 3, 4])
    assert time_min[0, 1] == pytest.approx(540 / 60)
    assert km[0, 1] == pytest.approx(12.0)  # the 8 km road is slower
    assert km[1, 2] == pytest.approx(1.5)  # the faster of two parallel roads
    assert km[2, 0] == pytest.approx(1.5 + 12.0)  # back over the two-way roads
    assert nx.shortest_path_length(small, 4, 0, weight="length") == 9000  # shortest: 4-3-2-0


def test_speed_cap_slows_trips_and_can_change_the_route(small):
    free_min, _ = facility_matrices(small, [0, 3, 4])
    slow_min, slow_km = facility_matrices(small, [0, 3, 4], max_speed_kmh=25)
    assert (slow_min >= free_min).all() and (slow_min > free_min).any()
    assert slow_km[0, 1] == pytest.approx(8.0)  # at 25 km/h the short road wins
    assert slow_min[0, 1] == pytest.approx(8.0 / 25 * 60)
    assert slow_km[1, 2] == pytest.approx(1.0)  # and the shorter parallel road
    same_min, _ = facility_matrices(small, [0, 3, 4], max_speed_kmh=500)
    np.testing.assert_allclose(same_min, free_min)


def test_repeated_nodes_and_converted_graphs_give_the_same_answer(small):
    time_min, km = facility_matrices(small, [3, 0, 3, 6, 0])
    np.testing.assert_array_equal(time_min[0], time_min[2])
    np.testing.assert_array_equal(km[:, 1], km[:, 4])
    csr = graph_to_csr(small)
    assert isinstance(csr, RoadCSR)
    again_min, again_km = facility_matrices(csr, [3, 0, 3, 6, 0])
    np.testing.assert_array_equal(again_min, time_min)
    np.testing.assert_array_equal(again_km, km)
    empty_min, empty_km = facility_matrices(csr, [])
    assert empty_min.shape == empty_km.shape == (0, 0)


def test_bad_input_raises_geodata_errors(small):
    with pytest.raises(GeodataError, match="node 99"):
        facility_matrices(small, [0, 99])
    for cap in (0.0, -5.0, math.nan):
        with pytest.raises(GeodataError, match="max_speed_kmh"):
            facility_matrices(small, [0, 1], max_speed_kmh=cap)
    small.add_edge(0, 6, length=100.0)
    with pytest.raises(GeodataError, match="speed_kph"):
        facility_matrices(small, [0, 1])
    small.add_edge(6, 0, length=-1.0, speed_kph=30.0)
    small.remove_edge(0, 6)
    with pytest.raises(GeodataError, match="length"):
        facility_matrices(small, [0, 1])


@st.composite
def _graphs(draw):
    n = draw(st.integers(1, 6))
    node = st.integers(0, n - 1)
    edges = draw(
        st.lists(
            st.tuples(node, node, st.floats(0, 5000), st.sampled_from([15.0, 20.0, 30.0, 60.0])),
            max_size=14,
        )
    )
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(n))
    for u, v, length, kph in edges:
        graph.add_edge(u, v, length=length, speed_kph=kph)
    nodes = draw(st.lists(node, min_size=1, max_size=8))
    cap = draw(st.none() | st.sampled_from([10.0, 25.0, 45.0]))
    return graph, nodes, cap


def _fastest_options(graph, a, b, cap) -> tuple[float, list[float]]:
    """Brute force: fastest time (s) from a to b and the lengths (m) of all fastest paths."""
    weight = _capped(cap)
    options = []
    for path in nx.all_simple_paths(graph, a, b):
        hops = []
        for u, v in itertools.pairwise(path):
            cost = {k: weight(u, v, {0: d}) for k, d in graph[u][v].items()}
            best = min(cost.values())
            hops.append(
                (best, [graph[u][v][k]["length"] for k, c in cost.items() if c <= best * 1.000001])
            )
        seconds = sum(h[0] for h in hops)
        options += [(seconds, sum(c)) for c in itertools.product(*(h[1] for h in hops))]
    fastest = min(s for s, _ in options)
    return fastest, [m for s, m in options if s <= fastest * (1 + 1e-9) + 1e-9]


@settings(max_examples=150, deadline=None)
@given(_graphs())
def test_matrices_match_a_brute_force_oracle(case):
    graph, nodes, cap = case
    time_min, km = facility_matrices(graph, nodes, max_speed_kmh=cap)
    for i, a in enumerate(nodes):
        for j, b in enumerate(nodes):
            if a == b:
                assert time_min[i, j] == 0 and km[i, j] == 0
            elif not nx.has_path(graph, a, b):
                assert time_min[i, j] == np.inf and km[i, j] == np.inf
            else:
                seconds, metres = _fastest_options(graph, a, b, cap)
                assert time_min[i, j] * 60 == pytest.approx(seconds, rel=1e-9, abs=1e-9)
                assert any(km[i, j] * 1000 == pytest.approx(m, rel=1e-9, abs=1e-6) for m in metres)


def _grid(side: int, seed: int) -> nx.MultiDiGraph:
    """A grid of two-way roads with random lengths and speeds, deep shortest-path trees."""
    rng = np.random.default_rng(seed)
    graph = nx.MultiDiGraph()
    for u, v in nx.grid_2d_graph(side, side).edges:
        a, b = u[0] * side + u[1], v[0] * side + v[1]
        _road(graph, a, b, float(rng.uniform(200, 3000)), float(rng.choice([20, 30, 40, 60])))
    return graph


@pytest.mark.parametrize("block_entries", [1, 1 << 19])
@pytest.mark.parametrize("every_node", [False, True], ids=["reduced", "unreduced"])
def test_deep_trees_and_source_blocks_match_networkx(monkeypatch, block_entries, every_node):
    # with every node a facility nothing is reduced and the shortest-path trees stay deep
    monkeypatch.setattr("sim.network._BLOCK_ENTRIES", block_entries)
    graph = _grid(15, seed=4)
    nodes = list(range(225)) if every_node else [0, 14, 112, 210, 224, 57, 57, 190]
    time_min, km = facility_matrices(graph, nodes)
    for i in range(0, len(nodes), 28 if every_node else 1):
        a = nodes[i]
        seconds, paths = nx.single_source_dijkstra(graph, a, weight="travel_time")
        for j, b in enumerate(nodes):
            assert time_min[i, j] == pytest.approx(seconds[b] / 60, rel=1e-12)
            expected = _fastest_km(graph, paths[b], _capped(None))
            assert km[i, j] == pytest.approx(expected, rel=1e-12)


# --- graph reduction: dead ends, chains, elimination ---------------------------------------


def _check_against_networkx(graph, nodes, cap, time_min, km):
    """Times equal networkx's; each km lies within the range of lengths of fastest paths."""
    for i, a in enumerate(nodes):
        seconds, shortest_m, longest_m = _fastest_path_lengths(graph, a, cap)
        for j, b in enumerate(nodes):
            if b not in seconds:
                assert time_min[i, j] == np.inf and km[i, j] == np.inf
                continue
            assert time_min[i, j] * 60 == pytest.approx(seconds[b], rel=1e-9, abs=1e-9)
            metres = km[i, j] * 1000
            assert shortest_m[b] * (1 - 1e-9) - 1e-6 <= metres <= longest_m[b] * (1 + 1e-9) + 1e-6


def _fastest_path_lengths(graph, source, cap):
    """Fastest times (s) from source, and the least and greatest length (m) of a fastest path.

    Ties count: an edge is on some fastest path when it is tight (the time to its tail plus
    its own time is the time to its head); lengths are relaxed over tight edges only.
    """
    weight = _capped(cap)
    seconds = nx.single_source_dijkstra_path_length(graph, source, weight=weight)
    tight = sorted(
        (
            (seconds[u], u, v, d["length"])
            for u, v, d in graph.edges(data=True)
            if u in seconds
            and u != v
            and seconds[u] + weight(u, v, {0: d}) <= seconds[v] * (1 + 1e-12) + 1e-9
        ),
        key=lambda edge: edge[0],
    )
    shortest = {node: (0.0 if node == source else math.inf) for node in seconds}
    longest = {node: (0.0 if node == source else -math.inf) for node in seconds}
    for _ in range(len(seconds)):  # once in time order, more for ties along edges of no time
        before = (dict(shortest), dict(longest))
        for _, u, v, metres in tight:
            shortest[v] = min(shortest[v], shortest[u] + metres)
            longest[v] = max(longest[v], longest[u] + metres)
        if before == (shortest, longest):
            break
    return seconds, shortest, longest


@st.composite
def _road_graphs(draw):
    """A few crossroads, with dead-end trees, chains and parallel roads, any of them one-way.

    Returns the graph, the facility nodes (repeats allowed) and a speed cap.
    """
    n_core = draw(st.integers(1, 6))
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(n_core))
    length = st.floats(0, 5000) | st.sampled_from([0.0, 1000.0])
    kph = st.sampled_from([15.0, 20.0, 30.0, 60.0])
    # direction of a road: both ways, forward only, backward only
    way = st.sampled_from(["both", "both", "both", "forward", "backward"])

    def road(u, v, how):
        metres, speed = draw(length), draw(kph)
        if how in ("both", "forward"):
            graph.add_edge(u, v, length=metres, speed_kph=speed)
        if how in ("both", "backward"):
            graph.add_edge(v, u, length=metres, speed_kph=speed)

    core = st.integers(0, n_core - 1)
    for u, v, how in draw(st.lists(st.tuples(core, core, way), max_size=10)):
        road(u, v, how)
    for u, v, hops, how in draw(
        st.lists(st.tuples(core, core, st.integers(1, 4), way), max_size=4)
    ):  # chains u - x1 - ... - v of new nodes, one-way in parts or all along
        path = [u, *range(len(graph), len(graph) + hops - 1), v]
        for a, b in itertools.pairwise(path):
            road(a, b, how if draw(st.booleans()) else draw(way))
    for _ in range(draw(st.integers(0, 4))):  # dead-end trees
        for _ in range(draw(st.integers(1, 4))):
            anchor = draw(st.integers(0, len(graph) - 1))
            road(anchor, len(graph), draw(way))
    edges = list(graph.edges)
    for u, v, _ in draw(st.lists(st.sampled_from(edges), max_size=3)) if edges else []:
        road(u, v, "forward")  # a parallel road
    nodes = draw(st.lists(st.integers(0, len(graph) - 1), min_size=1, max_size=8))
    cap = draw(st.none() | st.sampled_from([10.0, 25.0, 45.0]))
    return graph, nodes, cap


@settings(max_examples=300, deadline=None)
@given(_road_graphs())
def test_reduced_graph_gives_the_networkx_matrices(case):
    graph, nodes, cap = case
    time_min, km = facility_matrices(graph, nodes, max_speed_kmh=cap)
    _check_against_networkx(graph, nodes, cap, time_min, km)


def _lanes_and_chains() -> nx.MultiDiGraph:
    """A loop 0-1-2-3-0 of crossroads; chains and dead-end trees on it.

    - 1 - 10 - 11 - 12 - 2: a two-way chain (the fast way from 1 to 2);
    - 2 -> 20 -> 21 -> 3: a one-way chain;
    - 3 - 30 - 31, 30 - 32 - 33: a dead-end tree of lanes; 33 -> 34 one way into a dead end;
    - 0 - 40 - 41: a dead-end lane with a parallel, slower road 40 - 41.
    """
    graph = nx.MultiDiGraph()
    for u, v, metres in [(0, 1, 3000), (1, 2, 9000), (2, 3, 2500), (3, 0, 4000)]:
        _road(graph, u, v, metres, 30)
    for u, v in [(1, 10), (10, 11), (11, 12), (12, 2)]:
        _road(graph, u, v, 1000, 60)
    for u, v in [(2, 20), (20, 21), (21, 3)]:
        _road(graph, u, v, 500, 20, both=False)
    for u, v in [(3, 30), (30, 31), (30, 32), (32, 33)]:
        _road(graph, u, v, 700, 20)
    _road(graph, 33, 34, 300, 15, both=False)
    _road(graph, 0, 40, 800, 30)
    _road(graph, 40, 41, 600, 30)
    _road(graph, 40, 41, 500, 15)
    return graph


@pytest.mark.parametrize("cap", [None, 25.0])
@pytest.mark.parametrize(
    "nodes",
    [
        [0, 2],  # the lanes and chains are all reduced away
        [11, 31, 0],  # in the middle of a chain, at the end of a lane
        [32, 20, 41, 1],  # inside a lane tree, inside a one-way chain, behind a parallel road
        [34, 33, 30, 3],  # a one-way dead end: reachable, but no way out
    ],
)
def test_facilities_inside_lanes_and_chains(nodes, cap):
    graph = _lanes_and_chains()
    time_min, km = facility_matrices(graph, nodes, max_speed_kmh=cap)
    _check_against_networkx(graph, nodes, cap, time_min, km)
    assert np.isfinite(time_min[:, 0]).all()


def test_a_one_way_dead_end_and_other_components_are_unreachable():
    graph = _lanes_and_chains()
    _road(graph, 90, 91, 1000, 30)  # a separate road
    graph.add_node(99)  # an isolated node
    nodes = [0, 34, 90, 99, 91]
    time_min, km = facility_matrices(graph, nodes)
    reach = np.isfinite(time_min)
    np.testing.assert_array_equal(reach, np.isfinite(km))
    expected = np.array(
        [
            [1, 1, 0, 0, 0],
            [0, 1, 0, 0, 0],  # 34 is reached from 0 but cannot be left
            [0, 0, 1, 0, 1],
            [0, 0, 0, 1, 0],
            [0, 0, 1, 0, 1],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(reach, expected)
    assert time_min[2, 4] == pytest.approx(1000 / (30 / 3.6) / 60)


def test_reduction_keeps_the_facilities_and_one_edge_per_drivable_direction():
    graph = _lanes_and_chains()
    csr = graph_to_csr(graph)
    facilities = csr.index_of([1, 2])
    kept, edges = _reduce(len(csr.node_ids), _fastest_edges(csr, None), facilities)
    np.testing.assert_array_equal(csr.node_ids[kept], [1, 2])
    pairs = {(int(t), int(h)): (s, m) for t, h, s, m in zip(*edges, strict=True)}
    assert set(pairs) == {(0, 1), (1, 0)}
    # 1 -> 2 along the fast chain (4 km at 60 km/h); back the same way
    assert pairs[0, 1] == pytest.approx((240.0, 4000.0))
    assert pairs[1, 0] == pytest.approx((240.0, 4000.0))


def test_one_way_chain_becomes_one_way_edge():
    graph = nx.MultiDiGraph()
    for u, v in [(0, 1), (1, 2), (2, 3)]:
        _road(graph, u, v, 1000, 36, both=False)
    _road(graph, 1, 2, 1000, 36, both=False)  # a parallel piece in the middle
    csr = graph_to_csr(graph)
    kept, edges = _reduce(4, _fastest_edges(csr, None), csr.index_of([0, 3]))
    np.testing.assert_array_equal(csr.node_ids[kept], [0, 3])
    assert edges.tail.tolist() == [0] and edges.head.tolist() == [1]
    assert edges.seconds.tolist() == pytest.approx([300.0])
    assert edges.metres.tolist() == pytest.approx([3000.0])


# --- the benchmark graph -------------------------------------------------------------------


@pytest.fixture(scope="module")
def county() -> nx.MultiDiGraph:
    return county_like_graph(3000, seed=7)


def test_county_like_graph_looks_like_a_simplified_rural_drive_graph(county):
    assert county.number_of_nodes() == 3000
    assert nx.is_weakly_connected(county)
    simple = nx.Graph(county)
    simple.remove_edges_from(nx.selfloop_edges(simple))
    degree = np.array([d for _, d in simple.degree()])
    assert 0.1 < np.mean(degree == 1) < 0.35  # dead ends
    assert 0.2 < np.mean(degree == 2) < 0.4  # where road attributes change
    assert np.mean(degree >= 3) > 0.3 and degree.max() <= 8
    edges = list(county.edges(keys=True, data=True))
    assert any(k > 0 for _, _, k, _ in edges)  # parallel roads
    assert any(d["oneway"] for *_, d in edges) and not all(d["oneway"] for *_, d in edges)
    assert {d["highway"] for *_, d in edges} >= {"primary", "tertiary", "residential", "motorway"}
    for *_, d in edges:
        assert d["length"] >= 0 and d["speed_kph"] > 0
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
    x, y = zip(*((d["x"], d["y"]) for _, d in county.nodes(data=True)), strict=True)
    assert 110.6 < min(x) < max(x) < 111.4 and 37.2 < min(y) < max(y) < 37.8


def test_county_like_graph_and_facilities_are_the_same_for_the_same_seed(county):
    again = county_like_graph(3000, seed=7)
    assert list(again.edges(keys=True, data=True)) == list(county.edges(keys=True, data=True))
    assert list(again.nodes(data=True)) == list(county.nodes(data=True))
    other = county_like_graph(3000, seed=8)
    assert list(other.edges) != list(county.edges)
    picked = pick_facilities(county, 60, seed=1)
    assert picked == pick_facilities(county, 60, seed=1) and len(set(picked)) == 60
    assert pick_facilities(county, 60, seed=2) != picked


@pytest.mark.parametrize("cap", [None, 40.0])
def test_county_matrices_match_networkx_and_the_graph_shrinks(county, cap):
    nodes = pick_facilities(county, 40, seed=3)
    time_min, km = facility_matrices(county, nodes, max_speed_kmh=cap)
    _check_against_networkx(county, nodes, cap, time_min, km)
    csr = graph_to_csr(county)
    kept, _ = _reduce(len(csr.node_ids), _fastest_edges(csr, cap), csr.index_of(nodes))
    assert len(kept) < 0.15 * county.number_of_nodes()
