"""Travel-time and distance matrices between facilities on a road graph.

The road graph is any osmnx-style ``networkx.MultiDiGraph`` whose edges carry ``length``
(metres) and ``speed_kph``: an OSM graph or the synthetic one of `sim.geodata.synthetic`.
It is converted once to compressed sparse row arrays (`graph_to_csr`). For a set of
facilities the graph is first reduced (`_reduce`): lanes that lead nowhere but to
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
from typing import NamedTuple, NoReturn

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from sim.errors import GeodataError

_BLOCK_ENTRIES = 1 << 19  # tree entries handled together when recovering path lengths
_MAX_ROUNDS = 32  # elimination rounds at most (they stop earlier when they gain little)


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


class _Edges(NamedTuple):
    """Directed edges sorted by tail then head, at most one per pair, no self-loops."""

    tail: np.ndarray
    head: np.ndarray
    seconds: np.ndarray
    metres: np.ndarray


def _row_pointers(tail: np.ndarray, n: int) -> np.ndarray:
    """CSR row pointers of ``n`` rows for row indices ``tail`` sorted in order."""
    return np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=n))])


def _fastest_edges(csr: RoadCSR, max_speed_kmh: float | None) -> _Edges:
    """Edge travel times (s) and lengths (m), keeping the fastest of parallel edges."""
    tail = np.repeat(np.arange(len(csr.node_ids)), np.diff(csr.indptr))
    speed = csr.speed_kph if max_speed_kmh is None else np.minimum(csr.speed_kph, max_speed_kmh)
    return _fastest_of_parallel(tail, csr.indices, csr.length_m / (speed / 3.6), csr.length_m)


def _fastest_of_parallel(
    tail: np.ndarray, head: np.ndarray, seconds: np.ndarray, metres: np.ndarray
) -> _Edges:
    """Keep the fastest edge of each (tail, head) pair; drop self-loops and untravellable edges.

    Self-loops never lie on a fastest path, nor do edges of infinite time.
    """
    order = np.lexsort((seconds, head, tail))
    tail, head = tail[order], head[order]
    first = (tail != head) & np.isfinite(seconds[order])
    first[1:] &= (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    keep = order[first]
    return _Edges(tail[first], head[first], seconds[keep], metres[keep])


def _reduce(n: int, edges: _Edges, facilities: np.ndarray) -> tuple[np.ndarray, _Edges]:
    """Shrink the graph to fewer nodes with the same fastest times between facilities.

    Three steps, each removing only nodes other than facilities:

    1. dead ends: a node with at most one neighbour (in either direction) cannot lie on a
       path between two other nodes; it is removed and so, one by one, are the whole trees
       of lanes that hang off the network without a facility;
    2. chains: a node with exactly two neighbours ``a`` and ``b`` can only be passed
       through, ``a -> x -> b`` or ``b -> x -> a``. Each maximal chain of such nodes becomes
       one edge per direction that can be driven all along it;
    3. elimination rounds: a set of nodes no two of which are neighbours is removed, each
       replaced by a shortcut ``u -> w`` for every pair of edges ``u -> x -> w``, as long as
       that makes at most twice as many shortcuts as it removes edges (low degrees first).
       Rounds stop when they remove less than 1 % of the nodes.

    Every new edge stands for one path and has its time and length; of parallel edges the
    fastest is kept. Returns the sorted indices of the kept nodes and the edges between
    them, renumbered ``0 .. len(kept) - 1``.
    """
    is_facility = np.zeros(n, dtype=bool)
    is_facility[facilities] = True
    alive, degree = _prune_dead_ends(n, edges, is_facility)
    inside = alive[edges.tail] & alive[edges.head]
    edges = _Edges(*(column[inside] for column in edges))
    interior = alive & ~is_facility & (degree == 2)
    if interior.any():
        edges = _contract_chains(n, edges, interior)
        alive &= ~interior
    kept = np.flatnonzero(alive)
    edges = _renumber(edges, alive)
    for _ in range(_MAX_ROUNDS):
        removed, edges = _eliminate(len(kept), edges, is_facility[kept])
        edges = _renumber(edges, ~removed)
        kept = kept[~removed]
        if removed.sum() < 0.01 * removed.size:
            break
    return kept, edges


def _renumber(edges: _Edges, alive: np.ndarray) -> _Edges:
    """Edges between alive nodes, with the nodes numbered in order among the alive ones."""
    number = np.cumsum(alive) - 1
    return edges._replace(tail=number[edges.tail], head=number[edges.head])


def _neighbours(n: int, edges: _Edges) -> tuple[np.ndarray, np.ndarray]:
    """Undirected adjacency, each neighbour once and in order: row pointers and neighbours."""
    arc = np.concatenate([edges.tail * n + edges.head, edges.head * n + edges.tail])
    arc.sort()
    arc = arc[np.r_[True, arc[1:] != arc[:-1]]] if arc.size else arc
    return _row_pointers(arc // n, n), arc % n


def _prune_dead_ends(
    n: int, edges: _Edges, is_facility: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Remove dead ends other than facilities, repeatedly; return alive nodes and degrees.

    The degree of an alive node is its number of alive neighbours. Each round removes the
    current dead ends and looks only at their neighbours for the next ones.
    """
    ptr, neighbour = _neighbours(n, edges)
    degree = np.diff(ptr)
    alive = np.ones(n, dtype=bool)
    leaves = np.flatnonzero(~is_facility & (degree <= 1))
    while leaves.size:
        alive[leaves] = False
        around = neighbour[_row_entries(ptr, leaves)]
        around, lost = np.unique(around[alive[around]], return_counts=True)
        degree[around] -= lost
        leaves = around[(degree[around] <= 1) & ~is_facility[around]]
    degree[~alive] = 0
    return alive, degree


