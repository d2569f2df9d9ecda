"""``ruralsim run``: its arguments, the scenario with the command line's overrides, and the
headline KPIs printed after the run."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sim._cli_args import positive
from sim.errors import BuildError, ScenarioError, UsageError

#: Help of a scenario argument: a file, or the name of a shipped scenario.
SCENARIO_HELP = (
    "scenario YAML file, or the name of a shipped scenario, e.g. linyi_baseline "
    "(`ruralsim scenarios` lists them)"
)
#: Help of ``--overwrite``.
OVERWRITE_HELP = "replace an earlier output at --out (without it, an existing one is refused)"


def add_run_parser(
    sub: Any,
    add_overlay: Callable[[argparse.ArgumentParser], None],
    add_cache_dir: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add the ``run`` subcommand to the subparsers ``sub``."""
    r = sub.add_parser("run", help="run a scenario and write a run folder")
    r.add_argument("scenario", type=Path, help=SCENARIO_HELP)
    r.add_argument(
        "--out",
        required=True,
        help="run folder to write: new or empty (an earlier run only with --overwrite)",
    )
    r.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    r.add_argument("--replications", type=int, help="override the scenario's replications")
    r.add_argument("--seed", type=int, help="override the scenario's seed")
    r.add_argument("--no-figures", action="store_true", help="skip figures/*.png")
    r.add_argument("--quiet", action="store_true", help="no progress bar and no KPI table")
    r.add_argument(
        "--lang",
        choices=("en", "zh"),
        default="en",
        help="zh: each KPI of the printed table also by its Chinese name (default en)",
    )
    r.add_argument(
        "--workers",
        type=int,
        default=1,
        help="local processes running counties in parallel (default 1; same results)",
    )
    r.add_argument(
        "--max-memory",
        type=float,
        metavar="GIB",
        help="memory the run may use, GiB: with --workers, a county starts only while the "
        "estimated peaks of those running fit (a larger county runs alone); default 80%% of "
        "the memory available at the start",
    )
    r.add_argument(
        "--scheduler",
        help="run the counties on a Dask cluster at tcp://HOST:PORT (same results)",
    )
    r.add_argument(
        "--parcels",
        choices=("auto", "all", "sample", "none"),
        default="auto",
        help="parcels written to parcels.parquet: all, a 1-in-100 sample, none; auto (default) "
        "writes all up to 20 million expected parcels, the sample above",
    )
    add_overlay(r)
    add_cache_dir(r)


def scenario_of(
    path: Path,
    *,
    replications: int | None = None,
    seed: int | None = None,
    overlays: Sequence[Path] = (),
    sets: Sequence[str] = (),
):
    """The scenario of a file, with its overlays, ``--set`` changes and the command line's
    overrides."""
    from sim.load import load_scenario
    from sim.scenario import scenario_from_dict

    scenario = load_scenario(path, overlays=overlays, sets=sets)
    if replications is not None or seed is not None:
        data = scenario.model_dump(mode="json")
        if replications is not None:
            data["replications"] = replications
        if seed is not None:
            data["seed"] = seed
        scenario = scenario_from_dict(data, source=path)
    return scenario


def n_counties(scenario) -> int:
    """Counties of a scenario's region."""
    from sim.region import region_counties

    return len(region_counties(scenario))


@contextlib.contextmanager
def errors_of(path: Path, overlays: Sequence[Path] = ()) -> Iterator[None]:
    """Name the scenario file in build errors and in scenario errors found after loading
    (e.g. ``--replications`` making the run too large for memory)."""
    files = " with ".join(map(str, [path, *overlays]))
    try:
        yield
    except BuildError as exc:
        raise BuildError(f"{files}: {exc}") from None
    except ScenarioError as exc:
        if str(exc).startswith(tuple(str(p) for p in [path, *overlays])):
            raise
        raise ScenarioError(f"{files}: {exc}") from None


def load_world(
    path: Path,
    *,
    replications: int | None = None,
    seed: int | None = None,
    cache_dir: Path | None = None,
    quiet: bool = False,
    overlays: Sequence[Path] = (),
    sets: Sequence[str] = (),
):
    """Load a scenario and build its world, with a progress bar over its counties."""
    from tqdm import tqdm

    from sim.build import build

    scenario = scenario_of(path, replications=replications, seed=seed, overlays=overlays, sets=sets)
    n = n_counties(scenario)
    bar = tqdm(total=n, unit="county", desc="build", disable=quiet or n < 2 or None, leave=False)
    with bar, errors_of(path, overlays):
        world = build(scenario, cache_dir=cache_dir, progress=bar.update)
    return scenario, world


