"""Parameter sweeps: ``ruralsim sweep FILE --out DIR``.

A sweep file names a base scenario, factors (any scenario field by its dotted path), a design
(full grid, or a Latin hypercube over ranges) and replications. Each (variant, replication) is
one run, keyed by a hash of the resolved scenario, the replication and the code version; its
KPIs are written to ``DIR/runs/<key>.parquet`` as soon as it finishes, so a killed sweep rerun
with the same ``--out`` skips what is done. Replication r of every variant uses the same random
numbers (common random numbers), and results do not depend on the backend or the number of
workers. A failed run is recorded in ``DIR/runs/<key>.error.txt`` and does not stop the sweep.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.stats import qmc

from sim.errors import ScenarioError, SimError, UsageError
from sim.kpi import summarize

#: KPI scopes kept in sweep results (villages and townships would multiply the table).
KEPT_SCOPES = ("province", "county", "carrier")


class Factor(BaseModel):
    """One swept scenario field: a list of values (grid) or a range (Latin hypercube)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    path: str = Field(
        description="dotted path of a scenario field, e.g. fleet.township_default.van"
    )
    values: list[Any] | None = Field(None, min_length=1, description="values (grid design)")
    low: float | None = Field(None, description="lower bound (Latin hypercube)")
    high: float | None = Field(None, description="upper bound (Latin hypercube)")
    integer: bool = Field(False, description="round sampled values to whole numbers")

    @model_validator(mode="after")
    def _one_kind(self) -> Factor:
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValueError(f"factor {self.path}: give either values or low and high")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"factor {self.path}: low must be below high")
        return self


