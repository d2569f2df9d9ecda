"""Placing the synthetic county's seat town, townships and villages inside its polygon
(best-candidate sampling in a local frame in metres; see :mod:`sim.geodata.synthetic`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from sim.errors import GeodataError

EARTH_RADIUS_M = 6_371_009.0
"""Mean Earth radius in metres (the value osmnx uses for great-circle lengths)."""

_CANDIDATES = 12  # best-candidate sampling: candidates drawn per placed point
_MAX_SEAT_OFFSET_M = 20_000.0  # a seat further outside the polygon is an input error


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