def _row_entries(ptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions ``ptr[r]:ptr[r + 1]`` of all the given rows, concatenated."""
    start, count = ptr[rows], ptr[rows + 1] - ptr[rows]
    offset = np.cumsum(count) - count
    return np.repeat(start - offset, count) + np.arange(count.sum())


def _contract_chains(n: int, edges: _Edges, interior: np.ndarray) -> _Edges:
    """Replace each chain of ``interior`` nodes by one edge per drivable direction.

    Works on arcs, the undirected edges taken both ways: an arc into an interior node
    continues with the arc out of it on the other side. Every arc leaving a node that
    stays starts a walk that ends on the first arc into a node that stays; pointer jumping
    sums the walk's times (inf where the road is missing in that direction) and lengths in
    about log2(longest chain) passes. Rings of interior nodes, which no walk enters, are
    dropped with them.
    """
    ptr, arc_head = _neighbours(n, edges)
    arc_tail = np.repeat(np.arange(n), np.diff(ptr))
    n_arcs = arc_head.size
    # arc of each directed edge: arcs are sorted by (tail, head), so by tail * n + head
    at = np.searchsorted(arc_tail * n + arc_head, edges.tail * n + edges.head)
    seconds = np.full(n_arcs + 1, np.inf)  # the extra slot is the end of every walk
    metres = np.zeros(n_arcs + 1)
    seconds[at], seconds[n_arcs] = edges.seconds, 0.0
    metres[at] = edges.metres
    # next arc: of the two arcs out of an interior head, the one not going straight back
    through = np.flatnonzero(interior[arc_head])
    out = ptr[arc_head[through]]
    nxt = np.full(n_arcs + 1, n_arcs)
    nxt[through] = out + (arc_head[out] == arc_tail[through])
    last = np.arange(n_arcs + 1)
    starts = np.flatnonzero(~interior[arc_tail])
    while (nxt[starts] != n_arcs).any():
        walking = np.flatnonzero(nxt[:n_arcs] != n_arcs)
        ahead = nxt[walking]
        seconds[walking] += seconds[ahead]
        metres[walking] += metres[ahead]
        last[walking] = last[ahead]
        nxt[walking] = nxt[ahead]
    return _fastest_of_parallel(
        arc_tail[starts], arc_head[last[starts]], seconds[starts], metres[starts]
    )


def _eliminate(n: int, edges: _Edges, is_facility: np.ndarray) -> tuple[np.ndarray, _Edges]:
    """One elimination round (step 3 of `_reduce`): removed nodes and the new edges.

    A node is eligible if it is not a facility and its shortcuts (in-neighbours times
    out-neighbours, less the round trips) are at most twice its edges. An eligible node is
    removed if it ranks below all its neighbours, by degree and then by a fixed scramble of
    its index, so no two removed nodes are neighbours. The edges keep the old numbering.
    """
    ptr, neighbour = _neighbours(n, edges)
    degree = np.diff(ptr)
    n_in = np.bincount(edges.head, minlength=n)
    n_out = np.bincount(edges.tail, minlength=n)
    shortcuts = n_in * n_out - (n_in + n_out - degree)  # less neighbours linked both ways
    eligible = ~is_facility & (shortcuts <= 2 * (n_in + n_out))
    scramble = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    rank = np.where(eligible, degree + scramble / 2.0**33, np.inf)
    lowest_around = np.full(n, np.inf)
    linked = degree > 0
    if neighbour.size:
        lowest_around[linked] = np.minimum.reduceat(rank[neighbour], ptr[:-1][linked])
    removed = eligible & (rank < lowest_around)

    into, out_of = removed[edges.head], removed[edges.tail]
    first = np.flatnonzero(into)  # u -> x, then each x -> w (out-edges of x are contiguous)
    via = edges.head[first]
    second = _row_entries(_row_pointers(edges.tail, n), via)
    first = np.repeat(first, n_out[via])
    keep = ~(into | out_of)
    return removed, _fastest_of_parallel(
        np.concatenate([edges.tail[keep], edges.tail[first]]),
        np.concatenate([edges.head[keep], edges.head[second]]),
        np.concatenate([edges.seconds[keep], edges.seconds[first] + edges.seconds[second]]),
        np.concatenate([edges.metres[keep], edges.metres[first] + edges.metres[second]]),
    )


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
