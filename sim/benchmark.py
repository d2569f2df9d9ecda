"""The benchmark behind ``ruralsim benchmark``: build, run and KPIs of one county, timed.

It times the columnar engine on a scenario (by default 临县 for 30 days at 30 inbound parcels
per village and day) and the per-parcel reference model on the first few days of the same
scenario, and reports wall time, parcels per second, peak memory and the speed ratio.
Interpreter start-up and imports are excluded: the clock starts after ``import sim``.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sim.build import build
from sim.engine import run
from sim.kpi import compute_kpis
from sim.reference import run_reference
from sim.scenario import load_scenario, scenario_from_dict


@dataclass(frozen=True)
class BenchmarkResult:
    """Figures of one benchmark."""

    scenario: str
    county: str
    days: int
    parcels: int
    build_s: float
    run_s: float
    kpis_s: float
    peak_rss_mib: float
    reference_days: int
    reference_parcels: int
    reference_s: float
    drain_days: float = 0.0
    drain_parcels: int = 0
    drain_s: float = 0.0

    @property
    def total_s(self) -> float:
        """Build + run + KPIs."""
        return self.build_s + self.run_s + self.kpis_s

    @property
    def parcels_per_s(self) -> float:
        """Parcels per second of the whole pipeline."""
        return self.parcels / self.total_s

    @property
    def reference_parcels_per_s(self) -> float:
        """Parcels per second of the per-parcel reference run."""
        return self.reference_parcels / self.reference_s if self.reference_s else float("nan")


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def all_options(data: dict) -> dict:
    """Turn on every optional mechanism of the model in a scenario's data (for timing).

    A Double-11-sized peak day and a weekly pattern; outbound parcels with a perishable
    specialty in season; lockers, partner outlets and door delivery in turn across villages;
    cold-chain, EV range, CO2 and fixed daily costs on the village vehicles.
    """
    data = {**data, "demand": {**data["demand"]}, "fleet": {**data["fleet"]}}
    data["demand"]["calendar"] = {
        "weekday_factors": [1, 1, 1, 1, 1, 0.9, 0.8],
        "events": [{"name": "double11", "start": "11-11", "end": "11-11", "factor": 1.87}],
    }
    data["demand"]["outbound"] = {
        "parcels_per_village_per_day": 3,
        "specialties": [
            {
                "name": "fruit",
                "start": "01-01",
                "end": "12-31",
                "peak_parcels_per_village_per_day": 10,
                "shelf_life_h": 48,
            }
        ],
    }
    data["facilities"] = {
        **data["facilities"],
        "village_points": {
            **data["facilities"].get("village_points", {}),
            "kind": "locker",
            "locker_capacity_parcels": 150,
        },
    }
    types = {}
    for name, vt in data["fleet"]["vehicle_types"].items():
        types[name] = {
            **vt,
            "cold_chain": True,
            "co2_kg_per_km": 0.2,
            "cost_per_day_yuan": 20,
            "range_km": 5000,
        }
    data["fleet"]["vehicle_types"] = types
    return data


def run_benchmark(
    scenario: str | Path,
    *,
    days: int = 30,
    rate: float = 30.0,
    reference_days: int = 3,
    options: bool = False,
) -> BenchmarkResult:
    """Time a scenario for ``days`` days at ``rate`` parcels per village per day.

    One replication, no warm-up, no drain, so that the figures compare across versions for
    the same parcels; a second run with the scenario's drain (the measurement design's
    extra days after the window) is timed apart. The reference model runs on the same
    scenario shortened to ``reference_days`` (0 skips it). With ``options``, every optional
    mechanism is on (:func:`all_options`); the reference then does not run (it leaves the
    outbound flow out).
    """
    loaded = load_scenario(scenario)
    base = loaded.model_dump(mode="json")
    base.update(horizon_days=days, warmup_days=0, replications=1, drain_days=0)
    base["demand"]["inbound"].update(mode="flat", parcels_per_village_per_day=rate)
    if options:
        base = all_options(base)
        reference_days = 0
    sc = scenario_from_dict(base, source=scenario)

    t0 = time.perf_counter()
    world = build(sc)
    t1 = time.perf_counter()
    results = run(world)
    t2 = time.perf_counter()
    compute_kpis(results)
    t3 = time.perf_counter()
    peak = _peak_rss_mib()

    drained = scenario_from_dict(dict(base, drain_days=loaded.drain_days), source=scenario)
    drained_world = build(drained)
    d0 = time.perf_counter()
    with_drain = run(drained_world)
    drain_s = time.perf_counter() - d0 - (t2 - t1)
    ref_parcels, ref_s = 0, 0.0
    if reference_days > 0:
        short = dict(base, horizon_days=reference_days)  # no drain either
        ref_world = build(scenario_from_dict(short, source=scenario))
        r0 = time.perf_counter()
        ref = run_reference(ref_world)
        ref_s = time.perf_counter() - r0
        ref_parcels = len(ref)
    return BenchmarkResult(
        scenario=sc.name,
        county=world.label,
        days=days,
        parcels=len(results.parcels),
        build_s=t1 - t0,
        run_s=t2 - t1,
        kpis_s=t3 - t2,
        peak_rss_mib=peak,
        reference_days=reference_days,
        reference_parcels=ref_parcels,
        reference_s=ref_s,
        drain_days=max(with_drain.ends.values()) / 1440.0 - days,
        drain_parcels=len(with_drain.parcels) - len(results.parcels),
        drain_s=drain_s,
    )


def format_benchmark(b: BenchmarkResult) -> str:
    """The benchmark's figures as the lines the command prints."""
    lines = [
        f"benchmark: {b.scenario} ({b.county}), {b.days} days, {b.parcels:,} parcels",
        f"  build        {b.build_s:8.3f} s",
        f"  run          {b.run_s:8.3f} s",
        f"  kpis         {b.kpis_s:8.3f} s",
        f"  total        {b.total_s:8.3f} s   {b.parcels_per_s:,.0f} parcels/s",
        f"  peak memory  {b.peak_rss_mib:8.1f} MiB (process RSS, before the reference run)",
        f"drain (not in the figures above): the same run followed for {b.drain_days:g} more "
        f"days until its parcels resolved, {b.drain_parcels:,} more parcels, "
        f"+{b.drain_s:.3f} s of run time",
    ]
    if b.reference_days:
        ratio = b.parcels_per_s / b.reference_parcels_per_s
        lines += [
            f"reference (one SimPy process per parcel), {b.reference_days} days, "
            f"{b.reference_parcels:,} parcels",
            f"  run          {b.reference_s:8.3f} s   {b.reference_parcels_per_s:,.0f} parcels/s",
            f"  speed ratio  {ratio:8.1f} x (engine parcels/s over reference parcels/s)",
        ]
    return "\n".join(lines)


