"""The synthetic county's roads: county, township and village roads between its places, as
the simplified graph osmnx makes (see :mod:`sim.geodata.synthetic`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

import networkx as nx
import numpy as np
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay, QhullError

from sim.geodata._synthetic_places import EARTH_RADIUS_M, _LocalFrame

ROAD_CLASSES: tuple[str, ...] = ("county", "township", "village")
"""Synthetic road classes, from the highest to the lowest."""

TERRAIN_CIRCUITY: Mapping[str, float] = MappingProxyType(
    {"plains": 1.15, "hills": 1.3, "mountain": 1.45}
)
"""Mean ratio of road length to straight-line distance for each terrain."""

HIGHWAY_TAGS: Mapping[str, str] = MappingProxyType(
    {"county": "tertiary", "township": "unclassified", "village": "residential"}
)
"""OSM ``highway`` value written for each road class."""

# Per terrain: spacing of geometry vertices (m), share of townships that get an extra county
# loop, share of neighbouring cluster pairs joined by a township road, and extra village links
# per village. Mountains are more sinuous and more tree-like than plains.
_VERTEX_SPACING_M = MappingProxyType({"plains": 1500.0, "hills": 900.0, "mountain": 500.0})
_COUNTY_LOOP_SHARE = MappingProxyType({"plains": 0.3, "hills": 0.2, "mountain": 0.1})
_CLUSTER_LINK_SHARE = MappingProxyType({"plains": 0.7, "hills": 0.5, "mountain": 0.3})
_VILLAGE_LOOP_SHARE = MappingProxyType({"plains": 0.12, "hills": 0.08, "mountain": 0.04})


def _delaunay_edges(xy: np.ndarray) -> np.ndarray:
    """Unique ``(i, j)`` pairs, ``i < j``, of the Delaunay triangulation (all pairs if tiny)."""
    n = len(xy)
    if n >= 3:
        try:
            simplices = Delaunay(xy).simplices
        except QhullError:
            simplices = None
        if simplices is not None:
            pairs = np.vstack([simplices[:, [0, 1]], simplices[:, [1, 2]], simplices[:, [0, 2]]])
            pairs = np.unique(np.sort(pairs, axis=1), axis=0)
            if np.unique(pairs).size == n:
                return pairs
    i, j = np.triu_indices(n, 1)
    return np.column_stack([i, j])


def _road_layout(
    xy: np.ndarray, cluster: np.ndarray, n_towns: int, *, rng: np.random.Generator, terrain: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choose the roads: node pairs ``u < v`` and class index (0 county, 1 township, 2 village)."""
    n_hub = n_towns + 1
    parts: list[tuple[np.ndarray, int]] = []

    # county roads: spanning tree of the hubs, spokes from the seat, a few short loops
    hub_pairs = _delaunay_edges(xy[:n_hub])
    hub_len = np.hypot(*(xy[hub_pairs[:, 0]] - xy[hub_pairs[:, 1]]).T)
    # +1 m keeps zero-length pairs as edges and leaves the spanning tree unchanged
    mst = minimum_spanning_tree(
        coo_array((hub_len + 1.0, (hub_pairs[:, 0], hub_pairs[:, 1])), shape=(n_hub, n_hub))
    ).tocoo()
    tree_key = np.minimum(mst.row, mst.col) * n_hub + np.maximum(mst.row, mst.col)
    in_tree = np.isin(hub_pairs[:, 0] * n_hub + hub_pairs[:, 1], tree_key)
    spoke = hub_pairs[:, 0] == 0
    rest = np.flatnonzero(~in_tree & ~spoke)
    n_loops = math.ceil(_COUNTY_LOOP_SHARE[terrain] * n_towns) if rest.size else 0
    loops = rest[np.argsort(hub_len[rest], kind="stable")[:n_loops]]
    parts.append((hub_pairs[in_tree | spoke], 0))
    parts.append((hub_pairs[loops], 0))

    # township roads: shortest link between neighbouring clusters (Delaunay over all points)
    all_pairs = _delaunay_edges(xy)
    all_len = np.hypot(*(xy[all_pairs[:, 0]] - xy[all_pairs[:, 1]]).T)
    ca, cb = cluster[all_pairs[:, 0]], cluster[all_pairs[:, 1]]
    cross = np.flatnonzero(ca != cb)
    if cross.size:
        key = np.minimum(ca, cb)[cross] * (n_hub + 1) + np.maximum(ca, cb)[cross]
        order = np.lexsort((all_len[cross], key))
        first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
        links = cross[first]
        keep = math.ceil(_CLUSTER_LINK_SHARE[terrain] * links.size)
        links = links[np.argsort(all_len[links], kind="stable")[:keep]]
        parts.append((all_pairs[links], 1))

    # village roads: per cluster, villages by distance to the township join the nearest
    # node already connected (the township, the seat for the seat town, earlier villages)
    tree_edges = []
    for t in range(1, n_hub):
        members = np.flatnonzero((cluster == t) & (np.arange(len(xy)) >= n_hub))
        if members.size == 0:
            continue
        roots = np.array([0, t]) if t == 1 else np.array([t])
        members = members[np.argsort(np.hypot(*(xy[members] - xy[t]).T), kind="stable")]
        nodes = np.concatenate([roots, members])
        gap = np.hypot(*(xy[members][:, None, :] - xy[nodes][None, :, :]).transpose(2, 0, 1))
        k = len(roots)
        # village i may join only nodes placed before it: roots and villages 0..i-1
        allowed = np.arange(len(nodes))[None, :] < (k + np.arange(members.size))[:, None]
        parent = nodes[np.argmin(np.where(allowed, gap, np.inf), axis=1)]
        tree_edges.append(np.column_stack([parent, members]))
    if tree_edges:
        village_tree = np.sort(np.vstack(tree_edges), axis=1)
        parts.append((village_tree, 2))
        tree_len = np.hypot(*(xy[village_tree[:, 0]] - xy[village_tree[:, 1]]).T)
        in_tree = np.isin(
            all_pairs[:, 0] * len(xy) + all_pairs[:, 1],
            village_tree[:, 0] * len(xy) + village_tree[:, 1],
        )
        same = np.flatnonzero((ca == cb) & (all_pairs[:, 1] >= n_hub) & ~in_tree)
        short = same[all_len[same] <= 1.5 * np.median(tree_len)]
        n_extra = round(_VILLAGE_LOOP_SHARE[terrain] * (len(xy) - n_hub))
        # a random subset of the short links, so loops are not all in the densest spots
        extra = rng.permutation(short)[:n_extra]
        parts.append((all_pairs[np.sort(extra)], 2))

    pairs = np.vstack([p for p, _ in parts]).astype(np.int64)
    klass = np.concatenate([np.full(len(p), c, dtype=np.int64) for p, c in parts])
    pairs = np.sort(pairs, axis=1)
    # one road per node pair, keeping the highest class; order roads by class, then nodes
    order = np.lexsort((pairs[:, 1], pairs[:, 0], klass))
    pairs, klass = pairs[order], klass[order]
    _, first = np.unique(pairs[:, 0] * len(xy) + pairs[:, 1], return_index=True)
    first = np.sort(first)
    return pairs[first, 0], pairs[first, 1], klass[first]


