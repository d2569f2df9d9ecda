"""The county benchmark: the pipeline against the per-parcel reference model, interleaved.

One scenario (by default 临县 for 30 days at 30 inbound parcels per village and day, one
replication, no warm-up or drain) is timed ``repeat`` times in one process, alternating:

- the pipeline: ``sim.build`` + ``sim.run`` + ``sim.compute_kpis`` + ``sim.coverage_table``;
- the comparison model, :func:`sim.reference.run_reference`: the plainest SimPy model of the
  same flow, one SimPy process per parcel moving through ``simpy.Store`` queues, a sorter
  serving parcels one at a time and vehicles handing them over one by one (the engine's test
  oracle; it covers the inbound flow, so ``--all-options`` runs the pipeline alone). It runs
  on the same world and the same parcels; its world is built outside the clock.

- the vectorised floor, :func:`benchmarks.floor.floor_run` (one-county worlds without
  outbound parcels, which it leaves out, so not with ``--all-options``): the same parcels
  moved through the same plan by whole-array operations, without capacities; the ratio of
  ``sim.run`` to it says how far the engine is from a fully vectorised pass.

Each figure is reported as min and median over the repetitions. Interpreter start-up and
imports are excluded: a one-day run of the scenario, not timed, loads what the package
imports on first use. The garbage left by one step (the reference's many SimPy processes
above all) is collected before the next is timed, so that no step pays for another's.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.floor import floor_run, prepare
from benchmarks.memory import rss_peak_mib
from sim.build import build
from sim.engine import run
from sim.kpi import compute_kpis, coverage_table
from sim.load import load_scenario
from sim.reference import run_reference
from sim.scenario import Scenario, scenario_from_dict
from sim.world import World


@dataclass(frozen=True)
class Timings:
    """Seconds per repetition of each step, and the counts."""

    label: str
    parcels: int
    build: list[float]
    run: list[float]
    kpis: list[float]
    reference: list[float]
    reference_parcels: int
    peak_rss_mib: float
    floor: list[float] = field(default_factory=list)

    @property
    def total(self) -> list[float]:
        """Build + run + KPIs per repetition."""
        return [a + b + c for a, b, c in zip(self.build, self.run, self.kpis, strict=True)]


def county_scenario(
    scenario: str | Path,
    *,
    days: int,
    rate: float,
    options: bool = False,
    sets: Sequence[str] = (),
) -> Scenario:
    """A scenario's settings for ``days`` days at a flat ``rate``: one replication, no warm-up,
    no drain (so that the figures compare across versions for the same parcels)."""
    base = load_scenario(scenario, sets=sets).model_dump(mode="json")
    base.update(horizon_days=days, warmup_days=0, replications=1, drain_days=0)
    base["demand"]["inbound"].update(mode="flat", parcels_per_village_per_day=rate)
    if options:
        from benchmarks.options import all_options

        base = all_options(base)
    return scenario_from_dict(base, source=scenario)


def time_county(
    scenario: str | Path,
    *,
    days: int = 30,
    rate: float = 30.0,
    options: bool = False,
    reference_days: int | None = None,
    repeat: int = 3,
    sets: Sequence[str] = (),
) -> Timings:
    """Time the pipeline and the reference, interleaved, ``repeat`` times.

    The reference runs on the first ``reference_days`` days of the same scenario (default:
    all of them; 0 skips it; ``options`` skips it too, as it leaves the outbound flow out).
    """
    sc = county_scenario(scenario, days=days, rate=rate, options=options, sets=sets)
    ref_days = days if reference_days is None else reference_days
    ref_world = None
    if ref_days > 0 and not options:
        ref_world = build(county_scenario(scenario, days=ref_days, rate=rate, sets=sets))
    build_s, run_s, kpis_s, ref_s, floor_s = [], [], [], [], []
    parcels = ref_parcels = 0
    # Not timed: the imports the package makes on first use, and the geodata caches.
    warm = run(build(county_scenario(scenario, days=1, rate=1, sets=sets)))
    compute_kpis(warm)
    coverage_table(warm)
    for _ in range(repeat):
        gc.collect()  # each repetition starts without the garbage of the one before
        t0 = time.perf_counter()
        world = build(sc)
        t1 = time.perf_counter()
        results = run(world)
        t2 = time.perf_counter()
        compute_kpis(results)
        coverage_table(results)
        t3 = time.perf_counter()
        build_s.append(t1 - t0)
        run_s.append(t2 - t1)
        kpis_s.append(t3 - t2)
        parcels = len(results.parcels)
        inbound_only = bool((results.parcels["direction"] == "inbound").all())
        del results
        if len(world.counties) == 1 and inbound_only:
            floor_s.append(_time_floor(world))
        del world
        if ref_world is not None:
            gc.collect()
            r0 = time.perf_counter()
            ref_parcels = len(run_reference(ref_world))
            ref_s.append(time.perf_counter() - r0)
    label = f"{sc.name}, {days} days at {rate:g} parcels/village/day"
    return Timings(
        label, parcels, build_s, run_s, kpis_s, ref_s, ref_parcels, rss_peak_mib(), floor_s
    )


def _time_floor(world: World) -> float:
    """Seconds of the vectorised floor (:mod:`benchmarks.floor`) on a world just built,
    its preparation of the plan's runs included (``sim.run`` on a world just built also
    lays out its routes)."""
    gc.collect()
    t0 = time.perf_counter()
    tables = floor_run(prepare(world))
    elapsed = time.perf_counter() - t0
    del tables
    return elapsed


def _row(name: str, xs: list[float], parcels: int) -> str:
    lo, med = min(xs), statistics.median(xs)
    return f"  {name:<14}{lo:8.3f} s {med:8.3f} s   {parcels / lo:>12,.0f}"


def format_county(t: Timings) -> str:
    """The lines the command prints."""
    n = t.parcels
    lines = [
        f"benchmark: {t.label}, {n:,} parcels, {len(t.build)} repetitions (interleaved)",
        f"  {'':<14}{'min':>10} {'median':>10}   {'parcels/s (min)':>16}",
        _row("build", t.build, n),
        _row("run", t.run, n),
        *([_row("floor", t.floor, n)] if t.floor else []),
        _row("kpis+coverage", t.kpis, n),
        _row("pipeline", t.total, n),
    ]
    if t.floor:
        lines.append(
            f"  run / floor   {min(t.run) / min(t.floor):8.2f} x (min) "
            f"{statistics.median(t.run) / statistics.median(t.floor):6.2f} x (median): sim.run "
            "over a fully vectorised pass of the same parcels without capacities "
            "(benchmarks/floor.py)"
        )
    if t.reference:
        m = t.reference_parcels
        # Per parcel, so that a shorter reference run compares fairly in throughput.
        ratio_min = (min(t.reference) / m) / (min(t.total) / n)
        ratio_med = (statistics.median(t.reference) / m) / (statistics.median(t.total) / n)
        lines += [
            _row("reference", t.reference, m),
            f"  speed ratio   {ratio_min:8.1f} x (min) {ratio_med:6.1f} x (median): the "
            f"reference's time per parcel ({m:,} parcels) over the pipeline's",
        ]
    lines.append(f"  peak memory   {t.peak_rss_mib:8.1f} MiB (process RSS, all repetitions)")
    return "\n".join(lines)
