"""The sweep benchmark: an N-run sweep serially, on 1 and 2 processes and on a LocalCluster."""

from __future__ import annotations

import time
from pathlib import Path


def run_sweep_benchmark(
    scenario: str | Path,
    *,
    n_runs: int = 200,
    days: int = 3,
    rate: float = 10.0,
    repeat: int = 3,
) -> str:
    """Time a sweep of ``n_runs`` runs serially and on 2 processes, interleaved ``repeat``
    times, then once on 1 process and on a LocalCluster.

    The sweep varies the seed over ``n_runs / 2`` values, so every run is distinct and costs
    about the same, with 2 replications of a short run. Each repetition runs the same runs
    called directly (each variant's world built once, as a sweep does), then the serial
    sweep, then the 2-process sweep, so that a drift of the machine's speed hits all three.
    The efficiency of 2 processes is the serial wall time over twice theirs (1.0: twice as
    fast as serial), from the minima and from the medians; the executor's overhead per run
    is the serial sweep's wall time minus the direct calls', per run.
    """
    import statistics
    import tempfile

    import distributed

    from sim.sweep import run_sweep

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        sweep_file, scenarios = _sweep_file(Path(tmp), Path(scenario).resolve(), n_runs, days, rate)
        n = 2 * len(scenarios)
        lines.append(
            f"sweep benchmark: {n} runs of {Path(scenario).name} ({days} days, {rate:g} "
            f"parcels/village/day), {repeat} interleaved repetitions (min / median)"
        )
        times: dict[str, list[float]] = {"direct calls": [], "serial": [], "2 processes": []}
        for i in range(repeat):
            times["direct calls"].append(_direct(scenarios))
            for label, kw in (
                ("serial", {"backend": "serial"}),
                ("2 processes", {"backend": "processes", "workers": 2}),
            ):
                out = Path(tmp) / f"{label.replace(' ', '_')}_{i}"
                t0 = time.perf_counter()
                run_sweep(sweep_file, out, **kw)  # type: ignore[arg-type]
                times[label].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_sweep(sweep_file, Path(tmp) / "one", backend="processes", workers=1)
        times["1 process"] = [time.perf_counter() - t0]
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            t0 = time.perf_counter()
            run_sweep(
                sweep_file, Path(tmp) / "dask", backend="dask", scheduler=cluster.scheduler_address
            )
            times["LocalCluster (2 workers)"] = [time.perf_counter() - t0]
        for label, xs in times.items():
            lo, med = min(xs), statistics.median(xs)
            lines.append(f"  {label:<24} {lo:7.2f} / {med:7.2f} s   {n / med:6.2f} runs/s")
        ser, par = times["serial"], times["2 processes"]
        lines.append(
            f"  2-process efficiency     {min(ser) / (2 * min(par)):7.2f} / "
            f"{statistics.median(ser) / (2 * statistics.median(par)):7.2f}    "
            "serial / (2 x 2 processes)"
        )
        overhead = (statistics.median(ser) - statistics.median(times["direct calls"])) / n
        direct_run = statistics.median(times["direct calls"]) / n
        lines.append(
            f"  executor overhead        {overhead * 1000:7.1f} ms per run "
            f"({overhead / direct_run:.1%} of a run), serial sweep vs direct calls (medians)"
        )
    return "\n".join(lines)


def _sweep_file(tmp: Path, base: Path, n_runs: int, days: int, rate: float):
    """A sweep file of ``n_runs`` runs (seeds x 2 replications) and its resolved scenarios."""
    from sim._sweep_runs import variant_runs
    from sim.sweep import load_sweep, resolve, variants

    n_var = max(n_runs // 2, 1)
    sweep_file = tmp / "bench.yaml"
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
    return sweep_file, scenarios


def _direct(scenarios) -> float:
    """Seconds to run every scenario's two replications by direct calls."""
    from sim._sweep_runs import variant_runs

    t0 = time.perf_counter()
    for sc in scenarios:
        list(variant_runs(sc, [0, 1], errors=()))
    return time.perf_counter() - t0