def _road_vertices(
    xy: np.ndarray, u: np.ndarray, v: np.ndarray, *, rng: np.random.Generator, terrain: str
) -> tuple[np.ndarray, np.ndarray]:
    """Jittered polylines from ``xy[u]`` to ``xy[v]`` with the terrain's mean circuity.

    Returns the vertices (projected metres) and the road index of each vertex. Interior
    vertices are spread along the chord and offset sideways at random; the offsets of each
    road are scaled (Newton's method) so its length is a drawn multiple of the chord.
    """
    start, end = xy[u], xy[v]
    chord = end - start
    dist = np.hypot(chord[:, 0], chord[:, 1])
    segs = np.clip(np.ceil(dist / _VERTEX_SPACING_M[terrain]), 2, 60).astype(np.int64)
    road = np.repeat(np.arange(len(u)), segs + 1)
    first = np.concatenate([[0], np.cumsum(segs + 1)[:-1]])
    k = np.arange(len(road)) - first[road]
    interior = (k > 0) & (k < segs[road])
    t = (k + np.where(interior, rng.uniform(-0.3, 0.3, len(road)), 0.0)) / segs[road]
    # sideways offsets: white noise smoothed over neighbouring vertices, zero at the ends
    noise = rng.standard_normal(len(road) + 2)
    side = np.where(interior, noise[:-2] + 2.0 * noise[1:-1] + noise[2:], 0.0)

    excess = TERRAIN_CIRCUITY[terrain] - 1.0
    sigma = 0.3
    target = dist * (1.0 + excess * np.exp(sigma * rng.standard_normal(len(u)) - sigma**2 / 2))
    # segments join consecutive vertices of the same road
    inner = road[1:] == road[:-1]
    seg_road = road[1:][inner]
    along = (np.diff(t) * dist[road[1:]])[inner]
    across = np.diff(side)[inner]
    n_roads = len(u)
    scale = target / np.maximum(np.bincount(seg_road, np.abs(across), n_roads), 1e-12)
    for _ in range(60):  # convex and increasing in the scale: Newton converges from above
        hyp = np.sqrt(along**2 + (scale[seg_road] * across) ** 2)
        excess_len = np.bincount(seg_road, hyp, n_roads) - target
        slope = np.bincount(seg_road, scale[seg_road] * across**2 / np.maximum(hyp, 1e-12), n_roads)
        step = excess_len / np.maximum(slope, 1e-12)
        scale = np.maximum(scale - step, 0.0)
        if np.all(np.abs(excess_len) <= 1e-6 * np.maximum(target, 1.0)):
            break
    normal = np.column_stack([-chord[:, 1], chord[:, 0]]) / np.maximum(dist, 1e-9)[:, None]
    pts = start[road] + t[:, None] * chord[road] + (scale[road] * side)[:, None] * normal[road]
    return pts, road


