"""The ``ruralsim`` command line: a thin shell over the library.

Every user error ends in one message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sim._cli_args import positive as _positive
from sim._cli_bench import add_benchmark_parser, benchmark_command
from sim._cli_export import add_export_parser, export_command
from sim._cli_geodata import geodata_command as _geodata
from sim._cli_new import add_new_parser, new_command
from sim._cli_optimise import add_optimise_parser, optimise_command
from sim._cli_site import add_site_parser, site_command
from sim._cli_sweep import MAX_RUNS_UNASKED
from sim._cli_sweep import sweep_command as _sweep
from sim._cli_validate import BUILD_HELP, DESCRIPTION, headline, validate_fast
from sim.errors import BuildError, ScenarioError, SimError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {_did_you_mean(message)} (see `{self.prog} --help`)")


def _did_you_mean(message: str) -> str:
    """argparse's message about an unknown choice, with the closest valid one suggested."""
    import difflib
    import re

    m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if not m:
        return message
    choices = re.findall(r"'([^']*)'", m.group(2))
    close = difflib.get_close_matches(m.group(1), choices, n=1)
    return message + (f"; did you mean '{close[0]}'?" if close else "")


def _version() -> str:
    from sim import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="ruralsim",
        description="Simulate rural e-commerce parcel logistics in Shanxi province.",
    )
    p.add_argument("--version", action="version", version=f"ruralsim {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run a scenario and write a run folder")
    r.add_argument("scenario", type=Path, help="scenario YAML file")
    r.add_argument(
        "--out",
        required=True,
        help="run folder to write: new, empty, or an earlier run to replace",
    )
    r.add_argument("--replications", type=int, help="override the scenario's replications")
    r.add_argument("--seed", type=int, help="override the scenario's seed")
    r.add_argument("--no-figures", action="store_true", help="skip figures/*.png")
    r.add_argument("--quiet", action="store_true", help="no progress bar and no KPI table")
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
    _add_overlay(r)
    _add_cache_dir(r)

    v = sub.add_parser(
        "validate",
        help="check a scenario file: schema, codes and run size (fast); --build also plans it",
        description=DESCRIPTION,
    )
    v.add_argument("scenario", type=Path, help="scenario YAML file")
    _add_overlay(v)
    v.add_argument("--build", action="store_true", help=BUILD_HELP)
    _add_cache_dir(v)

    sub.add_parser("schema", help="print the JSON Schema of scenario files")

    sw = sub.add_parser(
        "sweep",
        help="run a parameter sweep (grid, Latin hypercube, Sobol or Morris) with replications",
    )
    sw.add_argument("sweep", type=Path, help="sweep YAML file")
    sw.add_argument(
        "--out", required=True, help="sweep folder: new, empty, or an earlier sweep to resume"
    )
    sw.add_argument(
        "--backend",
        choices=["serial", "processes", "dask"],
        help="serial, local processes (default, one per core), or dask (implied by --scheduler)",
    )
    sw.add_argument(
        "--scheduler", help="Dask distributed scheduler, tcp://HOST:PORT, to run on a cluster"
    )
    sw.add_argument("--workers", type=int, help="processes to use (default: the cores)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.add_argument(
        "--dry-run",
        action="store_true",
        help="print the number of variants and runs and an estimated time, and run nothing",
    )
    sw.add_argument(
        "--yes",
        action="store_true",
        help=f"run a sweep of more than {MAX_RUNS_UNASKED} runs (without it, such a sweep stops "
        "and says how many runs it has)",
    )

    add_optimise_parser(sub)

    rep = sub.add_parser(
        "report", help="one self-contained, interactive report.html of a run or sweep folder"
    )
    rep.add_argument("folder", type=Path, help="run folder or sweep folder")
    rep.add_argument(
        "--lang",
        choices=["en", "zh"],
        default="en",
        help="language of the report's labels, headings, KPI names and reasons (default en)",
    )

    cmp_ = sub.add_parser(
        "compare", help="KPIs of run folders side by side, with significance of differences"
    )
    cmp_.add_argument("runs", type=Path, nargs="+", help="run folders; the first is the reference")
    cmp_.add_argument(
        "--scope",
        default="province",
        choices=["province", "county", "township", "village", "carrier"],
        help="KPI scope (default province: the whole region of each run)",
    )
    cmp_.add_argument("--code", help="unit or carrier within the scope, when it has several")

    g = sub.add_parser(
        "geodata", help="inspect Shanxi geodata; fetch or import OpenStreetMap roads"
    )
    gsub = g.add_subparsers(dest="geodata_command", required=True, parser_class=_Parser)
    show = gsub.add_parser(
        "show", help="print a unit and its children, with the source of each layer"
    )
    show.add_argument("code", help="statistical code, e.g. 140821 (临猗县) or 1411 or 14")
    check = gsub.add_parser(
        "check", help="data-quality report: real vs synthetic, matches, snapping, connectors"
    )
    check.add_argument("code", help="county, prefecture or province code")
    check.add_argument("--seed", type=int, default=0, help="seed of the synthetic layers (0)")
    check.add_argument(
        "--terrain",
        choices=["plains", "hills", "mountain"],
        default="plains",
        help="terrain for road speeds (plains)",
    )
    fetch = gsub.add_parser(
        "fetch", help="download a county's OpenStreetMap roads and places (needs internet)"
    )
    fetch.add_argument("code", help="county, prefecture or province code")
    fetch.add_argument(
        "--overpass-url",
        help="Overpass API endpoint (the default server is slow from mainland China; use a mirror)",
    )
    fetch.add_argument("--buffer-m", type=float, default=2000.0, help="buffer around the county")
    fetch.add_argument("--timeout", type=int, default=180, help="seconds per request (180)")
    fetch.add_argument("--retries", type=int, default=3, help="attempts per request (3)")
    fetch.add_argument("--force", action="store_true", help="download even if cached")
    imp = gsub.add_parser(
        "import", help="cut an OSM extract (.osm.pbf or .osm) into counties and cache them"
    )
    imp.add_argument("file", type=Path, help="OSM extract, e.g. a Geofabrik China .osm.pbf")
    imp.add_argument(
        "--counties", default="14", help="county, prefecture or province code (default 14: all)"
    )
    imp.add_argument("--buffer-m", type=float, default=2000.0, help="buffer around a county")
    for p_ in (show, check, fetch, imp):
        _add_cache_dir(p_)

    add_benchmark_parser(sub, _add_cache_dir)
    add_site_parser(sub, _add_cache_dir)
    add_export_parser(sub)
    add_new_parser(sub)
    return p


