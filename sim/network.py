"""Travel-time and distance matrices between facilities on a road graph.

The road graph is any osmnx-style ``networkx.MultiDiGraph`` whose edges carry ``length``
(metres) and ``speed_kph``: an OSM graph or the synthetic one of `sim.geodata.synthetic`.
It is converted once to compressed sparse row arrays (`graph_to_csr`); the matrices then
come from a single multi-source ``scipy.sparse.csgraph.dijkstra`` call on edge travel times,
and the distance driven along each fastest path is recovered from the predecessor arrays
by pointer jumping, without a Python loop over facilities or paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

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

    def index_of(self, nodes: Sequence[object]) -> np.ndarray:
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
    node_ids = np.empty(graph.number_of_nodes(), dtype=object)
    node_ids[:] = list(graph.nodes)
    index = {node: i for i, node in enumerate(graph.nodes)}
    m = graph.number_of_edges()
    tail = np.empty(m, dtype=np.int64)
    head = np.empty(m, dtype=np.int64)
    length = np.empty(m)
    speed = np.empty(m)
    for k, (u, v, data) in enumerate(graph.edges(data=True)):
        try:
            length[k] = data["length"]
            speed[k] = data["speed_kph"]
        except KeyError as err:
            raise GeodataError(
                f"road graph: edge ({u!r}, {v!r}) has no {err.args[0]!r} attribute; "
                "osmnx graphs need osmnx.routing.add_edge_speeds first"
            ) from None
        tail[k] = index[u]
        head[k] = index[v]
    bad = np.flatnonzero(~(length >= 0) | ~(speed > 0) | ~np.isfinite(length + speed))
    if bad.size:
        k = int(bad[0])
        raise GeodataError(
            f"road graph: edge ({node_ids[tail[k]]!r}, {node_ids[head[k]]!r}) has length "
            f"{length[k]!r} m and speed_kph {speed[k]!r}; need length >= 0 and speed > 0"
        )
    order = np.lexsort((head, tail))
    if np.issubdtype(np.asarray(list(index)).dtype, np.integer):
        node_ids = node_ids.astype(np.int64)
    return RoadCSR(
        node_ids=node_ids,
        indptr=np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=len(index)))]),
        indices=head[order],
        length_m=length[order],
        speed_kph=speed[order],
    )


def facility_matrices(
    graph: nx.MultiDiGraph | RoadCSR,
    nodes: Sequence[int],
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
    """
    if max_speed_kmh is not None and not (math.isfinite(max_speed_kmh) and max_speed_kmh > 0):
        raise GeodataError(f"max_speed_kmh: {max_speed_kmh!r} is not a positive speed")
    csr = graph if isinstance(graph, RoadCSR) else graph_to_csr(graph)
    idx = csr.index_of(nodes)
    if idx.size == 0:
        return np.empty((0, 0)), np.empty((0, 0))
    facilities, inverse = np.unique(idx, return_inverse=True)

    times, lengths = _fastest_edges(csr, max_speed_kmh)
    dist_s, pred = dijkstra(times, indices=facilities, return_predecessors=True)
    time_s = dist_s[:, facilities]
    length_m = _path_lengths(pred, facilities, times, lengths)
    pick = np.ix_(inverse, inverse)
    return time_s[pick] / 60.0, length_m[pick] / 1000.0


def _fastest_edges(csr: RoadCSR, max_speed_kmh: float | None) -> tuple[csr_matrix, np.ndarray]:
    """Travel-time matrix (s) keeping the fastest of parallel edges, and its edge lengths.

    Self-loops are dropped: they never lie on a fastest path. The returned lengths are
    aligned with the matrix's ``data``.
    """
    n = len(csr.node_ids)
    tail = np.repeat(np.arange(n), np.diff(csr.indptr))
    head = csr.indices
    speed = csr.speed_kph if max_speed_kmh is None else np.minimum(csr.speed_kph, max_speed_kmh)
    seconds = csr.length_m / (speed / 3.6)
    # sorted by tail, head, then time: the first edge of each (tail, head) run is the fastest
    order = np.lexsort((seconds, head, tail))
    tail, head = tail[order], head[order]
    first = np.r_[True, (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])] & (tail != head)
    keep = order[first]
    tail, head = tail[first], head[first]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=n))])
    times = csr_matrix((seconds[keep], head, indptr), shape=(n, n))
    return times, csr.length_m[keep]


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
    row_start = np.repeat(np.arange(n_src, dtype=flat) * flat(n), len(facilities))
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
