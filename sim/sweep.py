"""Parameter sweeps: ``ruralsim sweep FILE --out DIR``.

A sweep file names a base scenario, factors (any scenario field by its dotted path), a design
(full grid, or a Latin hypercube over ranges) and replications. Each (variant, replication) is
one run, keyed by a hash of the resolved scenario, the replication, the source code of ``sim``
and the geodata it is built from; its KPIs are written to ``DIR/runs/<key>.parquet`` as soon
as it finishes, so a killed sweep rerun with the same ``--out`` skips what is done (and only
that: a run whose code, geodata or scenario changed is run again; ``DIR/runs.csv`` says which
were reused). The folder must be new, empty or an earlier sweep (its first file is
``.ruralsim-sweep.json``; see :mod:`sim.outdir`). Replication r of every variant uses the same
random numbers (common random numbers), and results do not depend on the backend or the
number of workers. A failed run is recorded in ``DIR/runs/<key>.error.txt`` and does not stop
the sweep. A variant's world is built once for all its replications, and only the KPI scopes
the sweep keeps are computed (:mod:`sim._sweep_runs`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sim import _executors
from sim._sweep_file import Factor, SweepFile
from sim._sweep_file import base_path as base_path
from sim._sweep_file import load_sweep as load_sweep
from sim._sweep_file import resolve as resolve
from sim._sweep_file import set_path as set_path
from sim._sweep_runs import KEPT_SCOPES as KEPT_SCOPES  # re-exported
from sim._sweep_runs import variant_runs
from sim._sweepdir import prepare_sweep_out, start_sweep_folder
from sim.kpi import summarize


def variants(sweep: SweepFile) -> list[dict[str, Any]]:
    """The design: one dict of factor values per variant."""
    if sweep.design == "grid":
        names = [f.path for f in sweep.factors]
        grids = [f.values or [] for f in sweep.factors]
        return [dict(zip(names, combo)) for combo in itertools.product(*grids)]
    points = sample_points(sweep)
    out = []
    for row in points:
        out.append(
            {
                f.path: (round(float(x)) if f.integer else float(x))
                for f, x in zip(sweep.factors, row)
            }
        )
    return out


def _problem(sweep: SweepFile) -> dict[str, Any]:
    return {
        "num_vars": len(sweep.factors),
        "names": [f.path for f in sweep.factors],
        "bounds": [[f.low, f.high] for f in sweep.factors],
    }


def sample_points(sweep: SweepFile) -> np.ndarray:
    """Factor values of a sampled design, one row per variant (before integer rounding)."""
    d = len(sweep.factors)
    if sweep.design == "sobol":
        from SALib.sample import sobol as sobol_sample

        return np.asarray(
            sobol_sample.sample(
                _problem(sweep), sweep.samples, calc_second_order=False, seed=sweep.seed
            )
        )
    if sweep.design == "morris":
        from SALib.sample import morris as morris_sample

        return np.asarray(
            morris_sample.sample(_problem(sweep), sweep.samples, num_levels=4, seed=sweep.seed)
        )
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=d, seed=sweep.seed).random(sweep.samples)
    low = np.array([float(f.low or 0.0) for f in sweep.factors])
    high = np.array([float(f.high or 0.0) for f in sweep.factors])
    return low + unit * (high - low)


def sensitivity(sweep: SweepFile, results: pd.DataFrame) -> pd.DataFrame:
    """Sobol or Morris indices of each output KPI (province scope, mean over replications)."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    prov = results[results["scope"] == "province"]
    rows = []
    x = sample_points(sweep)
    for kpi in sweep.outputs:
        y = prov[prov["kpi"] == kpi].groupby("variant")["value"].mean()
        if len(y) != len(x) or not np.isfinite(y.to_numpy()).all():
            continue  # some runs failed or the KPI is undefined: no indices
        if sweep.design == "sobol":
            si = sobol_analyze.analyze(
                _problem(sweep), y.to_numpy(), calc_second_order=False, seed=sweep.seed
            )
            cols: tuple[str, ...] = ("S1", "S1_conf", "ST", "ST_conf")
        else:
            si = morris_analyze.analyze(
                _problem(sweep), x, y.to_numpy(), num_levels=4, seed=sweep.seed
            )
            cols = ("mu_star", "mu_star_conf", "sigma")
        for i, f in enumerate(sweep.factors):
            rows.append({"kpi": kpi, "factor": f.path, **{c: float(si[c][i]) for c in cols}})
    return pd.DataFrame(rows)


