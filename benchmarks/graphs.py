"""Synthetic county-sized road graphs for benchmarking `sim.network` (not used by the model).

`county_like_graph` imitates a simplified osmnx drive graph of a rural Shanxi county, about
60 x 50 km around (111 E, 37.5 N), at any size. It is built in a local frame in metres:

- intersections: the county seat, the township seats and the villages are point clusters
  (dense street patterns), the countryside between them is sparse; the roads between
  intersections are the minimum spanning tree of their Delaunay triangulation plus some
  of the remaining Delaunay edges, short ones (inside settlements) far more often, so
  towns have loops and the hills are tree-like;
- hierarchy: the shortest ways from the seat to every township are ``primary``, between
  neighbouring townships ``secondary``, from each village to its nearest township
  ``tertiary``; the rest is ``residential`` in settlements and ``unclassified`` outside;
- an expressway crosses the county as two one-way carriageways with ramps at junctions
  (its ends are a source and a sink, as in a graph cut at the county border); some streets
  of the seat and a few rural roads are one-way;
- dead-end trees of village lanes hang off intersections, a few end one-way;
- degree-2 nodes split many roads where attributes change (``maxspeed``, bridges), so
  chains of several edges run between intersections;
- some node pairs are joined by two roads (parallel edges) and a few lanes loop back to
  their start (self-loops).

Edges carry ``osmid``, ``highway``, ``oneway``, ``reversed``, ``length`` (m), ``speed_kph``
and ``travel_time`` (s); nodes carry ``x`` (lon), ``y`` (lat) and ``street_count``. Node
ids are large non-contiguous integers like OSM ids. The same seed gives the same graph.

``ruralsim benchmark --matrices`` imports it through :func:`sim._checkout.bench_graphs` (in a
checkout and from the wheel, which ships ``benchmarks``); the network tests import it directly.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
from scipy.spatial import Delaunay

from sim.geodata.speeds import DEFAULT_HIGHWAY_SPEEDS_KMH

_WIDTH_M, _HEIGHT_M = 60_000.0, 50_000.0
_LON0, _LAT0 = 111.0, 37.5
_M_PER_DEG = math.radians(1.0) * 6_371_009.0

# Share of the nodes that are intersections and dead-end lane nodes; the rest split roads.
_CORE_SHARE, _SPUR_SHARE = 0.56, 0.3
# Share of the intersections in the seat, the township seats, the villages, the countryside.
_CLUSTER_SHARES = (0.08, 0.12, 0.45, 0.35)
_CLUSTER_SIGMA_M = (1_300.0, 450.0, 160.0)  # spread of seat, township and village streets
_EXPRESSWAY_SPACING_M = 700.0  # between carriageway nodes
_HIGHWAYS = (
    "motorway",
    "motorway_link",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
)
_MOTORWAY, _LINK, _PRIMARY, _SECONDARY, _TERTIARY, _UNCLASSIFIED, _RESIDENTIAL = range(7)


def county_like_graph(n_nodes: int = 50_000, *, seed: int = 0) -> nx.MultiDiGraph:
    """Build a synthetic simplified OSM drive graph of a rural county.

    Parameters
    ----------
    n_nodes
        Number of nodes, at least 500.
    seed
        Seed of the generator; the same seed gives the same graph.

    Returns
    -------
    networkx.MultiDiGraph
        Road graph in WGS-84 with osmnx-style node and edge attributes.
    """
    if n_nodes < 500:
        raise ValueError(f"n_nodes: need at least 500 nodes, got {n_nodes}")
    rng = np.random.default_rng(seed)
    n_core = round(_CORE_SHARE * n_nodes)
    xy, settled, n_seats, n_centres = _intersections(n_core, rng)
    roads = _core_roads(xy, settled, n_seats, n_centres, rng)
    xy, roads = _add_expressway(xy, roads, n_core, rng)
    xy, roads = _add_lanes(xy, roads, round(_SPUR_SHARE * n_nodes), settled, rng)
    xy, roads = _split_roads(xy, roads, n_nodes - len(xy), rng)
    roads = _add_parallels_and_loops(roads, len(xy), rng)
    return _to_graph(xy, roads, rng)


def pick_facilities(graph: nx.MultiDiGraph, n: int = 600, *, seed: int = 0) -> list[int]:
    """Pick ``n`` distinct nodes spread evenly over the graph's extent.

    The extent is cut into about ``n`` cells and one node is drawn in each occupied cell
    (cells are dropped at random, or extra nodes drawn anywhere, to get exactly ``n``).
    Expressway nodes are never picked.

    Parameters
    ----------
    graph
        Graph with ``x`` and ``y`` node attributes and ``highway`` edge attributes.
    n
        Number of facilities, at most the number of eligible nodes.
    seed
        Seed of the draw.

    Returns
    -------
    list of int
        Node ids in random order.
    """
    rng = np.random.default_rng(seed)
    expressway = {"motorway", "motorway_link"}
    local: set[object] = set()
    highway: object
    for u, v, highway in graph.edges(data="highway"):
        if highway not in expressway:
            local.update((u, v))
    nodes = np.array([u for u in graph.nodes if u in local or graph.degree(u) == 0])
    if not 0 <= n <= len(nodes):
        raise ValueError(f"n: need 0 <= n <= {len(nodes)} eligible nodes, got {n}")
    x = np.array([graph.nodes[u]["x"] for u in nodes])
    y = np.array([graph.nodes[u]["y"] for u in nodes])
    width, height = max(np.ptp(x), 1e-9), max(np.ptp(y), 1e-9)
    cols = max(1, round(math.sqrt(n * width / height)))
    rows = max(1, math.ceil(n / cols))
    cx = np.minimum(((x - x.min()) / width * cols).astype(np.int64), cols - 1)
    cy = np.minimum(((y - y.min()) / height * rows).astype(np.int64), rows - 1)
    cell = cy * cols + cx
    # one random node per occupied cell: shuffle, then take the first of each cell
    order = rng.permutation(len(nodes))
    _, first = np.unique(cell[order], return_index=True)
    chosen = order[first]
    if len(chosen) > n:
        chosen = rng.choice(chosen, size=n, replace=False)
    elif len(chosen) < n:
        rest = np.setdiff1d(np.arange(len(nodes)), chosen)
        chosen = np.concatenate([chosen, rng.choice(rest, size=n - len(chosen), replace=False)])
    return [int(u) for u in nodes[rng.permutation(chosen)]]


class _Roads:
    """Undirected road pieces as parallel arrays; one-way pieces run from ``a`` to ``b``."""

    def __init__(self) -> None:
        self.a = np.empty(0, dtype=np.int64)
        self.b = np.empty(0, dtype=np.int64)
        self.highway = np.empty(0, dtype=np.int64)
        self.oneway = np.empty(0, dtype=bool)
        self.circuity = np.empty(0)

    def add(
        self,
        a: ArrayLike,
        b: ArrayLike,
        highway: ArrayLike,
        *,
        oneway: ArrayLike = False,
        circuity: ArrayLike | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        """Append pieces; without ``circuity``, draw it (road length / straight line)."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if circuity is None:
            if rng is None:
                raise ValueError("circuity: give it, or rng to draw it")
            circuity = 1.0 + rng.gamma(2.0, 0.06, size=a.size)
        self.a = np.concatenate([self.a, a])
        self.b = np.concatenate([self.b, b])
        self.highway = np.concatenate([self.highway, np.broadcast_to(highway, a.shape)])
        self.oneway = np.concatenate([self.oneway, np.broadcast_to(oneway, a.shape)])
        self.circuity = np.concatenate([self.circuity, np.broadcast_to(circuity, a.shape)])

    def take(self, keep: np.ndarray) -> None:
        """Keep only the pieces selected by ``keep``."""
        for name in ("a", "b", "highway", "oneway", "circuity"):
            setattr(self, name, getattr(self, name)[keep])


