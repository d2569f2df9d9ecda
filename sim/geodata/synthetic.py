"""Seeded synthetic rural road network inside a real county polygon.

No road network or township/village coordinates are available offline, so this module
invents them inside the real county polygon. The county seat keeps its real position; the
seat town is placed within 1 km of it and the other townships are spread over the county by
best-candidate sampling; each township's villages are spread over its share of the area
(around it, preferably closer to it than to any other township). Roads of three classes
resembling rural China join them:

- county roads (县道, OSM ``tertiary``): the minimum spanning tree of a Delaunay
  triangulation of the seat and the townships, spokes from the seat (the hub) to its
  Delaunay neighbours, and the shortest remaining Delaunay edges to close a few loops;
- township roads (乡道, ``unclassified``): the shortest link between neighbouring township
  clusters (a cluster is a township with its villages), for a terrain-dependent share of
  the neighbouring pairs, shortest links first;
- village roads (村道, ``residential``): a tree grown from each township out to its villages
  (each village joins the nearest node of its cluster that is already connected), plus a
  few short links between nearby villages of the same cluster.

The result is the graph type osmnx produces (a simplified ``networkx.MultiDiGraph`` in
WGS-84 with ``length``, ``highway``, ``speed_kph``, ``travel_time`` and ``geometry`` on every
edge), so a real OSM graph can replace it without changes downstream. Every node is a
facility (seat, township or village); the graph has no interstitial nodes. Geometry is
generated in a local equirectangular frame in metres and stored in lon/lat; lengths are
great-circle lengths along the geometry. Everything generated is flagged ``synthetic``, and
the same inputs and generator state always give the same county.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay, QhullError, cKDTree
from scipy.spatial.distance import cdist

from sim.errors import GeodataError

Terrain = Literal["plains", "hills", "mountain"]

ROAD_CLASSES: tuple[str, ...] = ("county", "township", "village")
"""Synthetic road classes, from the highest to the lowest."""

DEFAULT_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {"county": 40.0, "township": 30.0, "village": 20.0}
)
"""Speed per road class on plains in km/h (JTG B01 design speeds, DOMAIN.md §3.3)."""

TERRAIN_SPEED_FACTOR: Mapping[str, float] = MappingProxyType(
    {"plains": 1.0, "hills": 0.85, "mountain": 0.7}
)
"""Multiplier applied to every road-class speed for each terrain."""

TERRAIN_CIRCUITY: Mapping[str, float] = MappingProxyType(
    {"plains": 1.15, "hills": 1.3, "mountain": 1.45}
)
"""Mean ratio of road length to straight-line distance for each terrain."""

HIGHWAY_TAGS: Mapping[str, str] = MappingProxyType(
    {"county": "tertiary", "township": "unclassified", "village": "residential"}
)
"""OSM ``highway`` value written for each road class."""

EARTH_RADIUS_M = 6_371_009.0
"""Mean Earth radius in metres (the value osmnx uses for great-circle lengths)."""

# Per terrain: spacing of geometry vertices (m), share of townships that get an extra county
# loop, share of neighbouring cluster pairs joined by a township road, and extra village links
# per village. Mountains are more sinuous and more tree-like than plains.
_VERTEX_SPACING_M = MappingProxyType({"plains": 1500.0, "hills": 900.0, "mountain": 500.0})
_COUNTY_LOOP_SHARE = MappingProxyType({"plains": 0.3, "hills": 0.2, "mountain": 0.1})
_CLUSTER_LINK_SHARE = MappingProxyType({"plains": 0.7, "hills": 0.5, "mountain": 0.3})
_VILLAGE_LOOP_SHARE = MappingProxyType({"plains": 0.12, "hills": 0.08, "mountain": 0.04})
_CANDIDATES = 12  # best-candidate sampling: candidates drawn per placed point
_MAX_SEAT_OFFSET_M = 20_000.0  # a seat further outside the polygon is an input error


@dataclass(frozen=True)
class SyntheticCounty:
    """A synthetic county: its road graph and its facility points.

    Attributes
    ----------
    graph
        Simplified osmnx-style road graph in WGS-84; nodes are facilities.
    points
        One row per facility with columns ``code``, ``level`` (``"county_seat"``,
        ``"township"`` or ``"village"``), ``parent`` (the township code of a village, ``""``
        otherwise), ``lon``, ``lat``, ``node`` (graph node id) and ``synthetic`` (always
        True). The county seat has the code ``"seat"``.
    """

    graph: nx.MultiDiGraph
    points: pd.DataFrame


def synthetic_county(
    boundary: shapely.Polygon | shapely.MultiPolygon,
    seat: tuple[float, float],
    townships: Sequence[str],
    villages: Mapping[str, Sequence[str]],
    *,
    rng: np.random.Generator,
    terrain: Terrain = "plains",
    speeds_kmh: Mapping[str, float] | None = None,
) -> SyntheticCounty:
    """Build a seeded synthetic road network and facility points inside a county.

    Parameters
    ----------
    boundary
        County polygon in WGS-84 longitude/latitude.
    seat
        ``(lon, lat)`` of the county seat. A seat slightly outside the polygon is moved
        just inside it.
    townships
        Township codes; the first one is the seat town and is placed within 1 km of the
        seat.
    villages
        Village codes of each township (townships without an entry have no villages).
    rng
        Source of all randomness; the same generator state gives the same county.
    terrain
        Sets road sinuosity (circuity 1.15, 1.3, 1.45), speeds (x1.0, x0.85, x0.7) and how
        many loops the network has.
    speeds_kmh
        Plains speed per road class (``"county"``, ``"township"``, ``"village"``) in km/h;
        missing classes keep `DEFAULT_SPEEDS_KMH`. The terrain factor is applied on top.

    Returns
    -------
    SyntheticCounty

    Raises
    ------
    GeodataError
        If codes are missing or duplicated, the polygon is empty, the seat lies far outside
        it, or the terrain or a speed is invalid.
    """
    town_codes, village_codes, counts = _check_codes(townships, villages)
    speeds = _resolve_speeds(speeds_kmh, terrain)
    frame = _LocalFrame.around(boundary)
    poly = frame.project(boundary)
    shapely.prepare(poly)

    seat_xy = _seat_inside(poly, frame.to_xy(np.array([seat], dtype=float))[0])
    town_xy = _place_townships(poly, seat_xy, len(town_codes), rng)
    village_xy = _place_villages(poly, np.vstack([seat_xy, town_xy]), counts, rng)
    xy = np.vstack([seat_xy, town_xy, village_xy])
    # cluster of each node: its township's node (the seat belongs to the seat town, node 1)
    towns = np.arange(1, len(town_codes) + 1)
    cluster = np.concatenate([[1], towns, np.repeat(towns, counts)])
    u, v, road_class = _road_layout(xy, cluster, len(town_codes), rng=rng, terrain=terrain)
    lonlat = frame.to_lonlat(xy)
    graph = _build_graph(frame, xy, u, v, road_class, rng=rng, terrain=terrain, speeds=speeds)

    n_town, n_vil = len(town_codes), len(village_codes)
    points = pd.DataFrame(
        {
            "code": ["seat", *town_codes, *village_codes],
            "level": ["county_seat"] + ["township"] * n_town + ["village"] * n_vil,
            "parent": [""] * (1 + n_town) + list(np.repeat(town_codes, counts)),
            "lon": lonlat[:, 0],
            "lat": lonlat[:, 1],
            "node": np.arange(1 + n_town + n_vil, dtype=np.int64),
            "synthetic": True,
        }
    )
    return SyntheticCounty(graph=graph, points=points)


def _check_codes(
    townships: Sequence[str], villages: Mapping[str, Sequence[str]]
) -> tuple[list[str], list[str], np.ndarray]:
    """Validate the codes; return township codes, village codes in order, villages per town."""
    town_codes = [str(code) for code in townships]
    if not town_codes:
        raise GeodataError("townships: at least one township code is required, got none")
    unknown = sorted(set(villages) - set(town_codes))
    if unknown:
        raise GeodataError(f"villages: keys {unknown[:5]} are not in townships")
    village_lists = [[str(code) for code in villages.get(town, ())] for town in town_codes]
    village_codes = [code for codes in village_lists for code in codes]
    every = ["seat", *town_codes, *village_codes]
    dupes = sorted(code for code, k in Counter(every).items() if k > 1)
    if dupes:
        raise GeodataError(
            f"townships/villages: codes must be unique and not 'seat', duplicated: {dupes[:5]}"
        )
    counts = np.array([len(codes) for codes in village_lists], dtype=np.int64)
    return town_codes, village_codes, counts


def _resolve_speeds(speeds_kmh: Mapping[str, float] | None, terrain: str) -> dict[str, float]:
    """Merge user speeds over the defaults and apply the terrain factor."""
    if terrain not in TERRAIN_SPEED_FACTOR:
        raise GeodataError(f"terrain: {terrain!r} is not one of {sorted(TERRAIN_SPEED_FACTOR)}")
    speeds = dict(DEFAULT_SPEEDS_KMH)
    for name, value in (speeds_kmh or {}).items():
        if name not in DEFAULT_SPEEDS_KMH:
            raise GeodataError(f"speeds_kmh: unknown road class {name!r}, valid: {ROAD_CLASSES}")
        if not (math.isfinite(value) and value > 0):
            raise GeodataError(f"speeds_kmh[{name!r}]: {value!r} is not a positive speed")
        speeds[name] = float(value)
    factor = TERRAIN_SPEED_FACTOR[terrain]
    return {name: value * factor for name, value in speeds.items()}


@dataclass(frozen=True)
class _LocalFrame:
    """Equirectangular projection in metres around a reference point."""

    lon0: float
    lat0: float

    @classmethod
    def around(cls, boundary: shapely.Geometry) -> _LocalFrame:
        """Frame centred on the boundary's centroid, after checking the boundary."""
        if not isinstance(boundary, (shapely.Polygon, shapely.MultiPolygon)) or boundary.is_empty:
            raise GeodataError("boundary: expected a non-empty shapely Polygon or MultiPolygon")
        minx, miny, maxx, maxy = boundary.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise GeodataError(f"boundary: bounds {boundary.bounds} are not WGS-84 lon/lat")
        centre = boundary.centroid
        return cls(float(centre.x), float(centre.y))

    @property
    def _scale(self) -> tuple[float, float]:
        k = math.radians(1.0) * EARTH_RADIUS_M
        return k * math.cos(math.radians(self.lat0)), k

    def to_xy(self, lonlat: np.ndarray) -> np.ndarray:
        kx, ky = self._scale
        return np.column_stack([(lonlat[:, 0] - self.lon0) * kx, (lonlat[:, 1] - self.lat0) * ky])

    def to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        kx, ky = self._scale
        return np.column_stack([xy[:, 0] / kx + self.lon0, xy[:, 1] / ky + self.lat0])

    def project(self, geometry: shapely.Geometry) -> shapely.Geometry:
        """Project a lon/lat polygon to the frame; it must keep a positive area."""
        projected = shapely.transform(geometry, self.to_xy)
        if projected.area <= 0:
            raise GeodataError("boundary: the polygon has no area")
        return projected


