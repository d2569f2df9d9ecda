"""Travel-time and distance matrices between facilities on a road graph.

The road graph is any osmnx-style ``networkx.MultiDiGraph`` whose edges carry ``length``
(metres) and ``speed_kph``: an OSM graph or the synthetic one of `sim.geodata.synthetic`.
It is converted once to compressed sparse row arrays (`graph_to_csr`). For a set of
facilities the graph is first reduced (`sim._network_reduce`): lanes that lead nowhere but to
non-facilities are pruned, chains of pass-through nodes become single edges, and low-degree
nodes are eliminated with shortcut edges, so a county graph of 50,000 nodes typically keeps
a few thousand. The matrices then come from a single multi-source
``scipy.sparse.csgraph.dijkstra`` call on edge travel times, and the distance driven along
each fastest path is recovered from the predecessor arrays by pointer jumping, without a
Python loop over facilities or paths.

scipy's dijkstra holds the GIL, so splitting the sources over threads gains nothing; its
other options (``limit``, source order, index width) made no measurable difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from sim._network_reduce import _Edges, _fastest_of_parallel, _reduce, _row_pointers
from sim.errors import GeodataError

_BLOCK_ENTRIES = 1 << 19  # tree entries handled together when recovering path lengths


@dataclass(frozen=True)
class RoadCSR:
    """Directed road edges in compressed sparse row form, parallel edges kept.

    Edges are sorted by tail, then head; the out-edges of node index ``i`` are
    ``indptr[i]:indptr[i + 1]``.

    Attributes
    ----------
    node_ids
        Graph node id of each node index.
    indptr
        Row pointers, shape ``(n + 1,)``.
    indices
        Head node index of each edge.
    length_m
        Edge length in metres.
    speed_kph
        Edge speed in km/h.
    """

    node_ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    length_m: np.ndarray
    speed_kph: np.ndarray

    def __post_init__(self) -> None:
        for array in (self.node_ids, self.indptr, self.indices, self.length_m, self.speed_kph):
            array.setflags(write=False)

    def index_of(self, nodes: Sequence[object] | np.ndarray) -> np.ndarray:
        """Return the node index of each graph node id.

        Raises
        ------
        GeodataError
            If a node is not in the graph.
        """
        lookup = {node: i for i, node in enumerate(self.node_ids.tolist())}
        try:
            return np.array([lookup[node] for node in nodes], dtype=np.int64)
        except KeyError as err:
            raise GeodataError(f"nodes: node {err.args[0]!r} is not in the road graph") from None


def graph_to_csr(graph: nx.MultiDiGraph) -> RoadCSR:
    """Convert an osmnx-style road graph to `RoadCSR` arrays.

    Parameters
    ----------
    graph
        Directed road graph; every edge needs ``length`` (m) and ``speed_kph``.

    Returns
    -------
    RoadCSR

    Raises
    ------
    GeodataError
        If an edge lacks ``length`` or ``speed_kph``, or has a negative length or a speed
        that is not positive.
    """
    index = {node: i for i, node in enumerate(graph.nodes)}
    tail: list[int] = []
    head: list[int] = []
    length: list[object] = []
    speed: list[object] = []
    for u, successors in graph.adjacency():
        i = index[u]
        for v, keyed in successors.items():
            j = index[v]
            for data in keyed.values():
                tail.append(i)
                head.append(j)
                length.append(data.get("length", math.nan))
                speed.append(data.get("speed_kph", math.nan))
    tails, heads = np.array(tail, dtype=np.int64), np.array(head, dtype=np.int64)
    node_ids = np.empty(len(index), dtype=object)
    node_ids[:] = list(index)
    try:
        metres, kph = np.array(length, dtype=float), np.array(speed, dtype=float)
    except (TypeError, ValueError):  # a value that is not a number
        _raise_bad_edge(graph)
    if not (np.all(metres >= 0) and np.all(kph > 0) and np.isfinite(metres + kph).all()):
        _raise_bad_edge(graph)
    order = np.lexsort((heads, tails))
    if np.issubdtype(np.asarray(list(index)).dtype, np.integer):
        node_ids = node_ids.astype(np.int64)
    return RoadCSR(
        node_ids=node_ids,
        indptr=np.concatenate([[0], np.cumsum(np.bincount(tails, minlength=len(index)))]),
        indices=heads[order],
        length_m=metres[order],
        speed_kph=kph[order],
    )


def _raise_bad_edge(graph: nx.MultiDiGraph) -> NoReturn:
    """Raise the `GeodataError` that names the first edge without a valid length or speed."""
    for u, v, data in graph.edges(data=True):
        for name in ("length", "speed_kph"):
            if name not in data:
                raise GeodataError(
                    f"road graph: edge ({u!r}, {v!r}) has no {name!r} attribute; "
                    "osmnx graphs need osmnx.routing.add_edge_speeds first"
                )
        length, speed = data["length"], data["speed_kph"]
        try:
            metres, kph = float(length), float(speed)
            fine = metres >= 0 and kph > 0 and math.isfinite(metres + kph)
        except (TypeError, ValueError):
            fine = False
        if not fine:
            raise GeodataError(
                f"road graph: edge ({u!r}, {v!r}) has length {length!r} m and speed_kph "
                f"{speed!r}; need length >= 0 and speed > 0"
            )
    raise AssertionError("unreachable: some edge was found invalid")


def facility_matrices(
    graph: nx.MultiDiGraph | RoadCSR,
    nodes: Sequence[int] | np.ndarray,
    *,
    max_speed_kmh: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Compute fastest-path travel times and the distances driven between facilities.

    Parameters
    ----------
    graph
        Road graph (converted with `graph_to_csr`), or its already converted arrays.
    nodes
        Graph node of each facility; repeats are allowed.
    max_speed_kmh
        Vehicle speed limit in km/h: each edge is driven at ``min(speed_kph,
        max_speed_kmh)``. None drives every edge at its own speed.

    Returns
    -------
    time_min, km
        Arrays of shape ``(len(nodes), len(nodes))``: ``time_min[i, j]`` is the fastest
        travel time from ``nodes[i]`` to ``nodes[j]`` in minutes and ``km[i, j]`` the length
        of that same path in km (among parallel edges the fastest is used). Both are inf
        where ``nodes[j]`` cannot be reached from ``nodes[i]``.

    Raises
    ------
    GeodataError
        If a node is not in the graph or `max_speed_kmh` is not a positive number.

    Notes
    -----
    The search runs on the graph reduced for these facilities (see `_reduce`), which gives
    the same times and distances up to float rounding and, where two paths are exactly as
    fast, possibly the distance of the other one.
    """
    if max_speed_kmh is not None and not (math.isfinite(max_speed_kmh) and max_speed_kmh > 0):
        raise GeodataError(f"max_speed_kmh: {max_speed_kmh!r} is not a positive speed")
    csr = graph if isinstance(graph, RoadCSR) else graph_to_csr(graph)
    idx = csr.index_of(nodes)
    if idx.size == 0:
        return np.empty((0, 0)), np.empty((0, 0))
    facilities, inverse = np.unique(idx, return_inverse=True)

    kept, edges = _reduce(len(csr.node_ids), _fastest_edges(csr, max_speed_kmh), facilities)
    sources = np.searchsorted(kept, facilities)
    times = csr_matrix(
        (edges.seconds, edges.head, _row_pointers(edges.tail, len(kept))),
        shape=(len(kept), len(kept)),
    )
    dist_s, pred = dijkstra(times, indices=sources, return_predecessors=True)
    time_s = dist_s[:, sources]
    length_m = _path_lengths(pred, sources, times, edges.metres)
    pick = np.ix_(inverse, inverse)
    return time_s[pick] / 60.0, length_m[pick] / 1000.0


