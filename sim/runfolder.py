"""Write a run folder: the self-describing contract with users, notebooks and tests.

Everything is first written into a hidden temporary folder beside the target, ending with a
marker that lists the files, and then moved into place, so a crash never leaves a half-written
table that looks complete, and a previous run in the same folder is replaced only once the new
one is whole. Which folders may be replaced, and how leftovers are tidied: :mod:`sim.outdir`.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from sim.build import check_region
from sim.engine import Results
from sim.errors import UsageError
from sim.measure import drain_days, window_days
from sim.outdir import RUN_MARKER, prepare_run_out, replace_folder, temp_sibling, write_run_marker
from sim.scenario import Scenario
from sim.world import World

if TYPE_CHECKING:
    from sim.parcelfile import ParcelsChoice
    from sim.stream import StreamedRun

#: Files of a run folder, in the order they are written.
RUN_FILES = (
    "scenario.resolved.yaml",
    "manifest.json",
    "kpis.csv",
    "kpis_summary.csv",
    "parcels.parquet",
    "trips.parquet",
    "coverage.csv",
    "facilities.csv",
    RUN_MARKER,  # last: lists the files above (and figures/) with their sizes
)


@dataclass(frozen=True)
class RunTables:
    """The tables a run folder holds, computed from a run's results."""

    kpis: pd.DataFrame
    summary: pd.DataFrame
    coverage: pd.DataFrame


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario (canonical JSON), identifying it in manifests."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def git_describe() -> str | None:
    """``git describe`` of the source tree the package runs from, if it is a git checkout."""
    here = Path(__file__).resolve().parent
    if not (here.parent / ".git").exists():  # an installed package, not a checkout
        return None
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def check_out_dir(out: str | Path) -> Path:
    """Check that ``out`` can receive a run folder, before anything is built; return it.

    Tidies what an interrupted run left beside it, then refuses (``UsageError``) unless ``out``
    is new, empty, or a complete earlier run (see :mod:`sim.outdir`). Creates nothing.
    """
    return prepare_run_out(out)


