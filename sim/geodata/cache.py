"""On-disk cache of real road graphs and place nodes, one folder per county code.

A county's OpenStreetMap data, whether fetched from Overpass or cut from an extract, is stored
as ``<cache>/osm/<code>/`` with ``nodes.parquet``, ``edges.parquet``, ``places.parquet`` and
``meta.json`` (source, date, OSM settings). Later runs read it and never go online. Folders are
written under a temporary name and renamed, so a crash never leaves a half-written county.

The cache folder is ``$RURALSIM_CACHE`` if set, else ``$XDG_CACHE_HOME/ruralsim``, else
``~/.cache/ruralsim``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import shapely

from sim.errors import GeodataError
from sim.geodata._cachedir import CACHE_ENV as CACHE_ENV
from sim.geodata._cachedir import cached_counties as cached_counties
from sim.geodata._cachedir import county_dir as county_dir
from sim.geodata._cachedir import default_cache_dir as default_cache_dir
from sim.geodata._cachedir import read_meta as read_meta
from sim.geodata.speeds import DEFAULT_HIGHWAY_SPEEDS_KMH

#: Columns of ``places.parquet``.
PLACE_COLUMNS = ("osmid", "place", "name", "name_zh", "lon", "lat")

_EDGE_TEXT = ("name", "ref", "maxspeed")
_EDGE_FLOAT = ("length", "speed_kph", "travel_time")
_HIGHWAY_RANK = {name: i for i, name in enumerate(DEFAULT_HIGHWAY_SPEEDS_KMH)}


@dataclass(frozen=True)
class CountyOSM:
    """Real road graph and place nodes of one county.

    Attributes
    ----------
    code
        County code.
    graph
        osmnx-style MultiDiGraph in WGS-84 with ``length``, ``highway``, ``speed_kph`` and
        ``travel_time`` on every edge.
    places
        OSM place nodes (place=town|village|hamlet...) with :data:`PLACE_COLUMNS`.
    meta
        Provenance: ``source`` ("overpass" or "extract"), ``fetched`` (ISO date), and the OSM
        settings used (Overpass URL, buffer, network type, extract file, osmnx version).
    """

    code: str
    graph: nx.MultiDiGraph
    places: pd.DataFrame
    meta: Mapping[str, Any] = field(default_factory=dict)


def save_county(data: CountyOSM, cache_dir: Path | None = None) -> Path:
    """Write a county to the cache (atomically replacing an earlier copy); return its folder."""
    final = county_dir(data.code, cache_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{data.code}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        nodes, edges = graph_to_frames(data.graph)
        nodes.to_parquet(tmp / "nodes.parquet", index=False)
        edges.to_parquet(tmp / "edges.parquet", index=False)
        places = pd.DataFrame(data.places).reindex(columns=PLACE_COLUMNS)
        places.to_parquet(tmp / "places.parquet", index=False)
        meta = {"code": data.code, "graph_attrs": _jsonable(data.graph.graph), **data.meta}
        (tmp / "meta.json").write_text(
            json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        old = final.parent / f".{data.code}.old-{os.getpid()}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_county(code: str, cache_dir: Path | None = None) -> CountyOSM | None:
    """Read a county from the cache, or None if it is not there.

    Raises
    ------
    GeodataError
        If the folder exists but a file is missing or unreadable.
    """
    folder = county_dir(code, cache_dir)
    if not (folder / "meta.json").is_file():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        nodes = pd.read_parquet(folder / "nodes.parquet")
        edges = pd.read_parquet(folder / "edges.parquet")
        places = pd.read_parquet(folder / "places.parquet")
    except (OSError, ValueError) as exc:
        raise GeodataError(
            f"cached OSM data of county {code} in {folder} is unreadable ({exc}); delete the "
            f"folder and fetch or import the county again"
        ) from None
    graph = frames_to_graph(nodes, edges, graph_attrs=meta.pop("graph_attrs", {}))
    return CountyOSM(code=code, graph=graph, places=places, meta=meta)


def graph_to_frames(graph: nx.MultiDiGraph) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flatten an osmnx-style graph into node and edge tables with scalar columns.

    osmnx keeps lists where a simplified edge merged several OSM ways; lists become one value:
    the first OSM id, the most important highway class, and text joined with ``;``.
    """
    ids = list(graph.nodes)
    nodes = pd.DataFrame(
        {
            "osmid": np.asarray(ids, dtype=np.int64),
            "x": [graph.nodes[n]["x"] for n in ids],
            "y": [graph.nodes[n]["y"] for n in ids],
            "street_count": [int(graph.nodes[n].get("street_count", 0)) for n in ids],
        }
    )
    rows = []
    for u, v, k, d in graph.edges(keys=True, data=True):
        geom = d.get("geometry")
        rows.append(
            {
                "u": u,
                "v": v,
                "key": k,
                "osmid": int(_first(d.get("osmid", -1))),
                "highway": _highway(d.get("highway")),
                **{c: _text(d.get(c)) for c in _EDGE_TEXT},
                "oneway": bool(_first(d.get("oneway", False))),
                "reversed": bool(_first(d.get("reversed", False))),
                **{c: float(d[c]) if d.get(c) is not None else np.nan for c in _EDGE_FLOAT},
                "connector": bool(d.get("connector", False)),
                "geometry": shapely.to_wkb(geom) if geom is not None else None,
            }
        )
    edges = pd.DataFrame(rows)
    if edges.empty:
        edges = pd.DataFrame(
            columns=[
                "u",
                "v",
                "key",
                "osmid",
                "highway",
                *_EDGE_TEXT,
                "oneway",
                "reversed",
                *_EDGE_FLOAT,
                "connector",
                "geometry",
            ]
        )
    return nodes, edges


def frames_to_graph(
    nodes: pd.DataFrame, edges: pd.DataFrame, *, graph_attrs: Mapping[str, Any] | None = None
) -> nx.MultiDiGraph:
    """Rebuild the graph written by :func:`graph_to_frames`."""
    graph: nx.MultiDiGraph = nx.MultiDiGraph(**{"crs": "epsg:4326", **(graph_attrs or {})})
    graph.add_nodes_from(
        (int(n), {"x": float(x), "y": float(y), "street_count": int(s)})
        for n, x, y, s in zip(nodes["osmid"], nodes["x"], nodes["y"], nodes["street_count"])
    )
    geoms = shapely.from_wkb(edges["geometry"].to_numpy()) if len(edges) else []
    cols = [c for c in edges.columns if c not in ("u", "v", "key", "geometry")]
    records = edges[cols].to_dict("records")
    for (u, v, k), rec, geom in zip(
        edges[["u", "v", "key"]].itertuples(index=False), records, geoms
    ):
        attrs = {str(c): val for c, val in rec.items() if val is not None and val == val}
        if geom is not None:
            attrs["geometry"] = geom
        graph.add_edge(int(u), int(v), key=int(k), **attrs)
    return graph


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _highway(value: Any) -> str:
    values = value if isinstance(value, list) else [value]
    values = [str(v) for v in values if v is not None]
    if not values:
        return "road"
    return min(values, key=lambda h: _HIGHWAY_RANK.get(h, len(_HIGHWAY_RANK)))


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _jsonable(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if isinstance(v, (str, int, float, bool))}