def _fastest_edges(csr: RoadCSR, max_speed_kmh: float | None) -> _Edges:
    """Edge travel times (s) and lengths (m), keeping the fastest of parallel edges."""
    tail = np.repeat(np.arange(len(csr.node_ids)), np.diff(csr.indptr))
    speed = csr.speed_kph if max_speed_kmh is None else np.minimum(csr.speed_kph, max_speed_kmh)
    return _fastest_of_parallel(tail, csr.indices, csr.length_m / (speed / 3.6), csr.length_m)


def _path_lengths(
    pred: np.ndarray, facilities: np.ndarray, times: csr_matrix, lengths: np.ndarray
) -> np.ndarray:
    """Length in metres of the tree path from each source to each facility.

    ``pred[i]`` is scipy's shortest-path tree of source ``facilities[i]``. Sources are
    handled a few at a time so that each block of trees stays in the CPU cache.
    """
    n_src, n = pred.shape
    per_block = max(1, _BLOCK_ENTRIES // max(n, 1))
    blocks = [
        _tree_lengths(pred[i : i + per_block], i, facilities, times, lengths)
        for i in range(0, n_src, per_block)
    ]
    return np.vstack(blocks)


def _tree_lengths(
    pred: np.ndarray,
    first: int,
    facilities: np.ndarray,
    times: csr_matrix,
    lengths: np.ndarray,
) -> np.ndarray:
    """`_path_lengths` for the sources ``facilities[first : first + len(pred)]``.

    Only tree nodes on a path to some facility matter. They are found by walking up from
    the facilities one level per pass, each node entering the walk once (branches merge).
    The distance of each such node from its root is then summed by pointer jumping: after
    pass k every node knows the length of the 2**k edges above it and its 2**k-th ancestor,
    so about log2(depth) passes suffice. Trees are stored flat: entry ``row * n + node``.
    """
    n_src, n = pred.shape
    flat = np.int32 if n_src * n < 2**31 else np.int64
    up = pred.ravel()
    row_start = np.repeat(np.arange(n_src, dtype=flat) * n, len(facilities))
    targets = row_start + np.tile(facilities.astype(flat), n_src)
    reached = up[targets] >= 0  # the source itself and unreachable nodes have no parent

    seen = np.zeros(n_src * n, dtype=bool)
    scratch = np.empty(n_src * n, dtype=flat)
    walk, base = targets[reached], row_start[reached]
    seen[walk] = True
    found, found_base = [walk], [base]
    while walk.size:
        parent = base + up[walk]
        fresh = ~seen[parent]
        parent, base = parent[fresh], base[fresh]
        rank = np.arange(parent.size, dtype=flat)
        scratch[parent] = rank
        once = scratch[parent] == rank  # siblings share a parent: keep it once
        parent, base = parent[once], base[once]
        seen[parent] = True
        found.append(parent)
        found_base.append(base)
        more = up[parent] >= 0
        walk, base = parent[more], base[more]

    entry, base = np.concatenate(found), np.concatenate(found_base)
    here = np.arange(entry.size, dtype=flat)
    scratch[entry] = here  # now: the compact index of each kept entry
    parent = up[entry]
    child = parent >= 0
    jump = here.copy()
    jump[child] = scratch[base[child] + parent[child]]
    acc = np.zeros(entry.size)
    acc[child] = lengths[_edge_positions(times, parent[child], (entry - base)[child])]
    while True:
        acc += acc[jump]
        ahead = jump[jump]
        if np.array_equal(ahead, jump):
            break
        jump = ahead

    out = np.full(n_src * len(facilities), np.inf)
    out[reached] = acc[scratch[targets[reached]]]
    out = out.reshape(n_src, len(facilities))
    out[np.arange(n_src), first + np.arange(n_src)] = 0.0
    return out


def _edge_positions(times: csr_matrix, tails: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """Position in ``times.data`` of each edge ``tails[i] -> heads[i]`` (which must exist).

    A vectorised binary search within each row's sorted column indices.
    """
    indptr, indices = times.indptr, times.indices
    lo = indptr[tails].astype(np.int64)
    hi = indptr[tails + 1].astype(np.int64)
    widest = int(np.diff(indptr).max(initial=1))
    last = max(len(indices) - 1, 0)
    for _ in range(max(widest, 1).bit_length()):
        open_ = lo < hi
        mid = (lo + hi) >> 1
        below = indices[np.minimum(mid, last)] < heads
        lo = np.where(below & open_, mid + 1, lo)
        hi = np.where(~below & open_, mid, hi)
    return lo