def _haversine_m(lonlat_a: np.ndarray, lonlat_b: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between matching rows of two lon/lat arrays."""
    lon1, lat1 = np.radians(lonlat_a).T
    lon2, lat2 = np.radians(lonlat_b).T
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _build_graph(
    frame: _LocalFrame,
    xy: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    road_class: np.ndarray,
    *,
    rng: np.random.Generator,
    terrain: str,
    speeds: Mapping[str, float],
) -> nx.MultiDiGraph:
    """Assemble the osmnx-style MultiDiGraph: two directed edges per road."""
    pts, road = _road_vertices(xy, u, v, rng=rng, terrain=terrain)
    # the end vertices are the node points exactly, so they map to the node lon/lat exactly
    lonlat = frame.to_lonlat(xy)
    coords = frame.to_lonlat(pts)
    same = road[1:] == road[:-1]
    length = np.bincount(road[1:][same], _haversine_m(coords[:-1], coords[1:])[same], len(u))
    lines = shapely.linestrings(coords, indices=road)
    backs = shapely.reverse(lines)

    classes = np.array(ROAD_CLASSES)[road_class]
    speed = np.array([speeds[c] for c in ROAD_CLASSES])[road_class]
    graph: nx.MultiDiGraph = nx.MultiDiGraph(
        crs="epsg:4326",
        created_with="ruralsim sim.geodata.synthetic",
        simplified=True,
        synthetic=True,
        terrain=terrain,
    )
    degree = np.bincount(np.concatenate([u, v]), minlength=len(xy))
    graph.add_nodes_from(
        (i, {"x": float(lon), "y": float(lat), "street_count": int(deg)})
        for i, ((lon, lat), deg) in enumerate(zip(lonlat.tolist(), degree.tolist(), strict=True))
    )
    edges = []
    columns = zip(
        u.tolist(), v.tolist(), classes.tolist(), length.tolist(), speed.tolist(), strict=True
    )
    for r, (a, b, name, metres, kph) in enumerate(columns):
        common = {
            "osmid": -(r + 1),
            "highway": HIGHWAY_TAGS[name],
            "road_class": name,
            "oneway": False,
            "length": metres,
            "speed_kph": kph,
            "travel_time": metres / (kph / 3.6),
            "synthetic": True,
        }
        edges.append((a, b, 0, {**common, "reversed": False, "geometry": lines[r]}))
        edges.append((b, a, 0, {**common, "reversed": True, "geometry": backs[r]}))
    # types-networkx lacks MultiGraph's (u, v, key, data) edge form.
    graph.add_edges_from(edges)  # type: ignore[arg-type]
    return graph
