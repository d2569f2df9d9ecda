"""The province benchmark: every county of Shanxi for N days at R parcels per village and day.

It runs exactly what ``ruralsim run`` runs (:func:`sim.runfolder.stream_run`: build, simulate,
KPIs and coverage county by county, the parcel table written), into a temporary folder, and
prints wall time, CPU time (this process and its workers), peak memory (this process, the
largest worker), the parcels and the size of the run folder.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.memory import PeakMemory, rss_peak_mib
from sim.load import load_scenario
from sim.parcelfile import ParcelsChoice
from sim.runfolder import stream_run
from sim.scenario import scenario_from_dict


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def province_scenario(scenario: str | Path, *, days: int, rate: float, sets: Sequence[str] = ()):
    """The scenario's settings on the whole province: ``days`` days, no warm-up or drain, one
    replication, a flat ``rate`` inbound parcels per village and day."""
    base = load_scenario(scenario, sets=sets).model_dump(mode="json")
    base["region"] = {
        **base["region"],
        "county": None,
        "counties": None,
        "province": "14",
        "prefecture": None,
    }
    base.update(horizon_days=days, warmup_days=0, replications=1, drain_days=0)
    base["demand"]["inbound"].update(mode="flat", parcels_per_village_per_day=rate)
    return scenario_from_dict(base, source=scenario)


def run_province_benchmark(
    scenario: str | Path,
    *,
    days: int = 30,
    rate: float = 30.0,
    workers: int = 2,
    parcels: ParcelsChoice = "all",
    cache_dir: Path | None = None,
    keep: Path | None = None,
    max_memory: float | None = None,
    sets: Sequence[str] = (),
) -> str:
    """Time a streamed run of the whole province and return the lines the command prints.

    The run folder goes to a temporary directory beside ``keep`` (or the system's), removed
    afterwards unless ``keep`` names where to leave it; ``max_memory`` (bytes) is
    ``ruralsim run --max-memory`` (None: no limit).
    """
    sc = province_scenario(scenario, days=days, rate=rate, sets=sets)
    tmp = Path(tempfile.mkdtemp(prefix="ruralsim-bench-", dir=keep.parent if keep else None))
    out = keep if keep is not None else tmp / "run"
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        run, _ = stream_run(
            out,
            sc,
            parcels=parcels,
            workers=workers,
            cache_dir=cache_dir,
            figures=False,
            max_memory=max_memory,
        )
    wall = time.perf_counter() - t0
    cpu = _cpu_s() - cpu0
    own = max(mem.own, rss_peak_mib())
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        f"province benchmark: {len(run.world.counties)} counties, {days} days x {rate:g} "
        f"parcels/village/day, {workers} worker process(es), parcels written: {parcels}, "
        + (f"--max-memory {max_memory / 2**30:g} GiB" if max_memory else "no memory limit"),
        f"  parcels      {run.parcels:,} ({run.parcels_written:,} written), "
        f"{run.vehicle_legs:,} vehicle legs",
        f"  wall time    {wall:8.1f} s   {run.parcels / wall:,.0f} parcels/s",
        f"  CPU time     {cpu:8.1f} s   (this process and its workers)",
        f"  peak memory  {own:8.0f} MiB this process, {mem.worker:.0f} MiB the largest worker, "
        f"{mem.total:.0f} MiB together ({mem.total * 2**20 / max(run.parcels, 1):.1f} bytes "
        "per parcel; sampled every 0.2 s)",
        f"  run folder   {size / 2**20:8.0f} MiB"
        + (f" ({out})" if keep is not None else " (removed)"),
    ]
    return "\n".join(lines)