def run_key(scenario: dict[str, Any], replication: int, *, geodata: str | None = None) -> str:
    """Key of one run: hash of the resolved scenario, the replication, the code and the geodata.

    The code is every source file of the ``sim`` package and the geodata is
    :func:`sim._fingerprint.geodata_hash` (computed here unless given), so a result is reused
    only if it would be computed the same way again.
    """
    from sim import __version__
    from sim._fingerprint import code_hash, geodata_hash

    geo = geodata_hash(scenario) if geodata is None else geodata
    text = json.dumps(
        [scenario, replication, __version__, code_hash(), geo], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _one(scenario: dict[str, Any], replication: int) -> pd.DataFrame:
    """Build and run one replication of a resolved scenario; its KPIs (kept scopes)."""
    ((_, result),) = variant_runs(scenario, [replication], errors=())
    assert isinstance(result, pd.DataFrame)  # errors=(): an error propagates
    return result


def group_tasks(pending: list[tuple[int, int, str, dict[str, Any]]]) -> list[_executors.Task]:
    """The pending runs grouped by variant (in variant order): each variant's world is built
    once for all its runs."""
    by_variant: dict[int, _executors.Task] = {}
    for i, r, key, sc in pending:
        by_variant.setdefault(i, (sc, []))[1].append((r, key))
    return [by_variant[i] for i in sorted(by_variant)]


def _write(path: Path, write: Callable[[Path], object]) -> None:
    from sim._files import write_atomic

    write_atomic(path, write)


def count_runs(sweep: SweepFile, base: dict[str, Any]) -> tuple[int, int]:
    """Numbers of variants and of runs of a sweep (without resolving the variants)."""
    n = len(variants(sweep))
    return n, n * int(sweep.replications or base.get("replications", 1))


def plan_runs(scenarios: list[dict[str, Any]]) -> list[tuple[int, int, str, dict[str, Any]]]:
    """Every (variant, replication, key, scenario) of a sweep."""
    from sim._fingerprint import geodata_hash

    geo: dict[str, str] = {}  # one geodata hash per distinct region
    todo = []
    for i, sc in enumerate(scenarios):
        region = json.dumps(sc["region"], sort_keys=True)
        if region not in geo:
            geo[region] = geodata_hash(sc)
        for r in range(sc["replications"]):
            todo.append((i, r, run_key(sc, r, geodata=geo[region]), sc))
    return todo


def run_sweep(
    path: str | Path,
    out: str | Path,
    *,
    backend: Literal["serial", "processes", "dask"] = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    status: Callable[[dict[str, int]], None] | None = None,
    note: Callable[[str], None] | None = None,
    overwrite: bool = False,
    planned: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Run (or resume) a sweep; return counts of runs done now, skipped and failed.

    ``out`` is new, empty, or the folder of an earlier sweep of the same file, which is
    resumed; the folder of another sweep file is replaced only with ``overwrite``.

    ``backend="dask"`` submits the runs to the Dask distributed scheduler at ``scheduler``
    (``tcp://host:8786``), whose workers need ruralsim installed. Writes
    ``runs/<key>.parquet`` per run, then ``results.parquet`` (variant, replication,
    factor values, scope, code, name, kpi, value), ``summary.csv`` (mean and 95% CI per
    variant), ``design.csv`` (the variants) and ``runs.csv`` (each run's key and whether it
    was reused from an earlier sweep, run now, redone or failed). ``note`` receives notices,
    e.g. that a truncated result is redone; ``planned`` receives the number of runs already
    done (reused), before the first run starts.

    Raises
    ------
    UsageError
        If ``out`` cannot hold the sweep, or a result cannot be written (a full disk): the
        sweep stops, leaving no partial file; rerun it with the same ``out`` to resume.
    """
    source = Path(path)
    shown = str(out)
    out = prepare_sweep_out(out, source=source, overwrite=overwrite)
    sweep, base = load_sweep(source)
    start_sweep_folder(out, shown=shown, sweep_file=source, replace=overwrite)
    runs_dir = out / "runs"
    design = variants(sweep)
    scenarios = [resolve(sweep, base, v, source) for v in design]
    todo = plan_runs(scenarios)
    status_of = reusable_runs(runs_dir, todo, note)
    pending = [t for t in todo if status_of[t[2]] != "reused"]
    counts = {"done": 0, "skipped": len(todo) - len(pending), "failed": 0}
    if planned is not None:
        planned(counts["skipped"])
    if progress is not None and counts["skipped"]:
        progress(counts["skipped"])

    fresh: dict[str, pd.DataFrame] = {}  # results of runs done now, not read back

    def finish(key: str, result: pd.DataFrame | BaseException) -> None:
        err = runs_dir / f"{key}.error.txt"
        if isinstance(result, BaseException):
            _write(err, lambda p: p.write_text(repr(result) + "\n", encoding="utf-8"))
            counts["failed"] += 1
            status_of[key] = "failed"
        else:
            _write(runs_dir / f"{key}.parquet", lambda p: result.to_parquet(p, index=False))
            err.unlink(missing_ok=True)
            fresh[key] = result
            counts["done"] += 1
        if progress is not None:
            progress(1)
        if status is not None:
            status(counts)

    _executors.execute(
        group_tasks(pending), finish, backend=backend, workers=workers, scheduler=scheduler
    )
    results = _collect(out, sweep, design, todo, fresh)
    if sweep.design in ("sobol", "morris") and results is not None:
        indices = sensitivity(sweep, results)
        _write(
            out / "sensitivity.csv", lambda p: indices.to_csv(p, index=False, float_format="%.6g")
        )
    _record(out, todo, status_of)
    return counts


def reusable_runs(runs_dir: Path, todo: list, note: Callable[[str], None] | None) -> dict[str, str]:
    """Status of each run before the sweep: reused (a complete result), redo or run."""
    from sim._files import parquet_ok

    status: dict[str, str] = {}
    for _, _, key, _ in todo:
        f = runs_dir / f"{key}.parquet"
        if not f.exists():
            status[key] = "run"
        elif parquet_ok(f):
            status[key] = "reused"
        else:
            f.unlink()
            status[key] = "redone"
            if note is not None:
                note(f"{f}: truncated or unreadable; redoing that run")
    return status


def _record(out: Path, todo: list, status_of: dict[str, str]) -> None:
    """Write ``runs.csv``: each run's key and whether it was reused, run, redone or failed."""
    table = pd.DataFrame(
        [
            {"variant": i, "replication": r, "run_key": key, "status": status_of[key]}
            for i, r, key, _ in todo
        ]
    )
    _write(out / "runs.csv", lambda p: table.to_csv(p, index=False))


def _label(factor: Factor, value: Any) -> Any:
    """A factor's value as the outputs show it: its label, if the factor has labels."""
    if factor.labels is None or factor.values is None:
        return value
    return factor.labels[factor.values.index(value)]


def _shown(sweep: SweepFile, design: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The variants as written to the outputs: a labelled factor's value by its label."""
    factors = {f.path: f for f in sweep.factors}
    return [{k: _label(factors[k], v) for k, v in d.items()} for d in design]


def _collect(
    out: Path,
    sweep: SweepFile,
    design: list[dict[str, Any]],
    todo: list,
    fresh: dict[str, pd.DataFrame],
) -> pd.DataFrame | None:
    """Write ``results.parquet``, ``summary.csv`` and ``design.csv``; return the results.

    Results of runs done now are taken from ``fresh``; the others are read from ``runs/``.
    """
    frames = []
    for i, r, key, _ in todo:
        f = out / "runs" / f"{key}.parquet"
        frame = fresh.get(key)
        if frame is None and f.exists():
            frame = pd.read_parquet(f)
        if frame is not None:
            frames.append(frame.assign(variant=i, replication=r, run_key=key))
    names = list(design[0]) if design else []
    table = pd.DataFrame(_shown(sweep, design)).assign(variant=range(len(design)))
    _write(out / "design.csv", lambda p: table.to_csv(p, index=False))
    if not frames:
        return None
    results = pd.concat(frames, ignore_index=True).merge(table, on="variant")
    cols = ["variant", "replication", *names, "scope", "code", "name", "kpi", "value", "run_key"]
    results = results[cols].sort_values(["variant", "replication"], kind="stable")
    _write(out / "results.parquet", lambda p: results.to_parquet(p, index=False))
    parts = []
    for v, g in results.groupby("variant"):
        s = summarize(g[["replication", "scope", "code", "name", "kpi", "value"]])
        parts.append(s.assign(variant=v))
    summary = pd.concat(parts, ignore_index=True).merge(table, on="variant")
    _write(out / "summary.csv", lambda p: summary.to_csv(p, index=False, float_format="%.6g"))
    return results
