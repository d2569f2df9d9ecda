"""The matrix benchmark: travel-time matrices between facilities on a large county graph."""

from __future__ import annotations

import time

from benchmarks.graphs import county_like_graph, pick_facilities
from benchmarks.memory import rss_peak_mib


def run(*, n_nodes: int = 50_000, n_facilities: int = 600, repeat: int = 3) -> str:
    """Time travel-time and distance matrices between facilities on a large county graph.

    The graph is a seeded stand-in for a simplified OpenStreetMap county graph
    (:func:`benchmarks.graphs.county_like_graph`); the best
    of ``repeat`` runs is reported.
    """
    from sim.network import facility_matrices

    graph = county_like_graph(n_nodes, seed=0)
    nodes = pick_facilities(graph, n_facilities, seed=0)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        time_min, _ = facility_matrices(graph, nodes, max_speed_kmh=50.0)
        times.append(time.perf_counter() - t0)
    return "\n".join(
        [
            f"matrices: {graph.number_of_nodes():,}-node graph "
            f"({graph.number_of_edges():,} edges), {len(nodes)} facilities, one vehicle speed",
            f"  wall time    {min(times):8.3f} s (best of {repeat}; all: "
            f"{', '.join(f'{t:.3f}' for t in times)})",
            f"  finite pairs {int((time_min < float('inf')).sum()):,} of {time_min.size:,}",
            f"  peak memory  {rss_peak_mib():8.1f} MiB (process RSS)",
        ]
    )