class SweepFile(BaseModel):
    """A sweep: base scenario, factors, design and replications."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    base: str = Field(description="base scenario file, relative to the sweep file")
    design: Literal["grid", "lhs", "sobol", "morris"] = Field(
        "grid",
        description="full grid, Latin hypercube, or the Sobol (Saltelli) and Morris designs "
        "of SALib, whose sensitivity indices are computed at the end",
    )
    samples: int = Field(
        10,
        gt=0,
        le=10_000,
        description="lhs: variants; sobol: base samples N (N x (D + 2) variants); morris: "
        "trajectories (trajectories x (D + 1) variants)",
    )
    seed: int = Field(0, ge=0, description="seed of the sampled designs")
    outputs: list[str] = Field(
        default_factory=lambda: ["village_express_coverage", "cost_per_parcel_yuan"],
        min_length=1,
        description="province-scope KPIs whose sensitivity indices are computed",
    )
    replications: int | None = Field(
        None, gt=0, le=1000, description="replications per variant (default: the base's)"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="fixed changes to the base, by dotted path"
    )
    factors: list[Factor] = Field(min_length=1, description="the swept fields")

    @model_validator(mode="after")
    def _design_fits(self) -> SweepFile:
        for f in self.factors:
            if self.design == "grid" and f.values is None:
                raise ValueError(f"factor {f.path}: a grid design needs values")
            if self.design != "grid" and f.values is not None:
                raise ValueError(f"factor {f.path}: a {self.design} design needs low and high")
        return self


def load_sweep(path: str | Path) -> tuple[SweepFile, dict[str, Any]]:
    """Load a sweep file and its base scenario (as plain data, defaults filled in)."""
    from sim import _yaml
    from sim.scenario import load_scenario

    path = Path(path)
    data, _ = _yaml.load_with_lines(path)
    try:
        sweep = SweepFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise ScenarioError(f"{path}: {where}: {first['msg']}") from None
    base = load_scenario(path.parent / sweep.base).model_dump(mode="json")
    return sweep, base


def _set(data: dict[str, Any], path: str, value: Any, source: Path) -> None:
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        if not isinstance(node, dict) or k not in node:
            raise ScenarioError(f"{source}: factor path {path}: no field {k!r} in the scenario")
        node = node[k]
    if not isinstance(node, dict):
        raise ScenarioError(f"{source}: factor path {path}: {keys[-2]} is not a section")
    node[keys[-1]] = value


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


def resolve(
    sweep: SweepFile, base: dict[str, Any], variant: dict[str, Any], source: Path
) -> dict[str, Any]:
    """The full scenario data of a variant, validated."""
    from sim.scenario import scenario_from_dict

    data = json.loads(json.dumps(base))
    for path, value in {**sweep.overrides, **variant}.items():
        _set(data, path, value, source)
    if sweep.replications is not None:
        data["replications"] = sweep.replications
    return scenario_from_dict(data, source=f"{source} (variant {variant})").model_dump(mode="json")


def run_key(scenario: dict[str, Any], replication: int) -> str:
    """Key of one run: hash of the resolved scenario, the replication and the code version."""
    from sim import __version__

    text = json.dumps([scenario, replication, __version__], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _one(scenario: dict[str, Any], replication: int) -> pd.DataFrame:
    """Build and run one replication of a resolved scenario; its KPIs (kept scopes)."""
    from sim.build import build
    from sim.engine import run
    from sim.kpi import compute_kpis
    from sim.scenario import scenario_from_dict

    sc = scenario_from_dict(scenario)
    kpis = compute_kpis(run(build(sc), only=replication))
    return kpis[kpis["scope"].isin(KEPT_SCOPES)].reset_index(drop=True)


def _write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def run_sweep(
    path: str | Path,
    out: str | Path,
    *,
    backend: Literal["serial", "processes", "dask"] = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    status: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Run (or resume) a sweep; return counts of runs done now, skipped and failed.

    ``backend="dask"`` submits the runs to the Dask distributed scheduler at ``scheduler``
    (``tcp://host:8786``), whose workers need ruralsim installed. Writes
    ``runs/<key>.parquet`` per run, then ``results.parquet`` (variant, replication,
    factor values, scope, code, name, kpi, value), ``summary.csv`` (mean and 95% CI per
    variant) and ``design.csv`` (the variants).
    """
    source = Path(path)
    sweep, base = load_sweep(source)
    out = Path(out)
    runs_dir = out / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None
    design = variants(sweep)
    scenarios = [resolve(sweep, base, v, source) for v in design]
    todo = []
    for i, sc in enumerate(scenarios):
        for r in range(sc["replications"]):
            key = run_key(sc, r)
            todo.append((i, r, key, sc))
    pending = [t for t in todo if not (runs_dir / f"{t[2]}.parquet").exists()]
    counts = {"done": 0, "skipped": len(todo) - len(pending), "failed": 0}
    if progress is not None and counts["skipped"]:
        progress(counts["skipped"])

    def finish(key: str, result: pd.DataFrame | BaseException) -> None:
        if isinstance(result, BaseException):
            (runs_dir / f"{key}.error.txt").write_text(repr(result) + "\n", encoding="utf-8")
            counts["failed"] += 1
        else:
            _write(runs_dir / f"{key}.parquet", lambda p: result.to_parquet(p, index=False))
            err = runs_dir / f"{key}.error.txt"
            if err.exists():
                err.unlink()
            counts["done"] += 1
        if progress is not None:
            progress(1)
        if status is not None:
            status(counts)

    if backend == "dask":
        _run_dask(pending, scheduler, finish)
    elif backend == "serial" or len(pending) <= 1:
        for _, r, key, sc in pending:
            try:
                finish(key, _one(sc, r))
            except (SimError, ValueError, RuntimeError) as exc:
                finish(key, exc)
    else:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            futures = {pool.submit(_one, sc, r): key for _, r, key, sc in pending}
            for fut in as_completed(futures):
                try:
                    finish(futures[fut], fut.result())
                except Exception as exc:  # a failed run is recorded, the sweep goes on
                    finish(futures[fut], exc)
    results = _collect(out, design, todo)
    if sweep.design in ("sobol", "morris") and results is not None:
        indices = sensitivity(sweep, results)
        _write(
            out / "sensitivity.csv", lambda p: indices.to_csv(p, index=False, float_format="%.6g")
        )
    return counts


def _run_dask(pending: list, scheduler: str | None, finish: Callable) -> None:
    """Run on a Dask distributed cluster; each result is written as it arrives."""
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise UsageError(
            "--scheduler needs dask.distributed: pip install 'dask[distributed]'"
        ) from None
    if not scheduler:
        raise UsageError("--backend dask needs --scheduler tcp://HOST:PORT")
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        futures = {client.submit(_one, sc, r, pure=False): key for _, r, key, sc in pending}
        for fut in dask_completed(list(futures)):
            try:
                finish(futures[fut], fut.result())
            except Exception as exc:  # a failed run is recorded, the sweep goes on
                finish(futures[fut], exc)
    finally:
        client.close()


def _collect(out: Path, design: list[dict[str, Any]], todo: list) -> pd.DataFrame | None:
    frames = []
    for i, r, key, _ in todo:
        f = out / "runs" / f"{key}.parquet"
        if f.exists():
            frames.append(pd.read_parquet(f).assign(variant=i, replication=r, run_key=key))
    names = list(design[0]) if design else []
    table = pd.DataFrame(design).assign(variant=range(len(design)))
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
