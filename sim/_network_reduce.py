"""Reducing a road graph to the part that matters between facilities (see :mod:`sim.network`):
dead ends pruned, chains of pass-through nodes contracted, low-degree nodes eliminated with
shortcut edges."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_MAX_ROUNDS = 32  # elimination rounds at most (they stop earlier when they gain little)


class _Edges(NamedTuple):
    """Directed edges sorted by tail then head, at most one per pair, no self-loops."""

    tail: np.ndarray
    head: np.ndarray
    seconds: np.ndarray
    metres: np.ndarray


def _row_pointers(tail: np.ndarray, n: int) -> np.ndarray:
    """CSR row pointers of ``n`` rows for row indices ``tail`` sorted in order."""
    return np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=n))])


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
