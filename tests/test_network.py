"""Tests of the facility travel-time and distance matrices."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import GeodataError
from sim.network import RoadCSR, facility_matrices, graph_to_csr


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
def test_deep_trees_and_source_blocks_match_networkx(monkeypatch, block_entries):
    monkeypatch.setattr("sim.network._BLOCK_ENTRIES", block_entries)
    graph = _grid(15, seed=4)
    nodes = [0, 14, 112, 210, 224, 57, 57, 190]
    time_min, km = facility_matrices(graph, nodes)
    for i, a in enumerate(nodes):
        seconds, paths = nx.single_source_dijkstra(graph, a, weight="travel_time")
        for j, b in enumerate(nodes):
            assert time_min[i, j] == pytest.approx(seconds[b] / 60, rel=1e-12)
            expected = _fastest_km(graph, paths[b], _capped(None))
            assert km[i, j] == pytest.approx(expected, rel=1e-12)