def run_province_benchmark(scenario: str | Path, *, cache_dir: Path | None = None) -> str:
    """Time building the whole province's world from a scenario (its region set to 14).

    Counties with cached OpenStreetMap data use it; the others are synthetic. Returns the
    lines the command prints: wall time, counties per source, units, and peak memory.
    """
    base = load_scenario(scenario).model_dump(mode="json")
    base["region"] = {
        **base["region"],
        "county": None,
        "counties": None,
        "province": "14",
        "prefecture": None,
    }
    sc = scenario_from_dict(base, source=scenario)
    t0 = time.perf_counter()
    world = build(sc, cache_dir=cache_dir)
    wall = time.perf_counter() - t0
    roads = world.source_summary().get("roads", {})
    facilities = sum(1 + c.n_townships + c.n_villages for c in world.counties)
    nodes = sum(c.graph.number_of_nodes() for c in world.counties)
    return "\n".join(
        [
            f"province build: {len(world.counties)} counties from {sc.name} "
            f"({', '.join(f'{n} {k}' for k, n in sorted(roads.items()))} road networks)",
            f"  facilities   {facilities:,} (centres, township points, villages)",
            f"  graph nodes  {nodes:,}",
            f"  wall time    {wall:8.2f} s",
            f"  peak memory  {_peak_rss_mib():8.1f} MiB (process RSS)",
        ]
    )