class RunFolder:
    """A run folder being written: files go to a hidden temporary sibling of ``out``, which
    :meth:`finish` moves into place once complete; leaving the ``with`` block by an error
    removes it, so an earlier run in ``out`` is never touched.

    Raises
    ------
    UsageError
        When ``out`` cannot receive a run (:mod:`sim.outdir`) or a file cannot be written.
    """

    def __init__(self, out: str | Path) -> None:
        self.shown = str(out)
        self.path = prepare_run_out(out)
        self.tmp = temp_sibling(self.path, "tmp")

    def __enter__(self) -> RunFolder:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
        except OSError as exc:
            raise UsageError(
                f"--out {self.shown}: could not create {self.tmp} ({exc.strerror or exc}); no "
                "earlier run was touched"
            ) from None
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb) -> None:
        if kind is None:
            return
        shutil.rmtree(self.tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise UsageError(
                f"--out {self.shown}: could not write the run folder ({exc.strerror or exc}); "
                "no earlier run was touched"
            ) from None

    def finish(self) -> Path:
        """Write the marker and move the folder into place; return ``out``."""
        write_run_marker(self.tmp)
        replace_folder(self.tmp, self.path, shown=self.shown)
        return Path(self.shown)


def write_run(
    out: str | Path,
    results: Results,
    tables: RunTables,
    *,
    wall_time_s: float,
    figures: bool = True,
) -> Path:
    """Write the run folder for ``results`` to ``out`` (atomically replacing an earlier run).

    The files are those a streamed run (:func:`stream_run`) writes for the same scenario.

    Parameters
    ----------
    out
        Target folder: new, empty, or a complete earlier run (see :mod:`sim.outdir`).
    results
        The run's results.
    tables
        KPIs, their summary and the coverage table.
    wall_time_s
        Seconds the build and run took, recorded in the manifest.
    figures
        Also draw the figures under ``figures/``.

    Returns
    -------
    pathlib.Path
        The run folder.
    """
    from sim.parcelfile import TableWriter, lean_parcels, lean_trips, parcel_schema, trip_schema

    w = results.world
    with RunFolder(out) as f:
        parcels = TableWriter(f.tmp / "parcels.parquet", parcel_schema(w.scenario))
        trips = TableWriter(f.tmp / "trips.parquet", trip_schema())
        p_by = results.parcels.groupby(["county_code", "replication"], observed=True).indices
        t_by = results.trips.groupby(["county_code", "replication"]).indices
        for c in w.counties:
            for r in range(results.replications):
                rows = p_by.get((c.county_code, r))
                if rows is not None:
                    parcels.write(lean_parcels(results.parcels.iloc[rows], parcels.schema))
                rows = t_by.get((c.county_code, r))
                if rows is not None:
                    trips.write(lean_trips(results.trips.iloc[rows]))
        parcels.close()
        trips.close()
        meta = manifest(
            w,
            replications=results.replications,
            ends=results.ends,
            parcels=len(results.parcels),
            vehicle_legs=len(results.trips),
            parcels_written="all",
            wall_time_s=wall_time_s,
        )
        _write_tables(f.tmp, w, tables, meta)
        if figures:
            from sim.viz import save_run_figures

            save_run_figures(results, tables.coverage, f.tmp / "figures")
        return f.finish()


def stream_run(
    out: str | Path,
    scenario: Scenario,
    *,
    parcels: ParcelsChoice = "auto",
    workers: int = 1,
    scheduler: str | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    figures: bool = True,
    started: float | None = None,
    max_memory: float | None = None,
) -> tuple[StreamedRun, RunTables]:
    """Run a scenario county by county straight into the run folder ``out``.

    Each county's parcels are appended to ``parcels.parquet`` as they come
    (:mod:`sim.stream`), so memory is bounded by the largest county. ``parcels`` chooses
    which are written (:mod:`sim.parcelfile`); ``started`` is the ``time.perf_counter()``
    the manifest's wall time counts from (default: now); ``max_memory`` (bytes) holds local
    workers back so that the counties running at once fit in it
    (:func:`sim.stream.run_region`).

    Returns
    -------
    (StreamedRun, RunTables)
        The run (world, counts, ends) and its KPI, summary and coverage tables.
    """
    from sim.budget import estimate_run
    from sim.kpi import summarize
    from sim.parcelfile import TableWriter, parcel_schema, resolve_choice, trip_schema
    from sim.region import region_villages
    from sim.stream import run_region

    started = time.perf_counter() if started is None else started
    with RunFolder(out) as f:
        codes = check_region(scenario)
        choice = resolve_choice(parcels, estimate_run(scenario, region_villages(codes)).parcels)
        p_file = None
        if choice != "none":
            p_file = TableWriter(f.tmp / "parcels.parquet", parcel_schema(scenario))
        t_file = TableWriter(f.tmp / "trips.parquet", trip_schema())
        run = run_region(
            scenario,
            parcels=choice,
            write_parcels=p_file.write if p_file is not None else None,
            write_trips=t_file.write,
            workers=workers,
            scheduler=scheduler,
            cache_dir=cache_dir,
            progress=progress,
            codes=codes,
            spool=f.tmp / "spool",
            max_memory=max_memory,
        )
        shutil.rmtree(f.tmp / "spool", ignore_errors=True)
        if p_file is not None:
            p_file.close()
        t_file.close()
        tables = RunTables(kpis=run.kpis, summary=summarize(run.kpis), coverage=run.coverage)
        meta = manifest(
            run.world,
            replications=scenario.replications,
            ends=run.ends,
            parcels=run.parcels,
            vehicle_legs=run.vehicle_legs,
            parcels_written=_written(choice, run),
            wall_time_s=time.perf_counter() - started,
        )
        _write_tables(f.tmp, run.world, tables, meta)
        if figures:
            from sim.viz import save_run_figures

            save_run_figures(run.world, tables.coverage, f.tmp / "figures", lead_h=run.lead)
        f.finish()
    return run, tables


def _written(choice: str, run: StreamedRun) -> str:
    from sim.parcelfile import SAMPLE_EVERY

    if choice == "sample":
        return (
            f"sample: the parcels whose position in their (county, replication) block is a "
            f"multiple of {SAMPLE_EVERY} ({run.parcels_written:,} of {run.parcels:,})"
        )
    return choice


def facilities_table(world) -> pd.DataFrame:
    """Every facility of the run with its position and where that position came from.

    Columns: county_code, level, code, name, lon, lat, source (real | derived | osm |
    synthetic), snap_m, connector, connector_reason.
    """
    frames = []
    for c in world.counties:
        pts = c.points
        frames.append(
            pd.DataFrame(
                {
                    "county_code": c.county_code,
                    "level": c.levels,
                    "code": [c.county_code, *pts["code"].iloc[1:]],
                    "name": c.names,
                    "lon": pts["lon"].to_numpy(),
                    "lat": pts["lat"].to_numpy(),
                    "source": pts["source"].to_numpy(),
                    "snap_m": pts["snap_m"].to_numpy(),
                    "connector": pts["connector"].to_numpy(),
                    "connector_reason": pts["connector_reason"].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


#: Encoding of the run folder's CSV files: UTF-8 with a byte-order mark, which Excel needs to
#: read Chinese names as UTF-8 (``pandas.read_csv`` and ``encoding="utf-8-sig"`` read it).
CSV_ENCODING = "utf-8-sig"


def exact_csv(table: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV whose numbers read back exactly.

    Whole numbers (counts) are written as integers, other floats with the shortest digits
    that round-trip (Python's ``repr``), NaN as an empty field; UTF-8 with a byte-order mark
    (:data:`CSV_ENCODING`), so that Excel shows Chinese names (pandas reads it as it is).
    """
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = [_exact(x) for x in out[col].to_numpy()]
    out.to_csv(path, index=False, encoding=CSV_ENCODING)


def _exact(x: float) -> str:
    if math.isnan(x):
        return ""
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return repr(float(x))


def manifest(
    world: World,
    *,
    replications: int,
    ends: dict[tuple[int, str], float],
    parcels: int,
    vehicle_legs: int,
    parcels_written: str,
    wall_time_s: float,
) -> dict[str, Any]:
    """The manifest of a run: what ran, from which sources, with which code."""
    from sim import __version__

    w = world
    sc = w.scenario
    return {
        "scenario": sc.name,
        "scenario_hash": scenario_hash(sc),
        "seed": sc.seed,
        "replications": replications,
        "horizon_days": sc.horizon_days,
        "warmup_days": sc.warmup_days,
        "window_days": window_days(sc),
        "max_drain_days": drain_days(sc),
        "run_end_min": [
            {"replication": r, "county_code": code, "end_min": end}
            for (r, code), end in sorted(ends.items())
        ],
        "region": w.label,
        "ruralsim_version": __version__,
        "git_describe": git_describe(),
        "geodata_sources": w.source_summary(),
        "synthetic_layers": w.synthetic_layers(),
        "counties": [
            {
                "code": c.county_code,
                "name": c.county_name,
                "terrain": c.terrain,
                "sources": c.sources,
                "data_quality": c.quality,
            }
            for c in w.counties
        ],
        "route_planner": route_planner(sc),
        "build_warnings": list(w.warnings),
        "parcels": parcels,
        "parcels_written": parcels_written,
        "vehicle_legs": vehicle_legs,
        "wall_time_s": round(wall_time_s, 3),
    }


def route_planner(scenario: Scenario) -> dict[str, Any]:
    """Which planner made the village loops (``planning``), for the manifest."""
    p = scenario.planning
    days = {"routes": p.routes, "visit_days": p.visit_days}
    if p.method == "heuristic":
        loops = "multi-start sweep, loops exchanged and reordered"
        return {"method": "heuristic", "loops": loops, **days}
    from importlib.metadata import version

    return {
        "method": "optimise",
        "solver": f"PyVRP {version('pyvrp')}",
        "iterations": p.iterations,
        "seed": p.seed,
        **days,
        "fallback": "the heuristic's loops where the solver found none (see build_warnings)",
    }


def _write_tables(folder: Path, world: World, tables: RunTables, meta: dict[str, Any]) -> None:
    """Every file of the run folder but the parcel and trip tables and the figures."""
    sc = world.scenario
    resolved = yaml.safe_dump(
        sc.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
    )
    (folder / "scenario.resolved.yaml").write_text(resolved, encoding="utf-8")
    (folder / "manifest.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    exact_csv(tables.kpis, folder / "kpis.csv")
    exact_csv(tables.summary, folder / "kpis_summary.csv")
    exact_csv(tables.coverage, folder / "coverage.csv")
    facilities_table(world).to_csv(
        folder / "facilities.csv", index=False, float_format="%.7g", encoding=CSV_ENCODING
    )
