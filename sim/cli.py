"""The ``ruralsim`` command line: a thin shell over the library.

Every user error ends in one message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim._cli_args import Parser as _Parser
from sim._cli_bench import add_benchmark_parser, benchmark_command
from sim._cli_export import add_export_parser, export_command
from sim._cli_geodata import geodata_command as _geodata
from sim._cli_new import add_new_parser, new_command
from sim._cli_optimise import add_optimise_parser, optimise_command
from sim._cli_run import SCENARIO_HELP, add_run_parser, load_world, run_command
from sim._cli_run import print_warnings as _print_warnings
from sim._cli_site import add_site_parser, site_command
from sim._cli_sweep import MAX_RUNS_UNASKED
from sim._cli_sweep import sweep_command as _sweep
from sim._cli_validate import BUILD_HELP, DESCRIPTION, headline, validate_fast
from sim._shipped import resolve_file
from sim.errors import SimError


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
    add_run_parser(sub, _add_overlay, _add_cache_dir)

    _add_validate(sub)
    _add_sweep(sub)
    add_optimise_parser(sub)
    _add_report_and_compare(sub)
    _add_geodata(sub)
    add_benchmark_parser(sub, _add_cache_dir)
    add_site_parser(sub, _add_cache_dir)
    add_export_parser(sub)
    add_new_parser(sub)
    return p


def _add_validate(sub: Any) -> None:
    """The validate, schema and scenarios commands."""
    v = sub.add_parser(
        "validate",
        help="check a scenario file: schema, codes and run size (fast); --build also plans it",
        description=DESCRIPTION,
    )
    v.add_argument("scenario", type=Path, help=SCENARIO_HELP)
    _add_overlay(v)
    v.add_argument("--build", action="store_true", help=BUILD_HELP)
    _add_cache_dir(v)

    sub.add_parser("schema", help="print the JSON Schema of scenario files")
    sub.add_parser(
        "scenarios", help="list the shipped scenarios, sweeps and optimise files, by name"
    )


def _add_sweep(sub: Any) -> None:
    """The sweep command."""
    sw = sub.add_parser(
        "sweep",
        help="run a parameter sweep (grid, Latin hypercube, Sobol or Morris) with replications",
    )
    sw.add_argument(
        "sweep",
        type=Path,
        help="sweep YAML file, or the name of a shipped one, e.g. linxian_network",
    )
    sw.add_argument(
        "--out",
        required=True,
        help="sweep folder: new, empty, or that of an earlier sweep of this file, to resume",
    )
    sw.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the folder of a sweep of another file (without it, it is refused; a "
        "sweep of the same file resumes)",
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


def _add_report_and_compare(sub: Any) -> None:
    """The report and compare commands."""
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


def _add_geodata(sub: Any) -> None:
    """The geodata command and its show, check, fetch and import."""
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
    if args.command in ("run", "validate", "site") or (
        args.command == "benchmark" and args.scenario is not None
    ):
        args.scenario = resolve_file(args.scenario)
    if args.command == "run":
        return run_command(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "scenarios":
        from sim._shipped import listing

        print(listing())
        return 0
    if args.command == "schema":
        from sim.scenario import scenario_json_schema

        print(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "geodata":
        return _geodata(args)
    if args.command == "sweep":
        args.sweep = resolve_file(args.sweep, kind="sweep")
        return _sweep(args)
    if args.command == "optimise":
        args.file = resolve_file(args.file, kind="optimise")
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
        return site_command(args, load_world)
    if args.command == "export":
        return export_command(args)
    if args.command == "new":
        return new_command(args)
    raise AssertionError(args.command)


def _validate(args: argparse.Namespace) -> int:
    if not args.build:
        lines = validate_fast(
            args.scenario, cache_dir=args.cache_dir, overlays=args.overlay, sets=args.set
        )
        print("\n".join(lines))
        return 0
    scenario, world = load_world(
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


if __name__ == "__main__":
    sys.exit(main())
