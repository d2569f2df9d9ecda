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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.engine import Results
from sim.errors import UsageError
from sim.measure import drain_days, window_days
from sim.outdir import RUN_MARKER, prepare_run_out, replace_folder, temp_sibling, write_run_marker
from sim.scenario import Scenario

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


def write_run(
    out: str | Path,
    results: Results,
    tables: RunTables,
    *,
    wall_time_s: float,
    figures: bool = True,
) -> Path:
    """Write the run folder for ``results`` to ``out`` (atomically replacing an earlier run).

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
    shown = str(out)
    path = prepare_run_out(out)
    tmp = temp_sibling(path, "tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
    except OSError as exc:
        raise UsageError(
            f"--out {shown}: could not create {tmp} ({exc.strerror or exc}); no earlier run "
            "was touched"
        ) from None
    try:
        _write_tables(tmp, results, tables, wall_time_s)
        if figures:
            from sim.viz import save_run_figures

            save_run_figures(results, tables.coverage, tmp / "figures")
        write_run_marker(tmp)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UsageError(
            f"--out {shown}: could not write the run folder ({exc.strerror or exc}); no earlier "
            "run was touched"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_folder(tmp, path, shown=shown)
    return Path(out)


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


def exact_csv(table: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV whose numbers read back exactly.

    Whole numbers (counts) are written as integers, other floats with the shortest digits
    that round-trip (Python's ``repr``), NaN as an empty field.
    """
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = [_exact(x) for x in out[col].to_numpy()]
    out.to_csv(path, index=False)


def _exact(x: float) -> str:
    if math.isnan(x):
        return ""
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return repr(float(x))


def manifest(results: Results, wall_time_s: float) -> dict[str, Any]:
    """The manifest of a run: what ran, from which sources, with which code."""
    from sim import __version__

    w = results.world
    sc = w.scenario
    return {
        "scenario": sc.name,
        "scenario_hash": scenario_hash(sc),
        "seed": sc.seed,
        "replications": results.replications,
        "horizon_days": sc.horizon_days,
        "warmup_days": sc.warmup_days,
        "window_days": window_days(sc),
        "max_drain_days": drain_days(sc),
        "run_end_min": [
            {"replication": r, "county_code": code, "end_min": end}
            for (r, code), end in sorted(results.ends.items())
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
        "build_warnings": list(w.warnings),
        "parcels": len(results.parcels),
        "vehicle_legs": len(results.trips),
        "wall_time_s": round(wall_time_s, 3),
    }


def _write_tables(folder: Path, results: Results, tables: RunTables, wall: float) -> None:
    sc = results.world.scenario
    resolved = yaml.safe_dump(
        sc.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
    )
    (folder / "scenario.resolved.yaml").write_text(resolved, encoding="utf-8")
    (folder / "manifest.json").write_text(
        json.dumps(manifest(results, wall), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    exact_csv(tables.kpis, folder / "kpis.csv")
    exact_csv(tables.summary, folder / "kpis_summary.csv")
    results.parcels.to_parquet(folder / "parcels.parquet", index=False)
    results.trips.to_parquet(folder / "trips.parquet", index=False)
    exact_csv(tables.coverage, folder / "coverage.csv")
    facilities_table(results.world).to_csv(
        folder / "facilities.csv", index=False, float_format="%.7g"
    )