def run_matrix_benchmark(*, n_nodes: int = 50_000, n_facilities: int = 600, repeat: int = 3) -> str:
    """Time travel-time and distance matrices between facilities on a large county graph.

    The graph is a seeded stand-in for a simplified OpenStreetMap county graph
    (:func:`sim._bench_graphs.county_like_graph`); the best of ``repeat`` runs is reported.
    """
    from sim._bench_graphs import county_like_graph, pick_facilities
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
            f"  peak memory  {_peak_rss_mib():8.1f} MiB (process RSS)",
        ]
    )


def run_sweep_benchmark(
    scenario: str | Path, *, n_runs: int = 200, days: int = 3, rate: float = 10.0
) -> str:
    """Time a sweep of ``n_runs`` runs serially, on 1 and 2 processes, and on a LocalCluster.

    The sweep varies the seed over ``n_runs / 2`` values, so every run is distinct and costs
    about the same, with 2 replications of a short run. The executor's per-run overhead is
    the serial sweep's wall time minus the time of the same runs called directly (each
    variant's world built once, as a sweep does), per run. The efficiency of 2 processes is
    the serial wall time over twice theirs (1.0: twice as fast as serial).
    """
    import tempfile

    import distributed

    from sim._sweep_runs import variant_runs
    from sim.sweep import load_sweep, resolve, run_sweep, variants

    base = Path(scenario).resolve()
    n_var = max(n_runs // 2, 1)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        sweep_file = Path(tmp) / "bench.yaml"
        sweep_file.write_text(
            f"base: {base}\ndesign: grid\nreplications: 2\n"
            f"overrides: {{horizon_days: {days}, warmup_days: 1, "
            f"demand.inbound.parcels_per_village_per_day: {rate}}}\n"
            f"factors:\n  - path: seed\n"
            f"    values: [{', '.join(str(1 + i) for i in range(n_var))}]\n",
            encoding="utf-8",
        )
        sweep, base_data = load_sweep(sweep_file)
        scenarios = [resolve(sweep, base_data, v, sweep_file) for v in variants(sweep)]
        list(variant_runs(scenarios[0], [0], errors=()))  # warm up: imports, geodata caches
        t0 = time.perf_counter()
        for sc in scenarios:
            list(variant_runs(sc, [0, 1], errors=()))
        direct = time.perf_counter() - t0
        n = 2 * len(scenarios)
        lines.append(
            f"sweep benchmark: {n} runs of {Path(scenario).name} ({days} days, {rate:g} "
            f"parcels/village/day)"
        )
        lines.append(f"  direct calls        {direct:8.2f} s   {n / direct:6.2f} runs/s")
        timings = {}
        for label, kwargs in (
            ("serial", {"backend": "serial"}),
            ("1 process", {"backend": "processes", "workers": 1}),
            ("2 processes", {"backend": "processes", "workers": 2}),
        ):
            t0 = time.perf_counter()
            run_sweep(sweep_file, Path(tmp) / label.replace(" ", "_"), **kwargs)  # type: ignore[arg-type]
            timings[label] = time.perf_counter() - t0
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            t0 = time.perf_counter()
            run_sweep(
                sweep_file,
                Path(tmp) / "dask",
                backend="dask",
                scheduler=cluster.scheduler_address,
            )
            timings["LocalCluster (2 workers)"] = time.perf_counter() - t0
        for label, wall in timings.items():
            lines.append(f"  {label:<19} {wall:8.2f} s   {n / wall:6.2f} runs/s")
        efficiency = timings["serial"] / (2 * timings["2 processes"])
        lines.append(f"  2-process efficiency {efficiency:7.2f}    serial / (2 x 2 processes)")
        overhead = (timings["serial"] - direct) / n
        lines.append(
            f"  executor overhead   {overhead * 1000:8.1f} ms per run "
            f"({overhead / (direct / n):.1%} of a run), serial sweep vs direct calls"
        )
    return "\n".join(lines)
