"""Cut a user-supplied OpenStreetMap extract into per-county road graphs and place nodes.

``ruralsim geodata import FILE --counties CODE`` reads an OSM file once (e.g. Geofabrik's
China extract, about 1 GB of .osm.pbf) and caches every county of a region exactly like an
Overpass fetch: an osmnx MultiDiGraph of the drivable roads within the buffered county polygon,
with plains speeds and travel times, plus the county's place nodes (see
:mod:`sim.geodata.cache`). Counties without a single road in the file get no cache entry, so
the offline synthetic network stands in for them.

The file is read with pyosmium, the Python binding of libosmium, which has wheels on PyPI.
Its C++ reader decodes .osm.pbf on several threads and streams it, so memory is bounded by the
node location index (compact, and meant to scale to the planet), not by the file; untagged
nodes and ways without ``highway`` are dropped in C++ before Python sees them; and it writes
OSM files as well (the per-county XML that osmnx reads, the test fixtures). osmium-tool is a
separate C++ program that pip cannot install, and pyrosm decodes a whole file into memory
before filtering, which suits a city or a province, not a 1 GB country extract.

Which ways count as roads mirrors osmnx's Overpass filter for ``network_type="drive"``
(``osmnx._overpass._get_network_filter`` with ``settings.default_access``, osmnx 2.1): a way
needs a ``highway`` tag, and is dropped when a tag value *contains* (unanchored regular
expression, as in Overpass QL ``!~``) one of the patterns in :data:`NETWORK_FILTERS`. So
footway, path, track, steps, cycleway, pedestrian, construction, proposed, service and the
like are out, as are ``access=private``, ``motor_vehicle=no``, ``motorcar=no``, ``area=yes``
and ``service=driveway|parking|parking_aisle|alley|emergency_access|private``. Like osmnx,
``access=no`` alone does not drop a way. ``"drive_service"`` keeps service roads as well.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from types import MappingProxyType
from typing import Any

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pandas as pd
import pyproj
import shapely
from osmium.filter import KeyFilter
from osmium.osm.mutable import Node, Way
from osmium.version import libosmium_version, pyosmium_release
from shapely.geometry.base import BaseGeometry

from sim.errors import GeodataError
from sim.geodata.boundaries import county_boundary
from sim.geodata.cache import PLACE_COLUMNS, CountyOSM, save_county
from sim.geodata.divisions import resolve_region, unit
from sim.geodata.speeds import FALLBACK_SPEED_KMH, add_speeds, highway_speeds

#: File names the reader accepts (libosmium picks the format from the suffix).
SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")

#: Values of the ``place`` tag kept as place nodes.
PLACE_TYPES = frozenset({"city", "town", "village", "hamlet", "isolated_dwelling"})

_HIGHWAY_EXCLUDED = (
    "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|escalator|"
    "footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|rest_area|services|"
    "steps|track"
)

#: Per network type, tag key -> pattern: a way whose value for the key matches is dropped
#: (``highway`` first: it rejects most ways).
NETWORK_FILTERS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "drive": MappingProxyType(
            {
                "highway": _HIGHWAY_EXCLUDED + "|service",
                "area": "yes",
                "access": "private",
                "motor_vehicle": "no",
                "motorcar": "no",
                "service": "alley|driveway|emergency_access|parking|parking_aisle|private",
            }
        ),
        "drive_service": MappingProxyType(
            {
                "highway": _HIGHWAY_EXCLUDED,
                "area": "yes",
                "access": "private",
                "motor_vehicle": "no",
                "motorcar": "no",
                "service": "emergency_access|parking|parking_aisle|private",
            }
        ),
    }
)

#: Called after each county as ``progress(code, done, total)``.
Progress = Callable[[str, int, int], None]

_WKB_HEADER = 9  # byte order (1), geometry type (4), number of points (4)
_NATIVE_ORDER = 1 if np.little_endian else 0


def is_road(tags: Mapping[str, str], *, network_type: str = "drive") -> bool:
    """Whether a way with these tags belongs to the road network (see the module notes).

    Parameters
    ----------
    tags
        The way's tags; any mapping with ``get`` (a dict or an osmium tag list).
    network_type
        ``"drive"`` (osmnx's default) or ``"drive_service"``.
    """
    return _passes(tags, _compiled(network_type))


def _location_index(location_index: str) -> Any:
    """The pyosmium node location index named ``location_index``."""
    try:
        return osmium.index.create_map(location_index)
    except RuntimeError:
        raise GeodataError(
            f"location_index {location_index!r} is unknown; valid: "
            f"{', '.join(osmium.index.map_types())} (file-based ones take ',FILE')"
        ) from None


def _extract_meta(
    file: Path, timestamp: str, region: str, buffer_m: float, network_type: str
) -> dict[str, Any]:
    """What the cache records about counties cut from ``file``."""
    stat = file.stat()
    return {
        "source": "extract",
        "fetched": date.today().isoformat(),
        "file": str(file),
        "file_size": stat.st_size,
        "file_mtime": datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(),
        "osm_timestamp": timestamp or None,
        "region": region,
        "buffer_m": float(buffer_m),
        "network_type": network_type,
        "terrain": "plains",
        "pyosmium": pyosmium_release,
        "libosmium": libosmium_version,
        "osmnx": version("osmnx"),
    }


def import_extract(
    path: str | Path,
    *,
    region: str = "14",
    cache_dir: Path | None = None,
    buffer_m: float = 2000.0,
    network_type: str = "drive",
    location_index: str = "flex_mem",
    progress: Progress | None = None,
) -> list[CountyOSM]:
    """Cut an OSM extract into counties and cache each like an Overpass fetch.

    One streaming pass keeps the place nodes and the road ways that have a node in the region's
    bounding box. A way goes to every county whose polygon, buffered by ``buffer_m``, contains
    one of its nodes; each county's ways are built into an osmnx graph, truncated to the
    buffered polygon (nodes outside it are dropped before simplification, as osmnx's
    ``graph_from_polygon`` does), simplified, and given plains speeds and travel times. Place
    nodes are those inside the unbuffered polygon. Counties without roads are not cached
    (an earlier cache entry is left alone) and are named in one ``UserWarning``: they are the
    region's counties missing from the result.

    Parameters
    ----------
    path
        OSM file: .osm.pbf, .pbf, .osm, .osm.bz2 or .osm.gz.
    region
        Province (``"14"``), prefecture (``"1408"``) or county (``"140821"``) code.
    cache_dir
        Cache folder (default :func:`sim.geodata.cache.default_cache_dir`).
    buffer_m
        Buffer around each county polygon, metres (drawn in an azimuthal equidistant
        projection centred on the county).
    network_type
        ``"drive"`` or ``"drive_service"`` (see :data:`NETWORK_FILTERS`).
    location_index
        pyosmium node location index; ``"flex_mem"`` suits anything up to the planet in
        memory, ``"sparse_file_array,FILE"`` or ``"dense_file_array,FILE"`` keep it on disk.
    progress
        Called after each county as ``progress(code, done, total)``.

    Returns
    -------
    list of CountyOSM
        The cached counties, in code order.

    Raises
    ------
    GeodataError
        If the file is missing, has an unsupported suffix, cannot be read, or holds no road in
        the region; for an invalid region code or option.
    """
    file = _check_file(path)
    rules = _compiled(network_type)
    if not (np.isfinite(buffer_m) and buffer_m >= 0):
        raise GeodataError(f"buffer_m must be a distance in metres >= 0, got {buffer_m!r}")
    region_unit = unit(region)
    areas = [_area(code, buffer_m) for code in resolve_region(region)]
    index = _location_index(location_index)
    bounds = shapely.total_bounds([a.buffered for a in areas])
    roads, places, timestamp = _read(file, bounds, rules, index)
    no_roads = GeodataError(
        f"OSM extract {file} has no drivable road (network type {network_type!r}) in region "
        f"{region_unit.code} {region_unit.name}; check that the file covers it"
    )
    if roads.n_ways == 0:
        raise no_roads
    base_meta = _extract_meta(file, timestamp, region_unit.code, buffer_m, network_type)
    done: list[CountyOSM] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ruralsim-extract-") as tmp:
        for i, area in enumerate(areas, 1):
            data = _cut(roads, places, area, Path(tmp), base_meta)
            if data is None:
                skipped.append(area.code)
            else:
                save_county(data, cache_dir)
                done.append(data)
            if progress is not None:
                progress(area.code, i, len(areas))
    if not done:
        raise no_roads
    if skipped:
        warnings.warn(
            f"{len(skipped)} of {len(areas)} counties have no road in {file} and were not "
            f"cached (the synthetic network covers them): {', '.join(skipped)}",
            UserWarning,
            stacklevel=2,
        )
    return done


@dataclass(frozen=True)
class _Area:
    code: str
    polygon: BaseGeometry
    buffered: BaseGeometry


@dataclass(frozen=True)
class _Roads:
    """Road ways of the region, flattened: way i has refs ``starts[i]:starts[i + 1]``."""

    way_ids: np.ndarray
    tags: list[dict[str, str]]
    starts: np.ndarray
    refs: np.ndarray
    node_ids: np.ndarray  # unique node ids, sorted
    node_of_ref: np.ndarray  # index into node_ids for each ref
    lon: np.ndarray  # per unique node
    lat: np.ndarray

    @property
    def n_ways(self) -> int:
        return len(self.way_ids)


def _check_file(path: str | Path) -> Path:
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "does not exist"
        raise GeodataError(f"OSM extract {file} {what}")
    if not file.name.lower().endswith(SUFFIXES):
        raise GeodataError(
            f"OSM extract {file} has an unsupported file type; valid: {', '.join(SUFFIXES)}"
        )
    return file


def _compiled(network_type: str) -> dict[str, re.Pattern[str]]:
    if network_type not in NETWORK_FILTERS:
        raise GeodataError(
            f"network_type {network_type!r} is unknown; valid: {', '.join(NETWORK_FILTERS)}"
        )
    return {key: re.compile(pattern) for key, pattern in NETWORK_FILTERS[network_type].items()}


def _passes(tags: Any, rules: Mapping[str, re.Pattern[str]]) -> bool:
    if "highway" not in tags:
        return False
    for key, pattern in rules.items():
        value = tags.get(key)
        if value is not None and pattern.search(value):
            return False
    return True


def _area(code: str, buffer_m: float) -> _Area:
    """County polygon and its buffer, drawn in an equidistant projection centred on it."""
    polygon = county_boundary(code)
    centre = polygon.centroid
    local = pyproj.Proj(f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +ellps=WGS84 +units=m")
    metric = shapely.transform(polygon, local, interleaved=False)
    buffered = shapely.transform(
        metric.buffer(buffer_m), lambda x, y: local(x, y, inverse=True), interleaved=False
    )
    shapely.prepare(polygon)
    shapely.prepare(buffered)
    return _Area(code=code, polygon=polygon, buffered=buffered)


def _read(
    file: Path,
    bounds: np.ndarray,
    rules: Mapping[str, re.Pattern[str]],
    index: osmium.index.LocationTable,
) -> tuple[_Roads, pd.DataFrame, str]:
    """Stream the file once; keep road ways touching ``bounds`` and place nodes inside it."""
    west, south, east, north = (float(b) for b in bounds)
    roads_filter = KeyFilter("highway")
    roads_filter.enable_for(osmium.osm.WAY)
    places_filter = KeyFilter("place")
    places_filter.enable_for(osmium.osm.NODE)
    useful = tuple(ox.settings.useful_tags_way)
    wkb = osmium.geom.WKBFactory()
    all_nodes = osmium.geom.use_nodes.ALL
    way_ids: list[int] = []
    tags: list[dict[str, str]] = []
    refs: list[np.ndarray] = []
    coords: list[np.ndarray] = []
    places: list[tuple[Any, ...]] = []
    try:
        processor = (
            osmium.FileProcessor(file, osmium.osm.NODE | osmium.osm.WAY)
            .with_locations(index)  # type: ignore[arg-type]  # a LocationTable works too
            .with_filter(roads_filter)
            .with_filter(places_filter)
        )
        header = processor.header
        timestamp = header.get("osmosis_replication_timestamp") or header.get("timestamp")
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                loc = obj.location
                place = obj.tags.get("place")
                if (
                    place in PLACE_TYPES
                    and loc.valid()
                    and west <= loc.lon <= east
                    and south <= loc.lat <= north
                ):
                    name, name_zh = obj.tags.get("name"), obj.tags.get("name:zh")
                    places.append((obj.id, place, name, name_zh, loc.lon, loc.lat))
                continue
            if not (isinstance(obj, osmium.osm.Way) and _passes(obj.tags, rules)):
                continue
            way = _way_geometry(obj, wkb, all_nodes, (west, south, east, north))
            if way is None:
                continue
            ids, xy = way
            way_ids.append(obj.id)
            tags.append({k: v for k in useful if (v := obj.tags.get(k)) is not None})
            refs.append(ids)
            coords.append(xy)
    except RuntimeError as exc:
        raise GeodataError(f"OSM extract {file} is unreadable or corrupt: {exc}") from None
    return _flatten(way_ids, tags, refs, coords), _places_frame(places), timestamp


def _way_geometry(
    way: Any, wkb: Any, all_nodes: Any, bounds: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Node ids and lon/lat of a way whose bounding box meets ``bounds``, else None.

    Nodes without a location in the file (cut off by the extract) are left out.
    """
    west, south, east, north = bounds
    n = len(way.nodes)
    try:
        raw = bytes.fromhex(wkb.create_linestring(way, all_nodes))
    except (osmium.InvalidLocationError, RuntimeError):
        raw = b""
    if len(raw) == _WKB_HEADER + 16 * n and raw[0] == _NATIVE_ORDER:
        # Most ways of a country-sized extract are rejected here: min/max over a memoryview
        # of the WKB costs about a microsecond, a quarter of the same test in numpy.
        values = memoryview(raw)[_WKB_HEADER:].cast("d")
        xs, ys = values[0::2], values[1::2]
        if min(xs) > east or max(xs) < west or min(ys) > north or max(ys) < south:
            return None
        xy = np.frombuffer(raw, dtype=np.float64, offset=_WKB_HEADER).reshape(-1, 2)
        return np.fromiter((r.ref for r in way.nodes), dtype=np.int64, count=n), xy
    valid = [(r.ref, r.lon, r.lat) for r in way.nodes if r.location.valid()]
    if len(valid) < 2:
        return None
    ids = np.array([v[0] for v in valid], dtype=np.int64)
    xy = np.array([v[1:] for v in valid], dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    if x.min() > east or x.max() < west or y.min() > north or y.max() < south:
        return None
    return ids, xy


def _flatten(
    way_ids: list[int],
    tags: list[dict[str, str]],
    refs: list[np.ndarray],
    coords: list[np.ndarray],
) -> _Roads:
    lengths = np.fromiter((len(r) for r in refs), dtype=np.int64, count=len(refs))
    starts = np.concatenate([[0], np.cumsum(lengths)])
    all_refs = np.concatenate([np.empty(0, np.int64), *refs])
    all_xy = np.concatenate([np.empty((0, 2)), *coords])
    node_ids, first, node_of_ref = np.unique(all_refs, return_index=True, return_inverse=True)
    return _Roads(
        way_ids=np.asarray(way_ids, dtype=np.int64),
        tags=tags,
        starts=starts,
        refs=all_refs,
        node_ids=node_ids,
        node_of_ref=node_of_ref.ravel(),
        lon=all_xy[first, 0].copy(),
        lat=all_xy[first, 1].copy(),
    )


def _places_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(PLACE_COLUMNS))
    return frame.astype({"osmid": np.int64, "lon": np.float64, "lat": np.float64})


def _inside(geom: BaseGeometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Vectorised point-in-polygon, testing only points within the polygon's bounds."""
    west, south, east, north = geom.bounds
    mask = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    idx = np.flatnonzero(mask)
    mask[idx] = shapely.contains_xy(geom, lon[idx], lat[idx])
    return mask


def _cut(
    roads: _Roads,
    places: pd.DataFrame,
    area: _Area,
    tmp: Path,
    base_meta: Mapping[str, Any],
) -> CountyOSM | None:
    """Build, truncate, simplify and time one county's graph; None if it has no road."""
    ref_inside = _inside(area.buffered, roads.lon, roads.lat)[roads.node_of_ref]
    ways = np.flatnonzero(np.logical_or.reduceat(ref_inside, roads.starts[:-1]))
    if len(ways) == 0:
        return None
    xml = tmp / f"{area.code}.osm"
    _write_osm(xml, roads, ways)
    whole = ox.graph_from_xml(xml, bidirectional=False, simplify=False, retain_all=True)
    xml.unlink()
    try:
        graph = ox.truncate.truncate_graph_polygon(whole, area.buffered)
    except ValueError:  # no graph node inside the buffered polygon
        return None
    if graph.number_of_edges() == 0:
        return None
    graph = ox.simplify_graph(graph)
    # As graph_from_polygon does, count streets on the untruncated graph, so a node near
    # the buffer's edge keeps the roads that leave it.
    counts = ox.stats.count_streets_per_node(whole, nodes=graph.nodes)
    nx.set_node_attributes(graph, values=counts, name="street_count")
    add_speeds(graph, highway_speeds("plains"), fallback_kmh=FALLBACK_SPEED_KMH)
    inside = _inside(area.polygon, places["lon"].to_numpy(), places["lat"].to_numpy())
    county_places = places[inside].reset_index(drop=True)
    meta = {
        **base_meta,
        "counts": {
            "ways": len(ways),
            "nodes": graph.number_of_nodes(),
            "edges": graph.number_of_edges(),
            "places": len(county_places),
        },
    }
    return CountyOSM(
        code=area.code,
        graph=graph,
        places=county_places,
        meta=meta,
    )


def _write_osm(path: Path, roads: _Roads, ways: np.ndarray) -> None:
    """Write the given ways and their nodes as OSM XML, nodes then ways, sorted by id."""
    spans = [np.arange(roads.starts[w], roads.starts[w + 1]) for w in ways]
    nodes = np.unique(roads.node_of_ref[np.concatenate(spans)])
    with osmium.SimpleWriter(path, overwrite=True) as writer:
        for i in nodes:
            writer.add_node(
                Node(id=int(roads.node_ids[i]), location=(float(roads.lon[i]), float(roads.lat[i])))
            )
        for w, span in sorted(zip(ways, spans), key=lambda item: roads.way_ids[item[0]]):
            writer.add_way(
                Way(id=int(roads.way_ids[w]), nodes=roads.refs[span].tolist(), tags=roads.tags[w])
            )