def _intersections(
    n_core: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Intersection positions (m), whether each is in a settlement, and how many are seats.

    The first points are the seat, then the township seats, then the village centres:
    returns the number of seats (county and townships) and of settlement centres.
    """
    n_towns = max(3, round(n_core / 1_500))
    n_villages = max(8, round(n_core / 47))
    seat = np.array([[_WIDTH_M * 0.5, _HEIGHT_M * 0.5]]) + rng.normal(0, 2_000, size=(1, 2))
    towns = _spread(n_towns, seat, rng, margin=4_000.0)
    # villages cluster loosely around townships: half near one, half anywhere
    near = rng.random(n_villages) < 0.5
    host = rng.integers(0, n_towns, size=n_villages)
    villages = np.where(
        near[:, None],
        towns[host] + rng.normal(0, 4_000, size=(n_villages, 2)),
        rng.uniform([0, 0], [_WIDTH_M, _HEIGHT_M], size=(n_villages, 2)),
    )
    centres = np.vstack([seat, towns, villages])
    fixed = len(centres)
    counts = (np.array(_CLUSTER_SHARES) * (n_core - fixed)).astype(np.int64)
    counts[3] = n_core - fixed - counts[:3].sum()
    seat_pts = seat + rng.normal(0, _CLUSTER_SIGMA_M[0], size=(counts[0], 2))
    town_pts = towns[rng.integers(0, n_towns, size=counts[1])] + rng.normal(
        0, _CLUSTER_SIGMA_M[1], size=(counts[1], 2)
    )
    vil_pts = villages[rng.integers(0, n_villages, size=counts[2])] + rng.normal(
        0, _CLUSTER_SIGMA_M[2], size=(counts[2], 2)
    )
    rural = rng.uniform([0, 0], [_WIDTH_M, _HEIGHT_M], size=(counts[3], 2))
    xy = np.vstack([centres, seat_pts, town_pts, vil_pts, rural])
    xy = _reflect(xy)
    settled = np.arange(n_core) < n_core - counts[3]
    return xy, settled, 1 + n_towns, fixed


def _reflect(xy: np.ndarray) -> np.ndarray:
    """Fold points that fall outside the frame back inside it (keeps them distinct)."""
    size = np.array([_WIDTH_M, _HEIGHT_M])
    xy = np.abs(xy)
    return size - np.abs(size - np.mod(xy, 2 * size))


def _spread(k: int, taken: np.ndarray, rng: np.random.Generator, *, margin: float) -> np.ndarray:
    """``k`` points placed by best-candidate sampling away from ``taken`` and each other."""
    placed = list(taken)
    for _ in range(k):
        cand = rng.uniform([margin, margin], [_WIDTH_M - margin, _HEIGHT_M - margin], (20, 2))
        gap = np.min(np.linalg.norm(cand[:, None] - np.array(placed)[None], axis=2), axis=1)
        placed.append(cand[np.argmax(gap)])
    return np.array(placed[len(taken) :])


def _core_roads(
    xy: np.ndarray, settled: np.ndarray, n_seats: int, n_centres: int, rng: np.random.Generator
) -> _Roads:
    """Roads between intersections, classified by the hierarchy of the module docstring."""
    n = len(xy)
    tri = Delaunay(xy).simplices
    pairs = np.sort(np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]), axis=1)
    pairs = np.unique(pairs[:, 0] * n + pairs[:, 1])
    pairs = np.column_stack([pairs // n, pairs % n])
    span = np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1)
    pairs, span = pairs[span > 0], span[span > 0]
    mst = minimum_spanning_tree(coo_array((span, (pairs[:, 0], pairs[:, 1])), shape=(n, n)))
    tree = mst.tocoo()
    in_tree = np.isin(
        pairs[:, 0] * n + pairs[:, 1],
        np.minimum(tree.row, tree.col) * n + np.maximum(tree.row, tree.col),
    )
    loop_p = np.clip(0.3 * np.sqrt(250.0 / span), 0.02, 0.35) * (span < 6_000)
    keep = in_tree.copy()
    degree = np.bincount(pairs[in_tree].ravel(), minlength=n)
    # loops close in random order, rarely making crossroads of four roads, never of five
    for k in rng.permutation(np.flatnonzero(~in_tree & (rng.random(len(pairs)) < loop_p))):
        a, b = pairs[k]
        most = max(degree[a], degree[b])
        if most < 3 or (most == 3 and rng.random() < 0.3):
            keep[k] = True
            degree[a] += 1
            degree[b] += 1
    pairs, in_tree = pairs[keep], in_tree[keep]
    # a few roads in the seat and in the countryside are one-way (never tree roads, so the
    # network stays strongly connected); one-way pieces run from a to b
    near_seat = np.linalg.norm(xy[pairs[:, 0]] - xy[0], axis=1) < 2_500
    oneway = ~in_tree & (rng.random(len(pairs)) < np.where(near_seat, 0.25, 0.01))
    flip = oneway & (rng.random(len(pairs)) < 0.5)
    pairs[flip] = pairs[flip][:, ::-1]
    both_settled = settled[pairs[:, 0]] & settled[pairs[:, 1]]
    highway = np.where(both_settled, _RESIDENTIAL, _UNCLASSIFIED)
    highway = _mark_hierarchy(xy, pairs, highway, n_seats=n_seats, n_centres=n_centres)
    roads = _Roads()
    roads.add(pairs[:, 0], pairs[:, 1], highway, oneway=oneway, rng=rng)
    return roads


def _mark_hierarchy(
    xy: np.ndarray, pairs: np.ndarray, highway: np.ndarray, *, n_seats: int, n_centres: int
) -> np.ndarray:
    """Upgrade the roads on shortest ways between settlements (see the module docstring)."""
    n = len(xy)
    towns = np.arange(n_seats)
    span = np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1)
    both = np.concatenate([pairs, pairs[:, ::-1]])
    graph = csr_array((np.concatenate([span, span]), (both[:, 0], both[:, 1])), shape=(n, n))
    row_of = {(int(a), int(b)): k for k, (a, b) in enumerate(pairs.tolist())}
    highway = highway.copy()

    def mark(pred: np.ndarray, source: int, target: int, level: int) -> None:
        node = target
        while node != source and pred[node] >= 0:
            up = int(pred[node])
            k = row_of.get((up, node), row_of.get((node, up)))
            highway[k] = min(highway[k], level)
            node = up

    _, pred = dijkstra(graph, directed=False, indices=towns, return_predecessors=True)
    for j in range(1, len(towns)):
        mark(pred[0], int(towns[0]), int(towns[j]), _PRIMARY)
    tri = Delaunay(xy[towns]).simplices
    for i, j in {(min(p, q), max(p, q)) for s in tri.tolist() for p in s for q in s if p != q}:
        mark(pred[i], int(towns[i]), int(towns[j]), _SECONDARY)
    _, pred, source = dijkstra(
        graph, directed=False, indices=towns, return_predecessors=True, min_only=True
    )
    for v in range(n_seats, n_centres):
        mark(pred, int(source[v]), v, _TERTIARY)
    return highway


def _add_expressway(
    xy: np.ndarray, roads: _Roads, n_core: int, rng: np.random.Generator
) -> tuple[np.ndarray, _Roads]:
    """Two one-way carriageways across the county, with ramps to the nearest intersection."""
    x = np.arange(0.0, _WIDTH_M, _EXPRESSWAY_SPACING_M) + rng.uniform(0, 200)
    phase = rng.uniform(0, 2 * math.pi)
    y = _HEIGHT_M * (0.5 + 0.15 * np.sin(2 * math.pi * x / 70_000.0 + phase))
    k = len(x)
    east = len(xy) + np.arange(k)
    west = east + k
    xy = np.vstack([xy, np.column_stack([x, y - 20.0]), np.column_stack([x, y + 20.0])])
    roads.add(east[:-1], east[1:], _MOTORWAY, oneway=True, circuity=1.01)
    roads.add(west[1:], west[:-1], _MOTORWAY, oneway=True, circuity=1.01)
    for j in np.linspace(2, k - 3, 4).astype(np.int64).tolist():
        local = int(np.argmin(np.linalg.norm(xy[:n_core] - xy[east[j]], axis=1)))
        roads.add(
            [east[j], local, west[j + 1], local],
            [local, east[j + 1], local, west[j]],
            _LINK,
            oneway=True,
            circuity=1.4,
        )
    return xy, roads


def _add_lanes(
    xy: np.ndarray, roads: _Roads, n_lane: int, settled: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, _Roads]:
    """Dead-end trees of lanes hanging off intersections, mostly in settlements."""
    sizes = np.minimum(rng.geometric(0.45, size=n_lane), 15)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n_lane) + 1]
    sizes[-1] -= sizes.sum() - n_lane
    # lanes leave from roads (degree 2) rather than from crossroads, mostly in settlements
    degree = np.bincount(np.concatenate([roads.a, roads.b]), minlength=len(xy))[: len(settled)]
    weight = (
        np.where(settled, 3.0, 1.0) * np.array([0.0, 1.0, 4.0, 1.0, 0.0])[np.minimum(degree, 4)]
    )
    anchor = rng.choice(len(settled), size=len(sizes), p=weight / weight.sum())
    tree = np.repeat(np.arange(len(sizes)), sizes)
    start = np.cumsum(sizes) - sizes
    local = np.arange(n_lane) - start[tree]  # position of each lane node within its tree
    # parent: the previous node (a chain) or any earlier node of the tree (a branch)
    earlier = (rng.random(n_lane) * np.maximum(local, 1)).astype(np.int64)
    chain = rng.random(n_lane) < 0.5
    parent_local = np.where(chain, local - 1, earlier)
    base = len(xy)
    parent = np.where(local == 0, anchor[tree], base + start[tree] + parent_local)
    pos = np.vstack([xy, np.zeros((n_lane, 2))])
    step = rng.lognormal(math.log(160.0), 0.5, size=n_lane)
    angle = rng.uniform(0, 2 * math.pi, size=n_lane)
    for depth in range(int(sizes.max())):
        at = np.flatnonzero(local == depth)
        pos[base + at] = pos[parent[at]] + (step[at] * [np.cos(angle[at]), np.sin(angle[at])]).T
    lane = base + np.arange(n_lane)
    # lanes are residential in settlements and unclassified outside; one in a hundred is
    # one-way (into or out of its dead end)
    highway = np.where(settled[anchor[tree]], _RESIDENTIAL, _UNCLASSIFIED)
    oneway = rng.random(n_lane) < 0.01
    out = oneway & (rng.random(n_lane) < 0.5)
    roads.add(
        np.where(out, lane, parent), np.where(out, parent, lane), highway, oneway=oneway, rng=rng
    )
    return np.clip(pos, 0.0, [_WIDTH_M, _HEIGHT_M]), roads


def _split_roads(
    xy: np.ndarray, roads: _Roads, n_split: int, rng: np.random.Generator
) -> tuple[np.ndarray, _Roads]:
    """Insert ``n_split`` degree-2 nodes, one to three per road, longer roads more often."""
    span = np.linalg.norm(xy[roads.a] - xy[roads.b], axis=1)
    per_road = rng.choice([1, 2, 3], size=len(span), p=[0.6, 0.3, 0.1])
    order = rng.choice(len(span), size=len(span), replace=False, p=(span + 1) / (span + 1).sum())
    total = np.cumsum(per_road[order])
    cut = int(np.searchsorted(total, n_split)) + 1
    if cut > len(order):
        raise ValueError("too few roads to split; ask for more nodes")
    chosen, k = order[:cut], per_road[order[:cut]]
    k[-1] -= total[cut - 1] - n_split
    keep = np.ones(len(span), dtype=bool)
    keep[chosen] = False
    split = _Roads()
    split.add(
        roads.a[chosen],
        roads.b[chosen],
        roads.highway[chosen],
        oneway=roads.oneway[chosen],
        circuity=roads.circuity[chosen],
    )
    roads.take(keep)
    road = np.repeat(np.arange(cut), k)
    j = np.arange(len(road)) - np.repeat(np.cumsum(k) - k, k)  # index within its road
    t = (j + 1) / (k[road] + 1) + rng.uniform(-0.1, 0.1, size=len(road)) / (k[road] + 1)
    a, b = xy[split.a[road]], xy[split.b[road]]
    normal = (b - a)[:, ::-1] * [-1, 1]
    new_xy = a + (b - a) * t[:, None] + normal * rng.normal(0, 0.04, size=(len(road), 1))
    new = len(xy) + np.arange(len(road))
    # the pieces of road r: a -> new_0 -> ... -> new_{k-1} -> b
    first = np.cumsum(k) - k
    tails = np.concatenate([split.a, new])
    heads = np.concatenate([new[first], np.where(j + 1 < k[road], new + 1, split.b[road])])
    piece_road = np.concatenate([np.arange(cut), road])
    roads.add(
        tails,
        heads,
        split.highway[piece_road],
        oneway=split.oneway[piece_road],
        circuity=split.circuity[piece_road],
    )
    return np.vstack([xy, np.clip(new_xy, 0.0, [_WIDTH_M, _HEIGHT_M])]), roads


def _add_parallels_and_loops(roads: _Roads, n: int, rng: np.random.Generator) -> _Roads:
    """A second, slower or longer road for 1.5 % of the pieces; self-loops on 0.2 % of nodes."""
    local = np.flatnonzero(roads.highway >= _PRIMARY)
    twin = rng.choice(local, size=round(0.015 * len(local)), replace=False)
    roads.add(
        roads.a[twin],
        roads.b[twin],
        _UNCLASSIFIED,
        oneway=roads.oneway[twin],
        circuity=roads.circuity[twin] * rng.uniform(1.05, 1.6, size=len(twin)),
    )
    loops = rng.choice(n, size=max(1, n // 500), replace=False)
    roads.add(loops, loops, _RESIDENTIAL, circuity=0.0)
    return roads


def _to_graph(xy: np.ndarray, roads: _Roads, rng: np.random.Generator) -> nx.MultiDiGraph:
    """Directed osmnx-style graph; node ids are shuffled, non-contiguous large integers."""
    n = len(xy)
    ids = 30_000_000 + np.cumsum(rng.integers(1, 60, size=n))
    ids = ids[rng.permutation(n)]
    lon = _LON0 + (xy[:, 0] - _WIDTH_M / 2) / (_M_PER_DEG * math.cos(math.radians(_LAT0)))
    lat = _LAT0 + (xy[:, 1] - _HEIGHT_M / 2) / _M_PER_DEG
    span = np.linalg.norm(xy[roads.a] - xy[roads.b], axis=1)
    length = np.where(roads.a == roads.b, rng.uniform(300, 1_500, size=span.size), span)
    length = np.round(length * np.where(roads.a == roads.b, 1.0, roads.circuity), 3)
    default = np.array([DEFAULT_HIGHWAY_SPEEDS_KMH[h] for h in _HIGHWAYS])
    speed = default[roads.highway]
    # about one piece in six has its own maxspeed, so attributes change along a road
    tagged = (rng.random(span.size) < 0.16) & (roads.highway > _LINK)
    factor = rng.choice([0.5, 0.75, 1.25, 1.5], size=span.size)
    speed = np.where(tagged, np.maximum(10.0, np.round(speed * factor, -1)), speed)
    street_count = np.bincount(roads.a, minlength=n) + np.bincount(roads.b, minlength=n)

    graph: nx.MultiDiGraph = nx.MultiDiGraph(crs="epsg:4326", simplified=True)
    graph.add_nodes_from(
        (i, {"y": la, "x": lo, "street_count": c})
        for i, la, lo, c in zip(
            ids.tolist(), lat.tolist(), lon.tolist(), street_count.tolist(), strict=True
        )
    )
    # directed edges: every piece a -> b, and b -> a for two-way pieces (not self-loops)
    back = np.flatnonzero(~roads.oneway & (roads.a != roads.b))
    piece = np.concatenate([np.arange(span.size), back])
    tail = ids[np.concatenate([roads.a, roads.b[back]])]
    head = ids[np.concatenate([roads.b, roads.a[back]])]
    # osmnx keys parallel edges 0, 1, ... in the order they were added
    order = np.lexsort((np.arange(piece.size), head, tail))
    new_pair = np.r_[True, (np.diff(tail[order]) != 0) | (np.diff(head[order]) != 0)]
    run_start = np.maximum.accumulate(np.where(new_pair, np.arange(piece.size), 0))
    key = np.empty(piece.size, dtype=np.int64)
    key[order] = np.arange(piece.size) - run_start
    highway = [_HIGHWAYS[h] for h in roads.highway.tolist()]
    oneway, seconds = roads.oneway.tolist(), (length / (speed / 3.6)).tolist()
    length_list, speed_list = length.tolist(), speed.tolist()
    # (u, v, key, data) tuples are valid, the networkx stubs do not list them
    graph.add_edges_from(
        (  # type: ignore[misc]
            u,
            v,
            k,
            {
                "osmid": 100_000_000 + p,
                "highway": highway[p],
                "oneway": oneway[p],
                "reversed": j >= span.size,
                "length": length_list[p],
                "speed_kph": speed_list[p],
                "travel_time": seconds[p],
            },
        )
        for j, (u, v, k, p) in enumerate(
            zip(tail.tolist(), head.tolist(), key.tolist(), piece.tolist(), strict=True)
        )
    )
    return graph
