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

from sim.errors import GeodataError
from sim.geodata._synthetic_places import (
    EARTH_RADIUS_M,
    _LocalFrame,
    _place_townships,
    _place_villages,
    _seat_inside,
)
from sim.geodata._synthetic_roads import (
    HIGHWAY_TAGS,
    ROAD_CLASSES,
    TERRAIN_CIRCUITY,
    _build_graph,
    _road_layout,
)

__all__ = [
    "DEFAULT_SPEEDS_KMH",
    "EARTH_RADIUS_M",
    "HIGHWAY_TAGS",
    "ROAD_CLASSES",
    "TERRAIN_CIRCUITY",
    "TERRAIN_SPEED_FACTOR",
    "SyntheticCounty",
    "Terrain",
    "synthetic_county",
]

Terrain = Literal["plains", "hills", "mountain"]

DEFAULT_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {"county": 40.0, "township": 30.0, "village": 20.0}
)
"""Speed per road class on plains in km/h (JTG B01 design speeds, DOMAIN.md §3.3)."""

TERRAIN_SPEED_FACTOR: Mapping[str, float] = MappingProxyType(
    {"plains": 1.0, "hills": 0.85, "mountain": 0.7}
)
"""Multiplier applied to every road-class speed for each terrain."""


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