def _seat_inside(poly: shapely.Geometry, seat_xy: np.ndarray) -> np.ndarray:
    """Return the seat, moved just inside the polygon if it lies outside."""
    if not np.all(np.isfinite(seat_xy)):
        raise GeodataError(f"seat: coordinates must be finite, got {seat_xy}")
    if shapely.contains_xy(poly, *seat_xy):
        return seat_xy
    point = shapely.Point(seat_xy)
    gap = poly.distance(point)
    if gap > _MAX_SEAT_OFFSET_M:
        raise GeodataError(
            f"seat: {gap / 1000:.1f} km outside the county boundary (at most "
            f"{_MAX_SEAT_OFFSET_M / 1000:.0f} km allowed); check the seat and its CRS"
        )
    edge = np.asarray(shapely.get_coordinates(shapely.shortest_line(point, poly))[1])
    inward = (edge - seat_xy) / max(gap, 1e-9)
    for step in (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0):
        candidate = edge + step * inward
        if shapely.contains_xy(poly, *candidate):
            return candidate
    return np.asarray(shapely.get_coordinates(poly.representative_point())[0])


def _sample_in(
    poly: shapely.Geometry,
    n: int,
    rng: np.random.Generator,
    *,
    centre: np.ndarray | None = None,
    radius: float | None = None,
) -> np.ndarray:
    """Draw ``n`` points uniformly in the polygon, or in its part within a disc."""
    minx, miny, maxx, maxy = poly.bounds
    found: list[np.ndarray] = []
    have = 0
    for _ in range(50):
        m = max(2 * (n - have), 16)
        if centre is None or radius is None:
            pts = rng.uniform((minx, miny), (maxx, maxy), size=(m, 2))
        else:
            r = radius * np.sqrt(rng.random(m))
            a = rng.uniform(0.0, 2.0 * np.pi, m)
            pts = centre + np.column_stack([r * np.cos(a), r * np.sin(a)])
        pts = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]
        found.append(pts)
        have += len(pts)
        if have >= n:
            break
    return np.vstack(found)[:n]


