"""The sweep benchmark: an N-run sweep serially, on 1 and 2 processes and on a LocalCluster."""

from __future__ import annotations

import time
from pathlib import Path


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