def _max_memory(gib: float | None) -> float | None:
    """``--max-memory`` in bytes; by default 80% of the memory available now (None if unknown)."""
    from sim.budget import available_memory_bytes

    if gib is None:
        free = available_memory_bytes()
        return None if free is None else 0.8 * free
    if not gib > 0:
        raise UsageError(f"--max-memory {gib:g}: give a number of GiB above 0, e.g. 4")
    return gib * 2**30


def run_command(args: argparse.Namespace) -> int:
    """``ruralsim run``: check the folder, run the scenario, print its headline KPIs."""
    from tqdm import tqdm

    from sim.measure import simulated_days
    from sim.outdir import prepare_run_out
    from sim.runfolder import stream_run

    positive("--replications", args.replications)
    positive("--seed", args.seed, allow_zero=True)
    positive("--workers", args.workers)
    max_memory = _max_memory(args.max_memory)
    earlier = prepare_run_out(args.out, overwrite=args.overwrite)
    replacing = (earlier / "manifest.json").is_file()
    start = time.perf_counter()
    scenario = scenario_of(
        args.scenario,
        replications=args.replications,
        seed=args.seed,
        overlays=args.overlay,
        sets=args.set,
    )
    total = simulated_days(scenario) * scenario.replications * n_counties(scenario)
    with (
        tqdm(
            total=total, unit="day", desc=scenario.name, disable=args.quiet or None, leave=False
        ) as bar,
        errors_of(args.scenario, args.overlay),
    ):
        run, tables = stream_run(
            args.out,
            scenario,
            parcels=args.parcels,
            workers=args.workers,
            scheduler=args.scheduler,
            cache_dir=args.cache_dir,
            progress=bar.update,
            figures=not args.no_figures,
            started=start,
            max_memory=max_memory,
        )
    print_warnings(run.world.warnings)
    if not args.quiet:
        print(_headline(tables, run.world, lang=args.lang))
        _print_why(tables, run.world.scenario)
    print(f"run folder: {args.out}  ({time.perf_counter() - start:.1f} s)")
    if replacing:
        print(f"  (it replaced the earlier run in {args.out}, its report and figures too)")
    return 0


def print_warnings(
    warnings: Sequence[str], *, stream=None, indent: str = "", limit: int | None = 8
) -> None:
    """Print build warnings, at most ``limit`` of them (the manifest keeps them all)."""
    stream = stream or sys.stderr
    shown = warnings if limit is None else warnings[:limit]
    for w in shown:
        print(f"{indent}warning: {w}", file=stream)
    if len(warnings) > len(shown):
        print(
            f"{indent}... and {len(warnings) - len(shown)} more warnings: see build_warnings in "
            "manifest.json, or `ruralsim validate --build SCENARIO`",
            file=stream,
        )


def _print_why(tables, scenario) -> None:
    """Print where the run's parcels were held up and which units miss the standards."""
    from sim.diagnose import explain
    from sim.measure import window_days

    why = explain(
        tables.summary,
        tables.coverage,
        days=window_days(scenario),
        max_lead_h=scenario.kpi.max_lead_time_h,
    )
    for line in why:
        print(f"why: {line}")


def _headline(tables, world, *, lang: str = "en") -> str:
    from sim.kpi import SUMMARY_KPIS, format_value
    from sim.labels import labels
    from sim.measure import drain_days, window_days

    words = labels(lang)
    s = tables.summary
    scope = "county" if len(world.counties) == 1 else "province"
    s = s[(s["scope"] == scope) & s["kpi"].isin(SUMMARY_KPIS)].set_index("kpi")
    synthetic = world.synthetic_layers()
    lines = [
        f"{world.scenario.name}: {world.label}, "
        f"{world.scenario.replications} replication(s), "
        f"parcels created in {window_days(world.scenario)} days after "
        f"{world.scenario.warmup_days} warm-up, followed for up to "
        f"{drain_days(world.scenario)} more days to their outcome",
        f"synthetic layers: {', '.join(synthetic)}",
        f"{'KPI':<26}{'mean':>12}   95% CI",
    ]
    for k in SUMMARY_KPIS:
        if k not in s.index:
            continue
        row = s.loc[k]
        ci = (
            "-"
            if math.isnan(row["ci95_low"])
            else f"[{format_value(row['ci95_low'])}, {format_value(row['ci95_high'])}]"
        )
        mean = "unknown" if math.isnan(row["mean"]) else format_value(row["mean"])
        name = "" if lang == "en" else f"   {words(k)}"
        lines.append(f"{k:<26}{mean:>12}   {ci}{name}")
    return "\n".join(lines)