def _best_candidate(
    candidates: np.ndarray, placed: np.ndarray, score_cap: np.ndarray | None = None
) -> int:
    """Index of the candidate farthest from the placed points (optionally capped)."""
    gaps = cdist(candidates, placed, "sqeuclidean").min(axis=1)
    if score_cap is not None:
        gaps = np.minimum(gaps, score_cap**2)
    return int(np.argmax(gaps))


def _place_townships(
    poly: shapely.Geometry, seat_xy: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Seat town within 1 km of the seat; the others spread by best-candidate sampling."""
    r = rng.uniform(300.0, 900.0, 64)
    a = rng.uniform(0.0, 2.0 * np.pi, 64)
    ring = seat_xy + np.column_stack([r * np.cos(a), r * np.sin(a)])
    inside = np.flatnonzero(shapely.contains_xy(poly, ring[:, 0], ring[:, 1]))
    if inside.size:
        seat_town = ring[inside[0]]
    else:  # the seat sits on a sliver: the nearest inside point, else the seat itself
        near = _sample_in(poly, 64, rng, centre=seat_xy, radius=1000.0)
        gaps = np.hypot(*(near - seat_xy).T)
        seat_town = near[np.argmin(gaps)] if len(near) else seat_xy.copy()
    placed = np.vstack([seat_xy, seat_town])
    if n == 1:
        return placed[1:]
    pool = _sample_in(poly, (n - 1) * _CANDIDATES, rng)
    # keep townships off the border: half the distance to the border counts as a neighbour
    to_border = 2.0 * shapely.distance(poly.boundary, shapely.points(pool))
    for i in range(n - 1):
        block = slice(i * _CANDIDATES, (i + 1) * _CANDIDATES)
        best = _best_candidate(pool[block], placed, to_border[block])
        placed = np.vstack([placed, pool[block][best]])
    return placed[1:]


def _place_villages(
    poly: shapely.Geometry, hubs: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Place each township's villages in its share of the county, spread apart.

    ``hubs`` holds the seat (row 0) and the townships. Candidates for a township are drawn in
    a disc of radius sqrt(area / townships) around it, inside the polygon, preferring those
    closer to it than to any other township; villages are then chosen by best-candidate
    sampling against every point already placed.
    """
    towns = hubs[1:]
    if counts.sum() == 0:
        return np.empty((0, 2))
    radius = math.sqrt(poly.area / len(towns))
    tree = cKDTree(towns)
    pools: list[np.ndarray] = []
    for t, n in enumerate(counts):
        if n == 0:
            pools.append(np.empty((0, 2)))
            continue
        need = int(n) * _CANDIDATES
        for scale in (1.0, 2.0, 4.0):
            pts = _sample_in(poly, need, rng, centre=towns[t], radius=radius * scale)
            own = tree.query(pts)[1] == t
            if own.sum() >= 2 * n or (scale == 4.0 and len(pts) >= n):
                break
        if own.sum() >= 2 * n:
            pool = pts[own]
        else:  # a cramped township: own-cell candidates first, then the nearest others
            others = pts[~own]
            others = others[np.argsort(np.hypot(*(others - towns[t]).T), kind="stable")]
            pool = np.vstack([pts[own], others[: 2 * int(n)]])
        if len(pool) < n:
            raise GeodataError(f"boundary: no room for {n} villages of township #{t}")
        pools.append(pool)
    placed = np.vstack([hubs, np.empty((int(counts.sum()), 2))])
    row = len(hubs)
    for t, n in enumerate(counts):
        pool = pools[t]
        for _ in range(int(n)):
            block = pool[rng.integers(0, len(pool), _CANDIDATES)]
            placed[row] = block[_best_candidate(block, placed[:row])]
            row += 1
    return placed[len(hubs) :]


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
