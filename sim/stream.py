"""Running a region county by county: build, simulate, measure, write, drop.

Counties do not interact, so a region's run is one task per county: build the county, simulate
each replication, compute its KPI rows, its part of the province aggregate
(:class:`sim.kpi.tables.Parts`, a few bytes per parcel) and its coverage rows, and hand its
parcels back as a lean Arrow table (:mod:`sim.parcelfile`). The parent writes each county's
parcels to ``parcels.parquet`` as row groups, in county order, keeps the small parts and drops
the rest, so memory is bounded by the largest county (times the workers), not the region.

Tasks run in this process, on local worker processes (``workers``) or on a Dask cluster
(``scheduler``); the results are the same whichever runs them, and the same as the in-memory
``sim.run`` + ``sim.compute_kpis`` + ``sim.coverage_table`` of the same scenario.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import pandas as pd

from sim.build import build_county, check_region
from sim.engine import Categories, simulate_block
from sim.kpi import Parts, county_coverage, kpi_table
from sim.kpi.coverage import COVERAGE_COLUMNS
from sim.kpi.survival import Tally
from sim.kpi.tables import county_block_coverage
from sim.measure import simulated_days
from sim.notes import region_notes
from sim.parcelfile import ParcelsChoice, lean_parcels, lean_trips, parcel_schema
from sim.world import County, World

if TYPE_CHECKING:
    import pyarrow as pa

    from sim.scenario import Scenario

#: Regions of more counties than this drop the road graphs once a county is done (the maps
#: draw roads only for small regions).
KEEP_GRAPHS_MAX = 12

#: Rows per row group of ``parcels.parquet`` (and per slice a worker's spool file is read in).
BATCH_ROWS = 1 << 20


@dataclass(frozen=True)
class CountyBlock:
    """One replication of one county, as the parent keeps it."""

    replication: int
    end: float
    rows: pd.DataFrame
    parts: Parts
    parcels: pa.Table | Path | None
    n_parcels: int
    trips: pa.Table

    def parcel_batches(self) -> Iterator[pa.Table]:
        """Its parcels to write, in slices of at most :data:`BATCH_ROWS` rows; a spooled file
        (:func:`spool_table`) is read one slice at a time and removed once read."""
        if isinstance(self.parcels, Path):
            yield from read_spool(self.parcels)
        elif self.parcels is not None and self.parcels.num_rows:
            yield from (self.parcels.slice(i, BATCH_ROWS) for i in _starts(self.parcels))


@dataclass(frozen=True)
class CountyOutcome:
    """What the task of one county returns.

    Attributes
    ----------
    index
        The county's position in the region.
    county
        The built county, without its travel-time matrices (and without its road graph in
        regions of more than :data:`KEEP_GRAPHS_MAX` counties).
    blocks
        One per replication.
    coverage
        Its coverage rows, replications pooled.
    """

    index: int
    county: County
    blocks: list[CountyBlock]
    coverage: pd.DataFrame


@dataclass
class StreamedRun:
    """The outcome of a streamed region run (the tables the run folder needs).

    ``parcels_written``: rows of ``parcels.parquet``; ``parcels``: parcels simulated;
    ``lead``: per (replication, county), the tally of the lead hours of the window's inbound
    parcels (:class:`sim.kpi.survival.Tally`).
    """

    world: World
    kpis: pd.DataFrame
    coverage: pd.DataFrame
    ends: dict[tuple[int, str], float]
    parcels: int = 0
    parcels_written: int = 0
    vehicle_legs: int = 0
    lead: list[Tally] = field(default_factory=list)


def county_outcome(
    scenario: Scenario,
    code: str,
    index: int,
    *,
    parcels: ParcelsChoice,
    keep_graph: bool,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    spool: Path | None = None,
) -> CountyOutcome:
    """Build, simulate and measure one county for every replication (one task).

    ``parcels`` is ``all``, ``sample`` or ``none`` (see :mod:`sim.parcelfile`); ``sample``
    keeps the rows whose position in their block (inbound, then outbound) is a multiple of
    :data:`sim.parcelfile.SAMPLE_EVERY`. With ``spool`` (a folder this process and the
    caller's share), each block's parcels go to a file there rather than back with the
    outcome, so a worker process does not send them through a pipe and the caller reads
    them a slice at a time.
    """
    from sim.parcelfile import SAMPLE_EVERY

    county = build_county(scenario, code, cache_dir=cache_dir)
    cats = Categories.of(World(scenario=scenario, counties=(county,)))
    schema = parcel_schema(scenario)
    blocks, inbound, trips = [], [], []
    for r in range(scenario.replications):
        b = simulate_block(county, r, cats, 0, progress)
        # The engine's arrays (about 110 bytes per parcel) sit in reference cycles of its
        # SimPy processes until a collection: free them before the KPIs need the memory.
        gc.collect()
        inb, outb = b.parcels
        if len(outb):
            outb["parcel_id"] += len(inb)
            table = pd.concat(b.parcels, ignore_index=True)
        else:
            table = inb
        one = scenario.replications == 1
        rows, parts, cov = county_block_coverage(
            county, table, b.trips, b.skipped, b.end, coverage=one
        )
        kept = None
        if parcels == "all":
            kept = lean_parcels(table, schema)
        elif parcels == "sample":
            kept = lean_parcels(table.iloc[::SAMPLE_EVERY], schema)
        del table, outb
        if kept is not None and spool is not None:
            kept = spool_table(kept, spool / f"county{index}_rep{r}.arrows")
        if not one:  # coverage pools the replications
            inbound.append(inb)
            trips.append(b.trips)
        blocks.append(
            CountyBlock(
                r,
                b.end,
                rows,
                parts,
                kept,
                len(inb) + len(b.parcels[1]),
                lean_trips(b.trips),
            )
        )
        del b
    if cov is None:
        ends = {b.replication: b.end for b in blocks}
        inb_all = pd.concat(inbound, ignore_index=True)
        trips_all = pd.concat(trips, ignore_index=True)
        cov = county_coverage(county, inb_all, trips_all, ends)
    light = dataclasses.replace(
        county, time_min={}, km={}, graph=county.graph if keep_graph else nx.MultiDiGraph()
    )
    del inbound, trips
    release_memory()
    return CountyOutcome(index=index, county=light, blocks=blocks, coverage=cov)


def release_memory() -> None:
    """Give memory freed by a finished county back to the system, so that a worker process
    holding a large county's pages does not count against the next one: a garbage
    collection, Arrow's unused pool memory, and the C heap's free pages (glibc)."""
    import ctypes
    import ctypes.util
    import sys

    gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def run_region(
    scenario: Scenario,
    *,
    parcels: ParcelsChoice = "all",
    write_parcels: Callable[[pa.Table], None] | None = None,
    write_trips: Callable[[pa.Table], None] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    codes: list[str] | None = None,
    spool: Path | None = None,
    max_memory: float | None = None,
) -> StreamedRun:
    """Run a scenario's region county by county and return its KPI and coverage tables.

    Parameters
    ----------
    scenario
        A validated scenario.
    parcels
        Which parcels to hand to ``write_parcels``: ``all``, ``sample`` or ``none``.
    write_parcels, write_trips
        Called with each county's lean parcel and trip tables (one per replication), in
        county order, ``parcel_id`` numbered across the region per replication.
    workers
        Local worker processes (1: this process).
    scheduler
        Address of a Dask scheduler (``tcp://HOST:PORT``); overrides ``workers``.
    cache_dir
        Cache of OpenStreetMap data.
    progress
        Called with a number of simulated (county) days as they complete.
    codes
        The region's county codes, when the caller already has them from
        :func:`sim.build.check_region` (which checks the scenario against the geodata).
    spool
        A folder local worker processes write each county's parcels to (read back a slice at
        a time and removed), rather than sending them through a pipe; None sends them.
    max_memory
        Bytes the run may use, this process included: local workers start a county only
        while the estimated peaks of the counties running (:func:`county_costs`) fit in what
        this process leaves; a county larger than that runs alone. None: no limit.

    Returns
    -------
    StreamedRun
        KPIs (as :func:`sim.compute_kpis`), coverage (as :func:`sim.coverage_table`), run
        ends, counts, and the lead hours of the window's inbound parcels for the lead-time
        chart.
    """
    codes = check_region(scenario) if codes is None else codes
    keep_graph = len(codes) <= KEEP_GRAPHS_MAX
    days = simulated_days(scenario) * scenario.replications
    acc = _Gathered(scenario)
    kw: dict[str, Any] = {"parcels": parcels, "keep_graph": keep_graph, "cache_dir": cache_dir}
    budget = math.inf
    if max_memory is not None:
        from sim.budget import rss_bytes

        budget = max_memory - rss_bytes()
    for oc, reported in _outcomes(scenario, codes, kw, workers, scheduler, progress, spool, budget):
        if progress is not None and not reported:
            progress(days)
        acc.take(oc, write_parcels, write_trips)
    out = acc.out
    notes = region_notes(scenario)
    out.world = World(scenario=scenario, counties=tuple(acc.counties), notes=tuple(notes))
    out.kpis = kpi_table(acc.rows, acc.parts, [c.name for c in scenario.carriers])
    out.coverage = (
        pd.concat(acc.cover, ignore_index=True)
        if acc.cover
        else pd.DataFrame(columns=COVERAGE_COLUMNS)
    )
    out.lead = [p.lead for r in sorted(acc.parts) for p in acc.parts[r]]
    return out


class _Gathered:
    """What the parent keeps of the county outcomes as they arrive (see :func:`run_region`)."""

    def __init__(self, scenario: Scenario) -> None:
        self.first_id = dict.fromkeys(range(scenario.replications), 0)
        self.counties: list[County] = []
        self.rows: list[pd.DataFrame] = []
        self.parts: dict[int, list[Parts]] = {}
        self.cover: list[pd.DataFrame] = []
        self.out = StreamedRun(
            world=World(scenario, ()), kpis=pd.DataFrame(), coverage=pd.DataFrame(), ends={}
        )

    def take(
        self,
        oc: CountyOutcome,
        write_parcels: Callable[[pa.Table], None] | None,
        write_trips: Callable[[pa.Table], None] | None,
    ) -> None:
        """Keep one county's small tables and parts; write its parcels and trips."""
        out = self.out
        self.counties.append(oc.county)
        self.cover.append(oc.coverage)
        for b in oc.blocks:
            out.ends[(b.replication, oc.county.county_code)] = b.end
            self.rows.append(b.rows.assign(replication=b.replication))
            self.parts.setdefault(b.replication, []).append(b.parts)
            for batch in b.parcel_batches():
                if write_parcels is not None:
                    write_parcels(_renumber(batch, self.first_id[b.replication]))
                    out.parcels_written += batch.num_rows
            self.first_id[b.replication] += b.n_parcels
            out.parcels += b.n_parcels
            out.vehicle_legs += b.trips.num_rows
            if write_trips is not None:
                write_trips(b.trips)


def spool_table(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` as an Arrow stream of :data:`BATCH_ROWS`-row batches."""
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=BATCH_ROWS)
    return path


def read_spool(path: Path) -> Iterator[pa.Table]:
    """The batches of a :func:`spool_table` file, one table each; the file is removed after."""
    import pyarrow as pa

    try:
        with pa.OSFile(str(path), "rb") as source, pa.ipc.open_stream(source) as reader:
            for batch in reader:
                yield pa.Table.from_batches([batch])
    finally:
        path.unlink(missing_ok=True)


def _starts(table: pa.Table) -> range:
    return range(0, table.num_rows, BATCH_ROWS)


def _renumber(table: pa.Table, first: int) -> pa.Table:
    """Shift a block's ``parcel_id`` by the parcels of the counties before it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if first == 0:
        return table
    if first + table.num_rows >= 2**31:
        raise OverflowError("more than 2**31 parcels in one replication")
    i = table.schema.get_field_index("parcel_id")
    ids = pc.add(table.column(i), pa.scalar(first, pa.int32()))
    return table.set_column(i, table.schema.field(i), ids)


def _outcomes(
    scenario: Scenario,
    codes: list[str],
    kw: dict[str, Any],
    workers: int,
    scheduler: str | None,
    progress: Callable[[int], None] | None,
    spool: Path | None,
    budget: float = math.inf,
) -> Iterator[tuple[CountyOutcome, bool]]:
    """Every county's outcome, in county order, from the chosen executor, and whether its
    simulated days were already passed to ``progress`` (only in this process). Only local
    worker processes spool their parcels (a Dask worker may be on another machine)."""
    if scheduler:
        for oc in _ordered_dask(scenario, codes, kw, scheduler, workers):
            yield oc, False
    elif workers > 1 and len(codes) > 1:
        if spool is not None:
            spool.mkdir(parents=True, exist_ok=True)
        for oc in _ordered_pool(scenario, codes, {**kw, "spool": spool}, workers, budget):
            yield oc, False
    else:
        for i, code in enumerate(codes):
            yield county_outcome(scenario, code, i, progress=progress, **kw), True


def _in_order(
    submit: Callable[[int], Any],
    n: int,
    window: int,
    *,
    cost: Sequence[float] = (),
    budget: float = math.inf,
    wait_any: Callable[[list[Any]], object] | None = None,
) -> Iterator[CountyOutcome]:
    """The results of ``submit(i)`` (a future) for ``i`` in ``0 .. n-1``, in that order.

    At most ``window`` are submitted ahead of the next one to yield, so the outcomes waiting
    for an earlier county stay few; and with a ``budget``, ``i`` is submitted only while the
    ``cost`` (estimated peak memory) of the unfinished ones plus its own fits in it, or when
    nothing else is unfinished (``wait_any(futures)`` blocks until one of them is done).
    """
    cost = cost or [0.0] * n
    pending: dict[int, Any] = {}
    nxt = 0
    for i in range(n):
        while pending:
            busy = [j for j in pending if not pending[j].done()]
            load = sum(cost[j] for j in busy) + cost[i]
            if len(pending) < window and (not busy or load <= budget):
                break
            if len(pending) >= window or pending[nxt].done() or wait_any is None:
                yield pending.pop(nxt).result()
                nxt += 1
            else:
                wait_any([pending[j] for j in busy])
        pending[i] = submit(i)
    while pending:
        yield pending.pop(nxt).result()
        nxt += 1


def county_costs(scenario: Scenario, codes: list[str]) -> list[float]:
    """Estimated peak memory (bytes) of each county's task: its parcels over every replication
    (:func:`sim.budget.estimate_run`) at :data:`sim.budget.BYTES_PER_PARCEL`."""
    from sim.budget import estimate_run
    from sim.region import region_villages

    return [estimate_run(scenario, region_villages([c])).memory_bytes for c in codes]


def _ordered_pool(
    scenario: Scenario, codes: list[str], kw: dict[str, Any], workers: int, budget: float
) -> Iterator[CountyOutcome]:
    """Outcomes from local worker processes, in county order (a window of 2 x workers), the
    counties running at once within ``budget`` bytes (estimated)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from sim._executors import pool, stop

    executor = pool(min(workers, os.cpu_count() or workers, len(codes)))
    try:
        yield from _in_order(
            lambda i: executor.submit(county_outcome, scenario, codes[i], i, **kw),
            len(codes),
            2 * workers,
            cost=county_costs(scenario, codes) if math.isfinite(budget) else (),
            budget=budget,
            wait_any=functools.partial(wait, return_when=FIRST_COMPLETED),
        )
    except BaseException:
        stop(executor)
        raise
    executor.shutdown()


def _ordered_dask(
    scenario: Scenario, codes: list[str], kw: dict[str, Any], scheduler: str, workers: int
) -> Iterator[CountyOutcome]:
    """Outcomes from a Dask cluster, in county order (a window of twice its workers)."""
    from sim._executors import connect

    client = connect(scheduler)
    try:
        window = max(2 * workers, 2 * len(client.scheduler_info().get("workers", {})), 2)
        yield from _in_order(
            lambda i: client.submit(county_outcome, scenario, codes[i], i, pure=False, **kw),
            len(codes),
            window,
        )
    finally:
        client.close()
