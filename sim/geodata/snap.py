"""Snap facilities to a road graph, adding explicit connectors where the graph falls short.

Rural OpenStreetMap in China is thin: a village may lie far from any mapped road, or next to a
road fragment that does not join the rest of the network. Every facility is snapped to the
nearest node of the graph's largest strongly connected component. When the nearest node of the
whole graph is off that component, or the snap distance exceeds a threshold, the facility gets
a connector instead: a new node at the facility and a two-way edge to the nearest component node,
whose length is the straight distance times a circuity factor, driven at a low speed. Connectors
are flagged (``connector=True``, ``highway="connector"``) and counted in the data-quality report.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from shapely.geometry import LineString

_EARTH_M = 6_371_008.8


@dataclass(frozen=True)
class Snapped:
    """Result of :func:`snap_facilities`.

    Attributes
    ----------
    graph
        The largest strongly connected component of the input, plus connector nodes and edges.
    nodes
        Graph node of each facility, in input order.
    table
        Per facility: ``snap_m`` (straight distance to the nearest main-component node),
        ``connector`` (bool) and ``reason``: "" (snapped), "far" (no road of the network
        within the threshold) or "disconnected" (its nearest road is a fragment that does not
        join the network).
    """

    graph: nx.MultiDiGraph
    nodes: np.ndarray
    table: pd.DataFrame


def _metric(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    k = np.pi / 180 * _EARTH_M
    return np.column_stack([lon * k * np.cos(np.radians(lat0)), lat * k])


def largest_component(graph: nx.MultiDiGraph) -> set:
    """Nodes of the largest strongly connected component."""
    return max(nx.strongly_connected_components(graph), key=len)


def snap_facilities(
    graph: nx.MultiDiGraph,
    lonlat: np.ndarray,
    *,
    max_m: float,
    connector_speed_kmh: float,
    circuity: float,
    first_node_id: int | None = None,
) -> Snapped:
    """Snap facility points to the graph's main component, with connectors where needed.

    Parameters
    ----------
    graph
        osmnx-style road graph (WGS-84, ``x``/``y`` on nodes).
    lonlat
        Facility coordinates, shape (F, 2).
    max_m
        Largest acceptable snap distance; farther facilities get a connector.
    connector_speed_kmh, circuity
        Speed on connectors, and connector length over straight distance.
    first_node_id
        Id of the first connector node (default: one above the largest node id).

    Returns
    -------
    Snapped
    """
    main = largest_component(graph)
    g = graph.subgraph(main).copy()
    ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    xs = np.array([graph.nodes[n]["x"] for n in ids])
    ys = np.array([graph.nodes[n]["y"] for n in ids])
    in_main = np.fromiter((n in main for n in ids), dtype=bool, count=len(ids))
    lat0 = float(np.mean(lonlat[:, 1])) if len(lonlat) else 0.0
    pts = _metric(lonlat[:, 0], lonlat[:, 1], lat0)
    all_xy = _metric(xs, ys, lat0)
    d_any, _ = cKDTree(all_xy).query(pts)
    d_main, i_main = cKDTree(all_xy[in_main]).query(pts)
    main_ids = ids[in_main]
    next_id = int(ids.max()) + 1 if first_node_id is None else first_node_id
    nodes = np.empty(len(pts), dtype=np.int64)
    reason = np.full(len(pts), "", dtype=object)
    # The nearest road is a fragment that does not join the network: its villagers reach the
    # network by it, so the facility gets a connector rather than a free jump to the network.
    fragment = d_any < d_main - 1e-6
    for f in range(len(pts)):
        if d_main[f] <= max_m and not fragment[f]:
            nodes[f] = main_ids[i_main[f]]
            continue
        reason[f] = "disconnected" if fragment[f] else "far"
        target = int(main_ids[i_main[f]])
        new = next_id
        next_id += 1
        lon, lat = float(lonlat[f, 0]), float(lonlat[f, 1])
        g.add_node(new, x=lon, y=lat, street_count=1, connector=True)
        length = float(d_main[f]) * circuity
        seconds = length / (connector_speed_kmh / 3.6)
        line = LineString([(lon, lat), (g.nodes[target]["x"], g.nodes[target]["y"])])
        common = {
            "osmid": -new,
            "highway": "connector",
            "oneway": False,
            "length": length,
            "speed_kph": float(connector_speed_kmh),
            "travel_time": seconds,
            "connector": True,
            "synthetic": True,
        }
        g.add_edge(new, target, key=0, reversed=False, geometry=line, **common)
        g.add_edge(target, new, key=0, reversed=True, geometry=line.reverse(), **common)
        nodes[f] = new
    table = pd.DataFrame({"snap_m": d_main, "connector": reason != "", "reason": reason})
    return Snapped(graph=g, nodes=nodes, table=table)