def _add_overlay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one scenario field, validated as the file is, e.g. --set "
        "schedules.visits_per_week=5 or --set 'schedules.village_departures=[\"08:30\"]' "
        "(repeatable; laid over the file and any --overlay)",
    )
    parser.add_argument(
        "--overlay",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="partial scenario YAML deep-merged into the scenario before validation, e.g. "
        "from `ruralsim site` (repeatable, later ones win; lists replace lists)",
    )


def _add_cache_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="OpenStreetMap cache (default $RURALSIM_CACHE or ~/.cache/ruralsim)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        args = _parser().parse_args(argv)
        return _dispatch(args)
    except SimError as exc:
        print(f"ruralsim: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except BrokenPipeError:  # e.g. `ruralsim geodata show 14 | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("ruralsim: interrupted", file=sys.stderr)
        return 130
    except MemoryError:  # numpy's _ArrayMemoryError too: one message, never a traceback
        print(
            "ruralsim: error: out of memory: the run needs more memory than this machine has "
            "free; lower the demand, horizon_days or replications, or run fewer counties",
            file=sys.stderr,
        )
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "schema":
        from sim.scenario import scenario_json_schema

        print(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "geodata":
        return _geodata(args)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "optimise":
        return optimise_command(args)
    if args.command == "report":
        from sim.outdir import tidy_leftovers
        from sim.report import write_report

        tidy_leftovers(args.folder)
        print(f"report: {write_report(args.folder, lang=args.lang)}")
        return 0
    if args.command == "compare":
        from sim.compare import compare_runs, format_comparison
        from sim.outdir import tidy_leftovers

        for folder in args.runs:
            tidy_leftovers(folder)
        print(format_comparison(compare_runs(args.runs, scope=args.scope, code=args.code)))
        return 0
    if args.command == "benchmark":
        return benchmark_command(args)
    if args.command == "site":
        return site_command(args, _load)
    if args.command == "export":
        return export_command(args)
    if args.command == "new":
        return new_command(args)
    raise AssertionError(args.command)


def _scenario(
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


def _n_counties(scenario) -> int:
    from sim.region import region_counties

    return len(region_counties(scenario))


@contextlib.contextmanager
def _errors_of(path: Path, overlays: Sequence[Path] = ()) -> Iterator[None]:
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


def _load(
    path: Path,
    *,
    replications: int | None = None,
    seed: int | None = None,
    cache_dir: Path | None = None,
    quiet: bool = False,
    overlays: Sequence[Path] = (),
    sets: Sequence[str] = (),
):
    from tqdm import tqdm

    from sim.build import build

    scenario = _scenario(path, replications=replications, seed=seed, overlays=overlays, sets=sets)
    n = _n_counties(scenario)
    bar = tqdm(total=n, unit="county", desc="build", disable=quiet or n < 2 or None, leave=False)
    with bar, _errors_of(path, overlays):
        world = build(scenario, cache_dir=cache_dir, progress=bar.update)
    return scenario, world


def _validate(args: argparse.Namespace) -> int:
    if not args.build:
        lines = validate_fast(
            args.scenario, cache_dir=args.cache_dir, overlays=args.overlay, sets=args.set
        )
        print("\n".join(lines))
        return 0
    scenario, world = _load(
        args.scenario, cache_dir=args.cache_dir, overlays=args.overlay, sets=args.set
    )
    cs = world.counties
    n_town, n_vil = sum(c.n_townships for c in cs), sum(c.n_villages for c in cs)
    print(
        f"{headline(args.scenario, scenario, world.label, n_town, n_vil, args.overlay)}, "
        f"{sum(len(c.shuttles) for c in cs)} shuttles, "
        f"{sum(len(c.village_vehicles) for c in cs)} village vehicles"
    )
    _print_warnings(world.warnings, stream=sys.stdout, indent="  ", limit=None)
    return 0


def _max_memory(gib: float | None) -> float | None:
    """``--max-memory`` in bytes; by default 80% of the memory available now (None if unknown)."""
    from sim.budget import available_memory_bytes

    if gib is None:
        free = available_memory_bytes()
        return None if free is None else 0.8 * free
    if not gib > 0:
        raise UsageError(f"--max-memory {gib:g}: give a number of GiB above 0, e.g. 4")
    return gib * 2**30


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim.measure import simulated_days
    from sim.runfolder import check_out_dir, stream_run

    _positive("--replications", args.replications)
    _positive("--seed", args.seed, allow_zero=True)
    _positive("--workers", args.workers)
    max_memory = _max_memory(args.max_memory)
    earlier = check_out_dir(args.out)
    replacing = (earlier / "manifest.json").is_file()
    start = time.perf_counter()
    scenario = _scenario(
        args.scenario,
        replications=args.replications,
        seed=args.seed,
        overlays=args.overlay,
        sets=args.set,
    )
    total = simulated_days(scenario) * scenario.replications * _n_counties(scenario)
    with (
        tqdm(
            total=total, unit="day", desc=scenario.name, disable=args.quiet or None, leave=False
        ) as bar,
        _errors_of(args.scenario, args.overlay),
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
    _print_warnings(run.world.warnings)
    if not args.quiet:
        print(_headline(tables, run.world))
        _print_why(tables, run.world.scenario)
    print(f"run folder: {args.out}  ({time.perf_counter() - start:.1f} s)")
    if replacing:
        print(f"  (it replaced the earlier run in {args.out}, its report and figures too)")
    return 0


def _print_warnings(
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


def _headline(tables, world) -> str:
    from sim.kpi import SUMMARY_KPIS, format_value
    from sim.measure import drain_days, window_days

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
        lines.append(f"{k:<26}{mean:>12}   {ci}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
